// Shared header: marks the current page, mobile menu toggle, log out.
import { api, clearToken } from './api.js';

function markCurrent() {
  const page = location.pathname.split('/').pop() || 'index.html';
  for (const link of document.querySelectorAll('.site-nav a')) {
    const [file, hash] = link.getAttribute('href').split('#');
    const current = file === page && (hash ? location.hash === `#${hash}` : location.hash !== '#new');
    if (current) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

/** The recruiter pages' entry, added to every page's nav (pages under recruit/ carry it themselves). */
function addRecruitingLink() {
  const list = document.querySelector('#site-nav ul');
  if (!list || list.querySelector('[data-nav=recruiting]')) return;
  const item = document.createElement('li');
  item.innerHTML = '<a href="recruit/index.html" data-nav="recruiting">Recruiting</a>';
  list.insertBefore(item, list.querySelector('a[href="links.html"]')?.parentElement || null);
}

export function initNav() {
  addRecruitingLink();
  markCurrent();
  window.addEventListener('hashchange', markCurrent);

  const toggle = document.querySelector('.nav-toggle');
  const nav = document.getElementById('site-nav');
  toggle?.addEventListener('click', () => {
    const open = toggle.getAttribute('aria-expanded') !== 'true';
    toggle.setAttribute('aria-expanded', String(open));
    nav.classList.toggle('open', open);
  });
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && nav?.classList.contains('open')) {
      nav.classList.remove('open');
      toggle.setAttribute('aria-expanded', 'false');
      toggle.focus();
    }
  });

  for (const button of document.querySelectorAll('[data-action=logout]')) {
    button.addEventListener('click', logout);
  }
}

export async function logout() {
  try {
    await api('/api/auth/logout', { method: 'POST', redirectOn401: false });
  } catch { /* logged out locally either way */ }
  clearToken();
  location.assign('index.html');
}
