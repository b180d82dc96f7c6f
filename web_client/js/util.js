// Small helpers shared by the pages: element builders, lookups, time formats, languages.

/** elIn(doc, 'p', {class: 'x', dataset: {id: 1}, text: 'hi'}, child, ...): an element in `doc` (this page's or its pop-out window's). */
export function elIn(doc, tag, attrs = {}, ...children) {
  const node = doc.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(typeof child === 'object' && child.nodeType ? child : String(child)); // a Node of any window
  }
  return node;
}

/** el('p', {class: 'x', dataset: {id: 1}, text: 'hi'}, child, ...) in this page's document. */
export function el(tag, attrs = {}, ...children) {
  return elIn(document, tag, attrs, ...children);
}

/** make(doc, 'p', 'caption', 'text'): a plain element with a class and text, in `doc`. */
export function make(doc, tag, className, text) {
  return elIn(doc, tag, { class: className || undefined }, text);
}

export const $ = (sel, root = document) => root.querySelector(sel);

export function param(name) {
  return new URLSearchParams(location.search).get(name);
}

/** 75 → "1:15", 3725 → "1:02:05" */
export function clock(totalSeconds) {
  const s = Math.max(0, Math.floor(Number(totalSeconds) || 0));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${String(m).padStart(2, '0')}:${sec}`;
}

/** A countdown: 75 → "1:15", 600 → "10:00" (minutes only, not padded). */
export function mmss(totalSeconds) {
  const s = Math.max(0, Math.floor(Number(totalSeconds) || 0));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/** 5400 → "1 h 30 min", 95 → "1 min 35 s", null → "—" */
export function duration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(Number(seconds))) return '—';
  const s = Math.max(0, Math.round(Number(seconds)));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (h) return m ? `${h} h ${m} min` : `${h} h`;
  if (m) return sec && m < 10 ? `${m} min ${sec} s` : `${m} min`;
  return `${sec} s`;
}

export function dateTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

export function scoreClass(score) {
  const n = Number(score);
  if (n >= 75) return 'good';
  if (n >= 50) return 'fair';
  return 'low';
}

export const LANGUAGE_CODES = [
  'en', 'es', 'fr', 'de', 'it', 'pt', 'nl', 'pl', 'ru', 'uk', 'tr', 'ar', 'he', 'fa', 'hi', 'bn', 'ur',
  'zh', 'ja', 'ko', 'vi', 'th', 'id', 'ms', 'sv', 'da', 'no', 'fi', 'cs', 'sk', 'el', 'ro', 'hu', 'bg',
];

let names = null;
export function languageName(code) {
  if (!code) return '—';
  if (code === 'auto') return 'Auto-detect';
  try {
    names ??= new Intl.DisplayNames(['en'], { type: 'language' });
    return names.of(code) || code;
  } catch {
    return code;
  }
}

/** Fill a <select> with languages (optionally "auto" first) and select `value`. */
export function fillLanguages(select, { auto = false, value } = {}) {
  select.replaceChildren();
  const codes = auto ? ['auto', ...LANGUAGE_CODES] : LANGUAGE_CODES;
  for (const code of codes) select.append(el('option', { value: code, text: languageName(code) }));
  if (value) setSelect(select, value);
}

/** Select `value`, adding an option for it if the list lacks it. */
export function setSelect(select, value) {
  if (value === undefined || value === null || value === '') return;
  if (![...select.options].some((o) => o.value === value)) {
    select.append(el('option', { value, text: languageName(value) }));
  }
  select.value = value;
}

export const MODE_NAMES = { assistant: 'Live assistant', mock: 'Mock interview' };
export const modeName = (m) => MODE_NAMES[m] || m || '—';
