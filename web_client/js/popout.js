// "Pop out": the live captions, the current question and its (streaming) answer in a small window that
// stays on top of the meeting app. Chrome/Edge 116+ open a Document Picture-in-Picture window; other
// browsers (and headless Chromium) a plain popup, which the system may put behind other windows.
//
// The window mirrors the room's own DOM (#captions, #questions, #current-question-text, #conn-state):
// room.js calls update() after every data-channel message, so the window follows the messages
// themselves, not a timer of the main tab (hidden tabs' timers are throttled; message events are
// not). The window's only timer, its clock, belongs to the window itself, which is visible.
// Everything is copied with textContent or cloneNode (no HTML from data), so the page's CSP holds.

import { clock, elIn } from './util.js';

const PREFS_KEY = 'interview-room.popout';
const FONT_SIZES = [14, 16, 18, 20, 23, 26, 30, 34];
const DEFAULT_FONT = 2;
const MAX_CAPTIONS = 8;
const SCROLL_STEP = 48;
const ANSWER_TYPES = new Set(['question', 'answer.delta', 'answer.done', 'translation', 'score', 'mock.question']);

function loadPrefs() {
  try {
    const p = JSON.parse(localStorage.getItem(PREFS_KEY) || '{}');
    const font = Number.isInteger(p.font) && p.font >= 0 && p.font < FONT_SIZES.length ? p.font : DEFAULT_FONT;
    const opacity = Number.isFinite(p.opacity) ? Math.min(100, Math.max(40, p.opacity)) : 100;
    return { font, opacity };
  } catch {
    return { font: DEFAULT_FONT, opacity: 100 };
  }
}

function savePrefs(prefs) {
  try { localStorage.setItem(PREFS_KEY, JSON.stringify(prefs)); } catch { /* ignore */ }
}

/**
 * source: the room's document; onAsk(): ask the AI to answer the latest question (returns a status text);
 * elapsed(): seconds since the session went live (null before); onState(text): the room's status line.
 */
