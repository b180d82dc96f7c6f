// The site's one header: skip link, brand, menu toggle and navigation list, rendered at the top of every
// signed-in page (the pages' HTML holds only their own <main>), the current page marked, the mobile menu
// toggle (Escape closes it), log out. Pages without an account (c.html, the share link) take the plain
// header: the brand alone.
import { api } from './api.js';
import { el } from './util.js';

/** Every page's nav, with hrefs relative to the site's root (the folder above js/). */
export const NAV_ITEMS = [
  { href: 'sessions.html', text: 'Sessions' },
  { href: 'sessions.html#new', text: 'New' },
  { href: 'analytics.html', text: 'Progress' },
  { href: 'profile.html', text: 'Profile' },
  { href: 'billing.html', text: 'Billing' },
  { href: 'troubleshoot.html', text: 'Troubleshoot' },
  { href: 'recruit/index.html', text: 'Recruiting', nav: 'recruiting' },
  { href: 'recruit/settings.html', text: 'Org settings', nav: 'recruit-settings', recruitOnly: true },
  { href: 'links.html', text: 'Links' },
];

const ROOT = new URL('../', import.meta.url);

/** "" on a top-level page, "../" on recruit/…: the way from this page back to the site's root. */
export function rootPrefix() {
  const rel = location.pathname.startsWith(ROOT.pathname) ? location.pathname.slice(ROOT.pathname.length) : '';
  return '../'.repeat(Math.max(0, rel.split('/').length - 1));
}

function inRecruit() {
  return location.pathname.startsWith(`${ROOT.pathname}recruit/`);
}

/**
 * Put the skip link and the site header first in <body> (unless the page has its own .site-header).
 * nav=false: the brand alone, as text (no links into the signed-in site); brandId names it for the page.
 */
export function renderHeader({ nav = true, brand = 'Interview Room', brandId } = {}) {
  if (document.querySelector('.site-header')) return;
  const skip = el('a', { class: 'skip-link', href: '#main', text: 'Skip to content' });
  const header = nav
    ? el('header', { class: 'site-header' },
      el('a', { class: 'brand', href: `${rootPrefix()}sessions.html`, text: brand }),
      el('button', {
        class: 'nav-toggle', type: 'button', 'aria-expanded': 'false', 'aria-controls': 'site-nav', text: 'Menu',
      }),
      el('nav', { id: 'site-nav', class: 'site-nav', 'aria-label': 'Main' }))
    : el('header', { class: 'site-header' }, el('span', { class: 'brand', id: brandId, text: brand }));
  document.body.prepend(skip, header);
}

function renderNav(nav) {
  const prefix = rootPrefix();
  const items = NAV_ITEMS.filter((item) => !item.recruitOnly || inRecruit()).map((item) => {
    const a = document.createElement('a');
    a.href = prefix + item.href;
    a.textContent = item.text;
    if (item.nav) a.dataset.nav = item.nav;
    const li = document.createElement('li');
    li.append(a);
    return li;
  });
  const logout = document.createElement('button');
  logout.type = 'button';
  logout.className = 'link-button';
  logout.dataset.action = 'logout';
  logout.textContent = 'Log out';
  const li = document.createElement('li');
  li.append(logout);
  const list = document.createElement('ul');
  list.append(...items, li);
  nav.replaceChildren(list);
}

function markCurrent() {
  for (const link of document.querySelectorAll('.site-nav a')) {
    const [, hash] = link.getAttribute('href').split('#');
    const samePage = link.pathname === location.pathname
      || (link.pathname.endsWith('/index.html') && location.pathname === link.pathname.slice(0, -'index.html'.length));
    const current = samePage && (hash ? location.hash === `#${hash}` : location.hash !== '#new');
    if (current) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

export function initNav() {
  renderHeader();
  const nav = document.getElementById('site-nav');
  if (nav) renderNav(nav);
  markCurrent();
  window.addEventListener('hashchange', markCurrent);

  const toggle = document.querySelector('.nav-toggle');
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
  } catch { /* the server clears the cookie; nothing is kept here */ }
  location.assign(`${rootPrefix()}index.html`);
}
