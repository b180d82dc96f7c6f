// Session history (paged, newest first) and the "New session" form.
import { api, errorMessage } from './api.js';
import { clearErrors, showError, setBusy, formValues } from './forms.js';
import { initNav } from './nav.js';
import { $, el, dateTime, duration, fillLanguages, languageName, modeName, scoreClass, setSelect } from './util.js';

initNav();

// ---------- list ----------
const list = $('#session-list');
const status = $('#list-status');
const more = $('#load-more');
let next = null;

function sessionItem(s) {
  const ended = s.status === 'ended' || Boolean(s.ended_at);
  // the one session score (docs/scores.md): a mock interview's report score, else the mean answer score
  const hasReport = typeof s.report_score === 'number';
  const raw = s.score ?? (hasReport ? s.report_score : s.average_score);
  const score = raw === null || raw === undefined ? null : Math.round(Number(raw));
  const scoreName = 'Score';
  const langs = `${languageName(s.listen_language)} → ${languageName(s.answer_language)}`;
  return el('li', { class: 'card session-item', dataset: { id: s.id } },
    el('div', {},
      el('h3', {}, el('a', { href: `session.html?id=${encodeURIComponent(s.id)}`, text: s.title || 'Untitled session' })),
      el('ul', { class: 'meta' },
        el('li', {}, el('time', { datetime: s.started_at || s.created_at, text: dateTime(s.started_at || s.created_at) })),
        el('li', { text: `Duration ${duration(s.duration_seconds)}` }),
        el('li', { text: modeName(s.mode) }),
        el('li', { text: langs }),
        el('li', { text: `Credits used ${duration(s.credits_seconds)}` }),
        !ended && el('li', {}, el('span', { class: 'badge info', text: s.status === 'live' ? 'Live' : 'Not started' })),
      ),
    ),
    el('div', {},
      score === null
        ? el('span', { class: 'score-badge', 'aria-label': 'No score yet', text: '—' })
        : el('span', { class: `score-badge ${scoreClass(score)}`, 'aria-label': `${scoreName} ${score} of 100`, text: String(score) }),
    ),
    el('div', { class: 'actions' },
      el('a', { href: `session.html?id=${encodeURIComponent(s.id)}`, text: ended ? 'Playback and answers' : 'Details' }),
      !ended && el('a', { href: `room.html?id=${encodeURIComponent(s.id)}`, text: 'Open room' }),
      hasReport && el('a', { class: 'report-link', href: `session.html?id=${encodeURIComponent(s.id)}#report`, text: 'Report' }),
    ),
  );
}

async function load() {
  more.disabled = true;
  try {
    const qs = new URLSearchParams({ limit: '20' });
    if (next) qs.set('before', next);
    const data = await api(`/api/sessions?${qs}`);
    const sessions = Array.isArray(data.sessions) ? data.sessions : [];
    list.append(...sessions.map(sessionItem));
    next = data.next ?? null;
    more.hidden = !next;
    if (!list.children.length) {
      status.textContent = 'No sessions yet. Create your first one above.';
      $('#new').open = true;
    } else {
      status.textContent = `${list.children.length} session${list.children.length === 1 ? '' : 's'} shown.`;
    }
  } catch (err) {
    status.textContent = `Could not load sessions: ${errorMessage(err)}`;
  } finally {
    more.disabled = false;
  }
}
more.addEventListener('click', load);
load();

// ---------- new session ----------
const form = $('#new-form');
const details = $('#new');
fillLanguages($('#s-listen'), { auto: true, value: 'en' });
fillLanguages($('#s-answer'), { value: 'en' });

function openNew() {
  if (location.hash !== '#new') return;
  details.open = true;
  $('#s-title').focus();
}
window.addEventListener('hashchange', openNew);
openNew();
// Links to "#new" on this page (header "New", the button) open the form even if the hash is already #new.
for (const link of document.querySelectorAll('a[href$="#new"]')) {
  link.addEventListener('click', (e) => {
    e.preventDefault();
    if (location.hash !== '#new') history.pushState(null, '', '#new');
    window.dispatchEvent(new HashChangeEvent('hashchange'));
    document.querySelector('.nav-toggle[aria-expanded=true]')?.click();
  });
}

$('#s-mode').addEventListener('change', (e) => { $('#mock-fields').hidden = e.target.value !== 'mock'; });

// Defaults from the profile.
api('/api/me').then((me) => {
  const u = me?.user || {};
  setSelect($('#s-listen'), u.default_listen_language);
  setSelect($('#s-answer'), u.default_answer_language);
  if (u.default_instructions && !$('#s-instructions').value) $('#s-instructions').value = u.default_instructions;
}).catch(() => { /* defaults stay */ });

// Résumé upload → text.
const fileInput = $('#s-resume-file');
const fileStatus = $('#s-resume-file-status');
fileInput.addEventListener('change', async () => {
  const file = fileInput.files?.[0];
  if (!file) return;
  if (!/\.(txt|pdf|docx)$/i.test(file.name)) {
    fileStatus.textContent = 'Please choose a .txt, .pdf or .docx file.';
    fileStatus.classList.add('field-error');
    return;
  }
  fileStatus.classList.remove('field-error');
  fileStatus.textContent = `Reading ${file.name}…`;
  const body = new FormData();
  body.append('file', file, file.name);
  try {
    const data = await api('/api/resume/extract', { method: 'POST', form: body });
    $('#s-resume').value = (data.text || '').trim();
    fileStatus.textContent = `Text extracted from ${file.name}. Check it below.`;
  } catch (err) {
    if (/\.txt$/i.test(file.name)) {
      $('#s-resume').value = (await file.text()).trim();
      fileStatus.textContent = `Read ${file.name} in the browser.`;
    } else {
      fileStatus.classList.add('field-error');
      fileStatus.textContent = `Could not read ${file.name}: ${errorMessage(err)}`;
    }
  }
});

form.addEventListener('submit', async (e) => {
  e.preventDefault();
  clearErrors(form);
  const v = formValues(form);
  const body = {
    title: v.title.trim() || `Interview ${new Date().toLocaleDateString()}`,
    mode: v.mode,
    listen_language: v.listen_language,
    answer_language: v.answer_language,
    hints: v.hints,
    instructions: v.instructions,
    resume_text: v.resume_text,
    hangover: v.hangover,
  };
  if (v.mode === 'mock') {
    body.mock = {
      type: v.mock_type,
      difficulty: v.mock_difficulty,
      focus_areas: v.mock_focus_areas.split(',').map((s) => s.trim()).filter(Boolean),
      requirements: v.mock_requirements,
      duration_minutes: Number(v.mock_duration_minutes) || 30,
    };
  }
  const button = $('#create-btn');
  setBusy(button, true, 'Creating…');
  try {
    const session = await api('/api/sessions', { method: 'POST', body });
    location.assign(`room.html?id=${encodeURIComponent(session.id)}`);
  } catch (err) {
    // Mock sub-fields come back as e.g. "mock.duration_minutes": map them onto our field names.
    if (err.field?.startsWith('mock.')) err.field = `mock_${err.field.slice(5)}`;
    showError(form, err);
    setBusy(button, false);
  }
});
