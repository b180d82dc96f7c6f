// Links page: the shared header, and the source code and support links this server is configured with
// (GET /api/config {links: {source_url?, support_email?}}); a link the server does not set stays hidden.
import { api } from './api.js';
import { initNav } from './nav.js';
import { $ } from './util.js';

initNav();

(async () => {
  let links = {};
  try {
    links = (await api('/api/config'))?.links || {};
  } catch { /* offline or signed out: the configured links stay hidden */ }
  const source = typeof links.source_url === 'string' && /^https?:\/\//.test(links.source_url) ? links.source_url : '';
  if (source) {
    $('#source-link').href = source;
    $('#source-link').textContent = /github\.com/i.test(source) ? 'Source code on GitHub' : 'Source code';
    $('#source-item').hidden = false;
  }
  const support = typeof links.support_email === 'string' && links.support_email.includes('@') ? links.support_email : '';
  if (support) {
    $('#support-link').href = `mailto:${support}`;
    $('#support-link').textContent = support;
    $('#support-item').hidden = false;
  }
  document.body.dataset.linksLoaded = 'true';
})();
