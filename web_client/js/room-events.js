// Data-channel "events" messages (PROTOCOL.md) → room UI.
import { rubricView } from './score-view.js';
import { clock, make, scoreClass as scoreBand } from './util.js';

//
// Two parts, both usable on their own:
//   apply(message, renderer)   pure dispatch: validates one server message and calls one renderer method
//   createDomRenderer(root)    the small renderer that updates room.html's DOM
//   createRoomEvents(root)     both together: {apply(message), renderer}
//
// A test can feed messages into a live room page with window.roomEvents.apply({...}), or import this
// module into any page that has the same ids and call createRoomEvents(document).apply(...).

/** message type → renderer method and the fields it must carry (with their JS types). */
export const MESSAGE_TYPES = {
  caption: { method: 'caption', fields: { id: 'id', role: 'string', text: 'string' } },
  question: { method: 'question', fields: { id: 'id', text: 'string' } },
  'answer.delta': { method: 'answerDelta', fields: { question_id: 'id', delta: 'string' } },
  'answer.done': { method: 'answerDone', fields: { question_id: 'id', text: 'string' } },
  translation: { method: 'translation', fields: { ref: 'id', lang: 'string', text: 'string' } },
  score: { method: 'score', fields: { question_id: 'id', score: 'number' } },
  credits: { method: 'credits', fields: { remaining_seconds: 'number' } },
  notice: { method: 'notice', fields: { message: 'string' } },
  error: { method: 'error', fields: { message: 'string' } },
  'session.ended': { method: 'ended', fields: {} },
  'mock.question': { method: 'mockQuestion', fields: { index: 'number', total: 'number', text: 'string' } },
  'mock.countdown': { method: 'mockCountdown', fields: { seconds: 'number' } },
  'mock.done': { method: 'mockDone', fields: { reason: 'string' } },
  pong: { method: 'pong', fields: { id: 'id' } },
  listening: { method: 'listening', fields: { paused: 'boolean' } }, // pause/resume (js/listening.js)
};

/** Parse (if a string) and validate one message; ids become strings. Returns null when unusable. */
export function normalize(message) {
  let m = message;
  if (typeof m === 'string') {
    try { m = JSON.parse(m); } catch { return null; }
  }
  if (!m || typeof m !== 'object' || Array.isArray(m)) return null;
  const spec = MESSAGE_TYPES[m.type];
  if (!spec) return null;
  if (m.v !== undefined && m.v !== 1) return null;
  const out = { ...m };
  for (const [name, kind] of Object.entries(spec.fields)) {
    const value = out[name];
    if (kind === 'id') {
      if (typeof value !== 'string' && typeof value !== 'number') return null;
      out[name] = String(value);
    } else if (kind === 'number') {
      if (typeof value !== 'number' || !Number.isFinite(value)) return null;
    } else if (typeof value !== kind) return null;
  }
  if (m.type === 'caption') out.final = m.final !== false;
  if (m.type === 'question') out.caption_ids = Array.isArray(m.caption_ids) ? m.caption_ids.map(String) : [];
  return out;
}

/** Dispatch one message to `renderer`. Returns true when it was a known, valid message. */
export function apply(message, renderer) {
  const m = normalize(message);
  if (!m) return false;
  const fn = renderer[MESSAGE_TYPES[m.type].method];
  if (typeof fn === 'function') fn.call(renderer, m);
  // the candidate speaks: a "moving on in N s" countdown of the mock interviewer is over
  if (m.type === 'caption' && m.role === 'candidate') renderer.mockHeard?.();
  return true;
}

// ---------------------------------------------------------------------------------------------
// DOM renderer

const ROLE_NAMES = { interviewer: 'Interviewer', candidate: 'You' };
const OFFLINE_RE = /offline|not[_ ]configured|no[_ ]api[_ ]key|llm[_ ]unavailable|provider/i;
const MAX_NOTICES = 6;
const LOW_CREDIT_SECONDS = 300;