export function createPopout({ source = document, onAsk, elapsed = () => null, onState = () => {} }) {
  const prefs = loadPrefs();
  let win = null;
  let kind = '';
  let paused = false;
  let missed = 0;
  let parts = null; // the popout's nodes

  const q = (sel) => source.querySelector(sel);

  function applyPrefs() {
    if (!parts) return;
    const root = parts.doc.documentElement;
    root.style.setProperty('--pop-font', `${FONT_SIZES[prefs.font]}px`);
    root.style.setProperty('--pop-alpha', String(prefs.opacity / 100));
    parts.fontDown.disabled = prefs.font === 0;
    parts.fontUp.disabled = prefs.font === FONT_SIZES.length - 1;
    parts.opacity.value = String(prefs.opacity);
    parts.doc.body.dataset.font = String(FONT_SIZES[prefs.font]);
    savePrefs(prefs);
  }

  function font(step) {
    prefs.font = Math.min(FONT_SIZES.length - 1, Math.max(0, prefs.font + step));
    applyPrefs();
  }

  function setPaused(on) {
    paused = on;
    if (!parts) return;
    parts.pause.setAttribute('aria-pressed', String(on));
    parts.pause.textContent = on ? 'Resume answers' : 'Pause answers';
    if (!on) {
      missed = 0;
      renderAnswer(true);
    }
    renderPausedNote();
  }

  function renderPausedNote() {
    if (!parts) return;
    parts.pausedNote.hidden = !paused;
    parts.pausedNote.textContent = missed ? `Paused: new answer text is waiting (${missed} update${missed > 1 ? 's' : ''}). Press P to resume.` : 'Paused: the answer stays as it is. Press P to resume.';
  }

  function nearBottom(box) {
    return box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  }

  function renderCaptions() {
    const box = parts.captions;
    const stick = nearBottom(box);
    const nodes = [...source.querySelectorAll('#captions .caption')].slice(-MAX_CAPTIONS);
    if (!nodes.length) {
      box.replaceChildren(elIn(parts.doc, 'p', { class: 'empty-hint' }, 'Captions appear here when someone speaks.'));
      return;
    }
    box.replaceChildren(...nodes.map((n) => {
      const copy = parts.doc.importNode(n, true);
      copy.removeAttribute('id');
      return copy;
    }));
    if (stick) box.scrollTop = box.scrollHeight;
  }

  function latestCard() {
    const cards = source.querySelectorAll('#questions .question');
    return cards[cards.length - 1] || null;
  }

  function renderAnswer(force = false) {
    if (paused && !force) {
      missed += 1;
      renderPausedNote();
      return;
    }
    const card = latestCard();
    const pinned = q('#current-question-text')?.textContent?.trim();
    const questionText = pinned || card?.querySelector('.question-text')?.textContent || '';
    parts.question.textContent = questionText || 'Waiting for a question…';
    parts.question.dataset.empty = String(!questionText);
    const answer = card?.querySelector('.answer');
    const box = parts.answer;
    const stick = force || nearBottom(box);
    if (answer) {
      const copy = parts.doc.importNode(answer, true);
      copy.id = 'pop-answer-text';
      box.replaceChildren(copy);
    } else {
      box.replaceChildren(elIn(parts.doc, 'p', { class: 'empty-hint', id: 'pop-answer-text' },
        card ? 'The answer appears here as it is written.' : 'Suggested answers appear here.'));
    }
    if (stick) box.scrollTop = box.scrollHeight;
  }

  function renderStatus() {
    if (!parts) return;
    const conn = q('#conn-state');
    parts.conn.textContent = conn?.textContent || '';
    parts.conn.dataset.state = conn?.dataset.state || '';
    const s = elapsed();
    parts.clock.textContent = s === null ? '00:00' : clock(s);
  }

  function scrollBy(dy) {
    if (parts) parts.answer.scrollTop += dy;
  }

  function onKey(e) {
    if (e.target?.closest?.('input, select, textarea')) return;
    if (e.ctrlKey || e.metaKey) return;
    const key = e.key;
    const code = e.code;
    let handled = true;
    if (code === 'KeyA' || key === 'a' || key === 'A') ask();
    else if (code === 'KeyP' || key === 'p' || key === 'P') setPaused(!paused);
    else if (key === 'ArrowDown' || key === 'j') scrollBy(SCROLL_STEP);
    else if (key === 'ArrowUp' || key === 'k') scrollBy(-SCROLL_STEP);
    else if (key === 'PageDown') scrollBy(parts.answer.clientHeight * 0.9);
    else if (key === 'PageUp') scrollBy(-parts.answer.clientHeight * 0.9);
    else if (key === 'End') scrollBy(parts.answer.scrollHeight);
    else if (key === 'Home') scrollBy(-parts.answer.scrollHeight);
    else if (key === '+' || key === '=') font(1);
    else if (key === '-' || key === '_') font(-1);
    else handled = false;
    if (handled) e.preventDefault();
  }

  function ask() {
    const said = onAsk?.();
    if (parts && said) parts.status.textContent = said;
  }

  /** The room's stylesheet in the window: its rules adopted as a constructed sheet (a PiP window does not
   * load a <link> of its own everywhere; no <style> element either, which the CSP would refuse). */
  function addStyles(w, doc) {
    for (const old of doc.querySelectorAll('link[data-popout]')) old.remove();
    const rules = [];
    for (const sheet of source.styleSheets) {
      try { for (const rule of sheet.cssRules) rules.push(rule.cssText); } catch { /* another origin's: skip */ }
    }
    if (rules.length && 'adoptedStyleSheets' in doc && w.CSSStyleSheet) {
      try {
        const sheet = new w.CSSStyleSheet();
        sheet.replaceSync(rules.join('\n'));
        doc.adoptedStyleSheets = [sheet];
        return;
      } catch { /* fall back to the link */ }
    }
    doc.head.append(elIn(doc, 'link', { rel: 'stylesheet', href: new URL('../css/app.css', import.meta.url).href, 'data-popout': '' }));
  }

  function build(w) {
    const doc = w.document;
    doc.title = 'Interview Room · captions and answer';
    addStyles(w, doc);
    doc.documentElement.lang = 'en';
    doc.body.className = 'popout';
    doc.body.dataset.kind = kind;

    const bar = elIn(doc, 'div', { class: 'pop-bar', role: 'toolbar', 'aria-label': 'Window controls' });
    const conn = elIn(doc, 'span', { class: 'badge pop-conn', id: 'pop-conn' });
    const clock = elIn(doc, 'span', { class: 'badge pop-clock', id: 'pop-clock', role: 'timer', 'aria-label': 'Elapsed time' }, '00:00');
    const fontDown = elIn(doc, 'button', { type: 'button', id: 'pop-font-down', 'aria-label': 'Smaller text', title: 'Smaller text (−)' }, 'A−');
    const fontUp = elIn(doc, 'button', { type: 'button', id: 'pop-font-up', 'aria-label': 'Larger text', title: 'Larger text (+)' }, 'A+');
    const opacityLabel = elIn(doc, 'label', { for: 'pop-opacity', class: 'pop-opacity-label' }, 'Opacity');
    const opacity = elIn(doc, 'input', { type: 'range', id: 'pop-opacity', min: '40', max: '100', step: '5' });
    const pause = elIn(doc, 'button', { type: 'button', id: 'pop-pause', class: 'toggle', 'aria-pressed': 'false', 'aria-keyshortcuts': 'P', title: 'Pause answers (P)' }, 'Pause answers');
    const askBtn = elIn(doc, 'button', { type: 'button', id: 'pop-ask', class: 'primary', 'aria-keyshortcuts': 'A', title: 'Answer the latest question (A)' }, 'Ask AI');
    bar.append(conn, clock, fontDown, fontUp, opacityLabel, opacity, pause, askBtn);

    const qBox = elIn(doc, 'section', { class: 'pop-question-box', 'aria-label': 'Current question' });
    const question = elIn(doc, 'p', { class: 'pop-question', id: 'pop-question', 'aria-live': 'polite' });
    qBox.append(question);
    const pausedNote = elIn(doc, 'p', { class: 'pop-paused', id: 'pop-paused', role: 'status' });
    pausedNote.hidden = true;
    const answer = elIn(doc, 'section', { class: 'pop-answer', id: 'pop-answer', 'aria-label': 'Suggested answer', tabindex: '0' });
    const captions = elIn(doc, 'section', { class: 'pop-captions', id: 'pop-captions', 'aria-label': 'Live captions', role: 'log' });
    const status = elIn(doc, 'p', { class: 'pop-status', id: 'pop-status', role: 'status' });
    const keys = elIn(doc, 'p', { class: 'pop-keys' }, 'Keys: A ask · P pause answers · ↑ ↓ PgUp PgDn scroll · + − text size');
    doc.body.replaceChildren(bar, qBox, pausedNote, answer, captions, status, keys);

    parts = { doc, conn, clock, fontDown, fontUp, opacity, pause, question, pausedNote, answer, captions, status };
    fontDown.addEventListener('click', () => font(-1));
    fontUp.addEventListener('click', () => font(1));
    opacity.addEventListener('input', () => {
      prefs.opacity = Number(opacity.value);
      applyPrefs();
    });
    pause.addEventListener('click', () => setPaused(!paused));
    askBtn.addEventListener('click', ask);
    doc.addEventListener('keydown', onKey);
    applyPrefs();
    setPaused(false);
    renderCaptions();
    renderStatus();
    w.setInterval(renderStatus, 1000); // the window's own timer: it is visible, so it is not throttled
  }

  function closed() {
    win = null;
    parts = null;
    paused = false;
    missed = 0;
    onState('');
    source.querySelector('#popout-btn')?.setAttribute('aria-pressed', 'false');
  }

  /** Open the window (or bring it forward). Must run from a click: both kinds need a user gesture. */
  async function open() {
    if (win && !win.closed) {
      win.focus();
      return kind;
    }
    let w = null;
    kind = '';
    if (window.documentPictureInPicture?.requestWindow) {
      try {
        w = await window.documentPictureInPicture.requestWindow({ width: 440, height: 560 });
        kind = 'pip';
      } catch {
        w = null;
      }
    }
    if (!w) {
      w = window.open('', 'interview-room-popout', 'popup,width=440,height=600');
      if (!w) {
        onState('The browser blocked the window: allow pop-ups for this site, then press Pop out again.');
        return '';
      }
      kind = 'popup';
    }
    win = w;
    build(w);
    w.addEventListener('pagehide', closed);
    source.querySelector('#popout-btn')?.setAttribute('aria-pressed', 'true');
    onState(kind === 'pip' ? 'Popped out: the window stays on top of other windows.' : 'Popped out in a new window.');
    return kind;
  }

  function close() {
    try { win?.close(); } catch { /* gone */ }
    closed();
  }

  /** After a message changed the room: bring the window up to date (type: the message's type). */
  function update(type) {
    if (!parts || !win || win.closed) return;
    if (type === 'caption' || type === 'translation') renderCaptions();
    if (ANSWER_TYPES.has(type)) renderAnswer();
    renderStatus();
  }

  return {
    open, close, update, status: renderStatus,
    isOpen: () => Boolean(win && !win.closed),
    get window() { return win; },
    get kind() { return kind; },
  };
}
