// Two room controls of issue 19, kept apart from room.js so other views (the floating window) can use them:
//
//   createPauseControl({send, button, badge})   pause / resume listening: {"type": "pause", "paused": bool}
//                                               on the data channel; the server answers every channel of
//                                               the session with {"type": "listening", paused, t}
//   initCompanion({sessionId, box, ...})        "Connect computer audio": a pairing code for
//                                               `interview-room listen` (POST /api/sessions/{id}/pairing)
//
// While paused nothing is captioned, billed or recorded; the span is marked in the recording.

import { api, errorMessage } from './api.js';
import { mmss } from './util.js';

const PAUSE_TEXT = { false: 'Pause listening', true: 'Resume listening' };

/** The pause state of one room: `toggle()`, `set(paused)`, `onEvent(message)`, `paused`. */
export function createPauseControl({ send, button = null, badge = null, onChange = () => {} }) {
  let paused = false;
  let listeners = [];

  function render() {
    if (button) {
      button.setAttribute('aria-pressed', String(paused));
      button.textContent = PAUSE_TEXT[paused];
    }
    if (badge) badge.hidden = !paused;
    onChange(paused);
    for (const fn of listeners) fn(paused);
  }

  const control = {
    get paused() { return paused; },
    /** Ask the server to pause (true) or resume (false); false when not connected. */
    set(value) {
      return send({ type: 'pause', paused: Boolean(value) });
    },
    toggle() { return control.set(!paused); },
    /** A server message: `listening` is the one source of truth (every window of the session hears it). */
    onEvent(m) {
      if (m?.type === 'listening' && typeof m.paused === 'boolean' && m.paused !== paused) {
        paused = m.paused;
        render();
      }
    },
    /** Call `fn(paused)` on every change (a floating window's own button). */
    subscribe(fn) {
      listeners.push(fn);
      return () => { listeners = listeners.filter((f) => f !== fn); };
    },
  };
  if (button) button.addEventListener('click', () => control.toggle());
  render();
  return control;
}

/** The "Connect computer audio" box: asks for a code and shows the command to run. */
export function initCompanion({ sessionId, button, codeBox, code, command, expiry, msg }) {
  let timer = 0;
  function say(text, kind = '') {
    msg.textContent = text;
    msg.className = `input-msg ${kind}`;
  }
  function hideCode() {
    clearInterval(timer);
    codeBox.hidden = true;
  }
  async function newCode() {
    button.disabled = true;
    try {
      const made = await api(`/api/sessions/${encodeURIComponent(sessionId)}/pairing`, { method: 'POST' });
      code.textContent = made.code;
      command.textContent = made.command;
      codeBox.hidden = false;
      const until = Date.now() + made.expires_in_seconds * 1000;
      const tick = () => {
        const left = Math.max(0, Math.round((until - Date.now()) / 1000));
        expiry.textContent = left ? `Works once, for ${mmss(left)} more.` : 'This code has expired: get a new one.';
        if (!left) clearInterval(timer);
      };
      clearInterval(timer);
      tick();
      timer = setInterval(tick, 1000);
      say('Run the command on the computer that plays the call (see “Use it with Zoom/Teams/Meet” in the README).');
    } catch (err) {
      say(`Could not get a code: ${errorMessage(err)}`, 'error');
    } finally {
      button.disabled = false;
    }
  }
  button.addEventListener('click', newCode);
  return {
    /** Server messages: the node says when the companion's audio arrives. */
    onEvent(m) {
      if (m?.type === 'notice' && m.code === 'companion_connected') {
        hideCode();
        say('Computer audio is connected: the interviewer is heard from it.', 'ok');
      }
    },
  };
}