const sel = (attr, value) => `[${attr}="${CSS.escape(String(value))}"]`;

export const ENDED_REASONS = {
  credits_exhausted: 'You ran out of credits, so the session was ended.',
  no_credits: 'You ran out of credits, so the session was ended.',
  ended_by_user: 'The session was ended.',
  user: 'The session was ended.',
  idle: 'The session was ended because nothing was received for a long time.',
  timeout: 'The session reached its time limit.',
  duration: 'The mock interview reached its planned length.',
  mock_complete: 'The mock interview is over; your report is being prepared.',
  server_shutdown: 'The server is restarting and ended the session.',
  node_shutdown: 'The media server is restarting and ended the session. Your recording and transcript are saved.',
  drain: 'The server is restarting and ended the session.',
  deleted: 'The session was deleted.',
};

/**
 * Renderer bound to the room's DOM (ids: #captions, #questions, #ai-pane, #autoscroll, #credits,
 * #notices, #ai-offline, #conn-state, #ended-banner). Hooks: onEnded(reason, message), onPong(message).
 */
export function createDomRenderer(root = document, { sessionId = '', onEnded, onPong } = {}) {
  const doc = root.ownerDocument || root;
  const $ = (s) => root.querySelector(s);
  const pendingMarks = new Map(); // caption id → question id (question arrived before its caption)
  const pendingTranslations = new Map(); // ref → [translation messages] (arrived before their target)

  function nearBottom(box) {
    return !box || box.scrollHeight - box.scrollTop - box.clientHeight < 48;
  }

  function dropEmptyHint(box) {
    box?.querySelector(':scope > .empty-hint')?.remove();
  }

  function autoscrollOn() {
    const toggle = $('#autoscroll');
    return !toggle || toggle.getAttribute('aria-pressed') !== 'false';
  }

  /** After an AI pane change: with autoscroll on, bring the changed card's end into view. */
  function aiChanged(node) {
    const pane = $('#ai-pane');
    if (!pane || !autoscrollOn()) return;
    const card = node?.closest?.('.question');
    if (!node || card === $('#questions')?.lastElementChild) {
      pane.scrollTop = pane.scrollHeight;
      return;
    }
    const paneBox = pane.getBoundingClientRect();
    const box = node.getBoundingClientRect();
    if (box.bottom > paneBox.bottom) pane.scrollTop += box.bottom - paneBox.bottom + 8;
  }

  // ---- captions ----
  function captionNode(id) {
    return $('#captions')?.querySelector(`.caption${sel('data-id', id)}`) || null;
  }

  function markQuestion(captionId, questionId) {
    const node = captionNode(captionId);
    if (!node) { pendingMarks.set(captionId, questionId); return; }
    node.classList.add('is-question');
    node.dataset.questionId = questionId;
  }

  function caption(m) {
    const box = $('#captions');
    if (!box) return;
    const stick = nearBottom(box);
    let node = captionNode(m.id);
    // partial words only grow until the final replaces them in the same node: a partial arriving
    // after its final, or one showing fewer words than already shown, changes nothing
    if (node && !m.final) {
      const shown = node.querySelector('.text').textContent;
      if (node.dataset.final === 'true' || (shown.startsWith(m.text) && shown.length > m.text.length)) return;
    }
    if (!node) {
      dropEmptyHint(box);
      node = make(doc, 'p', 'caption');
      node.dataset.id = m.id;
      const who = make(doc, 'span', 'who');
      const time = make(doc, 'span', 'time');
      const text = make(doc, 'span', 'text');
      node.append(who, ' ', time, ' ', text);
      box.append(node);
    }
    node.dataset.role = m.role;
    node.dataset.final = String(m.final);
    node.setAttribute('aria-busy', String(!m.final));
    if (m.lang && m.lang !== 'auto') node.lang = m.lang;
    node.querySelector('.who').textContent = ROLE_NAMES[m.role] || m.role;
    node.querySelector('.time').textContent = Number.isFinite(m.t0) ? clock(m.t0) : '';
    node.querySelector('.text').textContent = m.text;
    if (pendingMarks.has(m.id)) {
      markQuestion(m.id, pendingMarks.get(m.id));
      pendingMarks.delete(m.id);
    }
    flushTranslations(m.id);
    if (stick) box.scrollTop = box.scrollHeight;
  }

  // ---- questions and answers ----
  function questionCard(id) {
    return $('#questions')?.querySelector(`.question${sel('data-id', id)}`) || null;
  }

  function ensureQuestion(id) {
    let card = questionCard(id);
    if (card) return card;
    const list = $('#questions');
    dropEmptyHint(list);
    card = make(doc, 'article', 'question');
    card.dataset.id = id;
    const head = make(doc, 'div', 'question-head');
    const text = make(doc, 'p', 'question-text', 'Question');
    text.id = `q-${id}-text`.replace(/[^\w-]/g, '_');
    card.setAttribute('aria-labelledby', text.id);
    head.append(text, make(doc, 'span', 'score-slot'));
    card.append(head, make(doc, 'div', 'question-translations'));
    list?.append(card);
    flushTranslations(id);
    return card;
  }

  function ensureAnswer(card) {
    let answer = card.querySelector('.answer');
    if (!answer) {
      answer = make(doc, 'div', 'answer');
      answer.dataset.questionId = card.dataset.id;
      answer.dataset.done = 'false';
      answer.setAttribute('aria-label', 'Suggested answer');
      const translations = make(doc, 'div', 'answer-translations');
      card.querySelector('.question-translations').after(answer, translations);
      flushTranslations(`answer:${card.dataset.id}`);
      flushTranslations(`a:${card.dataset.id}`);
    }
    return answer;
  }

  function question(m) {
    const card = ensureQuestion(m.id);
    const text = card.querySelector('.question-text');
    text.textContent = m.text;
    if (m.lang && m.lang !== 'auto') text.lang = m.lang;
    card.dataset.captionIds = m.caption_ids.join(' ');
    for (const captionId of m.caption_ids) markQuestion(captionId, m.id);
    aiChanged(card);
  }

  function answerDelta(m) {
    const card = ensureQuestion(m.question_id);
    const answer = ensureAnswer(card);
    if (answer.dataset.done === 'true') return; // a late duplicate after the final text
    answer.setAttribute('aria-busy', 'true');
    answer.append(m.delta);
    aiChanged(answer);
  }

  function answerDone(m) {
    const card = ensureQuestion(m.question_id);
    const answer = ensureAnswer(card);
    answer.textContent = m.text;
    answer.dataset.done = 'true';
    answer.setAttribute('aria-busy', 'false');
    if (m.lang && m.lang !== 'auto') answer.lang = m.lang;
    aiChanged(answer);
  }

  // ---- translations: ref is a caption id, a question id, or "answer:<question id>" (the llm worker
  // sends "a:<question id>": both are accepted) ----
  function translationTarget(ref) {
    const cap = captionNode(ref);
    if (cap) return cap;
    const card = questionCard(ref);
    if (card) return card.querySelector('.question-translations');
    const answerOf = ref.startsWith('answer:') ? ref.slice(7) : ref.startsWith('a:') ? ref.slice(2) : null;
    if (answerOf !== null) {
      const qcard = questionCard(answerOf);
      if (qcard?.querySelector('.answer')) return qcard.querySelector('.answer-translations');
    }
    return null;
  }

  function translation(m) {
    const target = translationTarget(m.ref);
    if (!target) {
      const list = pendingTranslations.get(m.ref) || [];
      pendingTranslations.set(m.ref, [...list.filter((t) => t.lang !== m.lang), m]);
      return;
    }
    let node = target.querySelector(`:scope > .translation${sel('data-lang', m.lang)}`);
    if (!node) {
      node = make(doc, 'span', 'translation');
      node.dataset.ref = m.ref;
      node.dataset.lang = m.lang;
      node.lang = m.lang;
      target.append(node);
    }
    node.textContent = m.text;
    if (target.closest('#ai-pane')) aiChanged(node);
  }

  function flushTranslations(ref) {
    const list = pendingTranslations.get(ref);
    if (!list) return;
    pendingTranslations.delete(ref);
    for (const t of list) translation(t);
  }

  // ---- scores ----
  function score(m) {
    const card = ensureQuestion(m.question_id);
    const value = Math.round(m.score);
    card.dataset.score = String(value);
    const slot = card.querySelector('.score-slot');
    let badge = slot.querySelector('.score-badge');
    if (!badge) {
      badge = make(doc, 'span', 'score-badge');
      slot.append(badge);
    }
    badge.className = `score-badge ${scoreBand(value)}`;
    badge.textContent = String(value);
    badge.setAttribute('aria-label', `Score ${value} of 100`);
    if (m.feedback) badge.title = m.feedback;

    // the answer was scored once the candidate stopped speaking: bars and one sentence per criterion
    card.querySelector('.score-details')?.remove();
    const details = make(doc, 'div', 'score-details');
    details.append(make(doc, 'h3', 'score-title', `Your answer scored ${value} of 100`), rubricView(doc, m));
    card.append(details);
    aiChanged(card);
  }

  // ---- status ----
  function credits(m) {
    const node = $('#credits');
    if (!node) return;
    const left = Math.max(0, m.remaining_seconds);
    node.dataset.remaining = String(left);
    node.textContent = left > 0 ? `Credits left ${clock(left)}` : 'No credits left';
    node.classList.toggle('low', left < LOW_CREDIT_SECONDS);
    node.setAttribute('aria-label', left < LOW_CREDIT_SECONDS
      ? `Warning: only ${clock(left)} of credits left` : `Credits left ${clock(left)}`);
  }

  function notice(m, level = m.level || 'info') {
    const list = $('#notices');
    const code = m.code || level;
    if (list) {
      list.querySelector(`:scope > li${sel('data-code', code)}`)?.remove();
      const item = make(doc, 'li');
      item.dataset.code = code;
      item.dataset.level = ['info', 'warning', 'error'].includes(level) ? level : 'info';
      const close = make(doc, 'button', '', '×');
      close.type = 'button';
      close.setAttribute('aria-label', 'Dismiss message');
      close.addEventListener('click', () => item.remove());
      item.append(make(doc, 'span', 'notice-text', m.message), close);
      list.append(item);
      while (list.children.length > MAX_NOTICES) list.firstElementChild.remove();
    }
    if (OFFLINE_RE.test(code) || /offline/i.test(m.message)) {
      const label = $('#ai-offline');
      if (label) {
        label.hidden = false;
        label.title = m.message;
      }
    }
  }

  function error(m) {
    notice({ code: m.code || 'error', message: m.message }, 'error');
  }

  function ended(m) {
    const reason = typeof m.reason === 'string' ? m.reason : '';
    const state = $('#conn-state');
    if (state) {
      state.dataset.state = 'ended';
      state.textContent = 'Ended';
    }
    const banner = $('#ended-banner');
    if (banner) {
      banner.dataset.reason = reason;
      const why = ENDED_REASONS[reason] || (reason ? `The session was ended (${reason.replaceAll('_', ' ')}).` : 'The session was ended.');
      banner.replaceChildren(`${why} `);
      if (sessionId) {
        const mock = reason === 'mock_complete';
        const link = make(doc, 'a', '', mock ? 'See your report' : 'See the transcript, answers and recording');
        link.href = `session.html?id=${encodeURIComponent(sessionId)}${mock ? '#report' : ''}`;
        banner.append(link);
      }
      banner.hidden = false;
    }
    onEnded?.(reason, m);
  }

  function pong(m) {
    onPong?.(m);
  }

  /** The mock interviewer asked (or repeated) a question: #mock-panel shows it with the progress. */
  function mockQuestion(m) {
    const panel = $('#mock-panel');
    if (!panel) return;
    panel.hidden = false;
    panel.dataset.index = String(m.index);
    panel.dataset.total = String(m.total);
    panel.dataset.followUp = String(Boolean(m.follow_up));
    if (m.question_id) panel.dataset.questionId = String(m.question_id);
    const progress = $('#mock-progress');
    if (progress) progress.textContent = `Question ${m.index} of ${m.total}`;
    const text = $('#mock-question');
    if (text) text.textContent = m.text;
    const follow = $('#mock-followup');
    if (follow) follow.hidden = !m.follow_up;
    // why the interviewer follows up: the key point the answer missed
    const why = m.follow_up && typeof m.reason === 'string' ? m.reason : '';
    let reason = $('#mock-reason');
    if (!reason && why) {
      reason = make(doc, 'p', 'mock-reason small');
      reason.id = 'mock-reason';
      const anchor = $('#mock-question');
      if (anchor?.parentElement === panel) anchor.before(reason); else panel.append(reason);
    }
    if (reason) {
      reason.textContent = why;
      reason.hidden = !why;
    }
    mockHeard();
    const bar = $('#mock-bar');
    if (bar) {
      bar.max = m.total;
      bar.value = m.index - 1;
    }
    const time = $('#mock-time');
    if (time) time.textContent = m.time_allocation_s ? `About ${Math.round(m.time_allocation_s / 60) || 1} min for this question` : '';
    for (const button of panel.querySelectorAll('.mock-actions button')) button.disabled = false;
  }

  /** Nobody answered: "moving on in N s", counted down each second (created in #mock-panel if missing). */
  let countdownTimer = null;
  function mockCountdown(m) {
    const panel = $('#mock-panel');
    if (!panel) return;
    let box = $('#mock-countdown');
    if (!box) {
      box = make(doc, 'p', 'mock-countdown');
      box.id = 'mock-countdown';
      box.setAttribute('role', 'status');
      const anchor = $('#mock-question');
      if (anchor?.parentElement === panel) anchor.after(box); else panel.append(box);
    }
    mockHeard();
    let left = Math.max(1, Math.round(m.seconds));
    const show = () => {
      box.dataset.seconds = String(left);
      box.textContent = `No answer heard: moving on in ${left} s. Start speaking to answer, or say "next question".`;
    };
    box.hidden = false;
    show();
    countdownTimer = setInterval(() => {
      left -= 1;
      if (left <= 0) {
        clearInterval(countdownTimer);
        countdownTimer = null;
        box.dataset.seconds = '0';
        box.textContent = 'Moving on…';
        return;
      }
      show();
    }, 1000);
  }

  /** The candidate spoke, or the interviewer moved on: no countdown. */
  function mockHeard() {
    if (countdownTimer) clearInterval(countdownTimer);
    countdownTimer = null;
    const box = $('#mock-countdown');
    if (box) box.hidden = true;
  }

  function mockDone(m) {
    mockHeard();
    const panel = $('#mock-panel');
    if (!panel) return;
    panel.dataset.done = m.reason;
    const bar = $('#mock-bar');
    if (bar) bar.value = bar.max;
    const text = $('#mock-question');
    if (text) text.textContent = m.speech || 'That is the end of the interview.';
    $('#mock-followup')?.setAttribute('hidden', '');
    for (const button of panel.querySelectorAll('.mock-actions button')) button.disabled = true;
  }

  return {
    caption, question, answerDelta, answerDone, translation, score, credits, notice, error, ended, pong,
    mockQuestion, mockCountdown, mockHeard, mockDone, markQuestion, ensureQuestion,
  };
}

/** The room's message handler: {apply(message) → bool, renderer}. */
export function createRoomEvents(root = document, hooks = {}) {
  const renderer = createDomRenderer(root, hooks);
  return { renderer, apply: (message) => apply(message, renderer) };
}
