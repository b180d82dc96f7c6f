// The live room: inputs and meters, one RTCPeerConnection with a data channel "events",
// non-trickle offer to /api/sessions/{id}/offer, settings/ask messages, reconnect, end.
import { api, errorMessage } from './api.js';
import { confirmDanger } from './confirm.js';
import { initNav } from './nav.js';
import { $, clock, fillLanguages, param, setSelect } from './util.js';
import { createRoomEvents, normalize } from './room-events.js';
import { attachMeter, getMicrophone, listMicrophones, mediaErrorMessage } from './media.js';
import { negotiate, normalizeIceServers } from './rtc.js';
import { initWebPane } from './webpane.js';
import { createPauseControl, initCompanion } from './listening.js';
import { loadRoomState, saveRoomState } from './room-state.js';
import { createPopout } from './popout.js';

initNav();

const sessionId = param('id') || '';
const MAX_RECONNECTS = 3;
const CONN_TEXT = {
  idle: 'Not connected', connecting: 'Connecting…', live: 'Live', reconnecting: 'Reconnecting…',
  disconnected: 'Disconnected', ended: 'Ended',
};

const state = {
  session: null, ice: [], pc: null, dc: null,
  started: false, ended: false, ending: false, reconnecting: false, reconnects: 0,
  liveSince: 0, timer: 0, wakeLock: null, statusTimer: 0,
  startedAt: 0, // wall-clock ms when the session first went live (kept across reloads): the elapsed clock
};
// Each input: {stream, stopMeter}
const inputs = { mic: {}, share: {}, cam: {} };

const events = createRoomEvents(document, {
  sessionId,
  onEnded: (reason) => finish({ byServer: true, reason }),
});
// Every message also passes the "who is speaking" watch (a question from "You" while nobody asked one).
const applyEvent = events.apply;
events.apply = (message) => {
  const ok = applyEvent(message);
  if (ok) {
    const m = normalize(message);
    watchRoles(m);
    pause.onEvent(m);
    companion.onEvent(m);
    afterMessage(m);
  }
  return ok;
};
// For tests and debugging: feed server messages by hand, e.g. roomEvents.apply({type: "caption", …}).
window.roomEvents = events;

const notice = (level, code, message) => events.renderer.notice({ level, code, message });

// Pause listening (button, Alt+P, and window.roomControls.pause for the floating window) and the
// computer-audio companion's pairing code.
const pause = createPauseControl({ send: (m) => send(m), button: $('#pause-btn'), badge: $('#paused-badge') });
const companion = initCompanion({
  sessionId, button: $('#companion-btn'), codeBox: $('#companion-code'), code: $('#companion-code-text'),
  command: $('#companion-command'), expiry: $('#companion-expiry'), msg: $('#companion-msg'),
});
window.roomControls = { pause };

function setConn(name) {
  const node = $('#conn-state');
  node.dataset.state = name;
  node.textContent = CONN_TEXT[name];
}

function setMsg(id, text, kind = '') {
  const node = $(`#${id}`);
  node.textContent = text;
  node.className = `input-msg ${kind}`;
}

function aiStatus(text) {
  clearTimeout(state.statusTimer);
  $('#ai-status').textContent = text;
  if (text) state.statusTimer = setTimeout(() => { $('#ai-status').textContent = ''; }, 6000);
}

// ---------------------------------------------------------------- loading

async function load() {
  restoreLocalState();
  fillLanguages($('#listen-lang'), { auto: true, value: 'auto' });
  fillLanguages($('#answer-lang'), { value: 'en' });
  if (!navigator.mediaDevices?.getDisplayMedia) {
    $('#share-btn').disabled = true;
    setMsg('share-msg', 'This browser cannot share tab audio (phones and some browsers cannot). Set the microphone to “Interviewer” for a test, or use a desktop browser.', 'error');
  }
  if (!sessionId) {
    showLoadError('No session was chosen.');
    $('#start-btn').disabled = true;
    return;
  }
  $('#session-link').href = `session.html?id=${encodeURIComponent(sessionId)}`;

  const [session, config, me] = await Promise.allSettled([
    api(`/api/sessions/${encodeURIComponent(sessionId)}`),
    api('/api/config', { redirectOn401: false }),
    api('/api/me'),
  ]);
  state.ice = config.status === 'fulfilled' ? normalizeIceServers(config.value?.ice_servers) : [];
  if (config.status === 'fulfilled' && config.value?.ai_provider === 'offline') {
    // known before Start (and after a reload): no AI provider is configured
    $('#ai-offline').hidden = false;
    $('#ai-offline').title ||= 'No AI provider is configured: offline talking points only; translation only from other languages into English';
  }
  if (me.status === 'fulfilled' && typeof me.value?.credits_seconds === 'number') {
    events.renderer.credits({ remaining_seconds: me.value.credits_seconds });
  }
  if (session.status === 'rejected') {
    const err = session.reason;
    showLoadError(err?.status === 404 ? 'This session was not found.' : `Could not load the session: ${errorMessage(err)}`);
    if (err?.status === 404) $('#start-btn').disabled = true;
    return;
  }
  const s = session.value;
  state.session = s;
  $('#room-title').textContent = s.title || 'Interview room';
  document.title = `${s.title || 'Room'} · Interview Room`;
  setSelect($('#listen-lang'), s.listen_language);
  setSelect($('#answer-lang'), s.answer_language);
  if (s.mode === 'mock') {
    $('#mode-hint').textContent = 'Mock interview: the AI asks the questions. Turn on your microphone and answer them; your answers are scored.';
    $('#share-box').hidden = true;
    $('#companion-box').hidden = true;
    $('#mock-panel').hidden = false;
    $('#ask-form').hidden = true; // the AI is the interviewer: no suggested answers
    $('#ai-h').textContent = 'Questions and scores';
  }
  replayHistory(s);
  restoreClock(s);
  if (s.status === 'ended' || s.ended_at) {
    state.ended = true;
    setConn('ended');
    $('#ended-banner').replaceChildren('This session has already ended. ', Object.assign(document.createElement('a'), {
      href: `session.html?id=${encodeURIComponent(sessionId)}`, textContent: 'See the transcript, answers and recording',
    }));
    $('#ended-banner').hidden = false;
    for (const id of ['start-btn', 'mic-btn', 'share-btn', 'cam-btn', 'companion-btn', 'pause-btn']) $(`#${id}`).disabled = true;
  }
}

/** Back in a session after a reload: show what was already said, asked and answered. */
function replayHistory(s) {
  for (const c of Array.isArray(s.transcript) ? s.transcript : []) {
    events.apply({ type: 'caption', ...c, final: true });
    for (const t of c.translations || []) events.apply({ type: 'translation', ref: c.id, ...t });
  }
  for (const q of Array.isArray(s.questions) ? s.questions : []) {
    events.apply({ type: 'question', id: q.id, caption_ids: q.caption_ids || [], text: q.text, lang: q.lang });
    for (const t of q.translations || []) events.apply({ type: 'translation', ref: q.id, ...t });
    if (q.answer?.text) events.apply({ type: 'answer.done', question_id: q.id, text: q.answer.text, lang: q.answer.lang });
    if (q.score) events.apply({ type: 'score', question_id: q.id, ...q.score });
  }
}

function showLoadError(text) {
  const node = $('#load-error');
  node.replaceChildren(`${text} `, Object.assign(document.createElement('a'), { href: 'sessions.html', textContent: 'Go to your sessions' }));
  node.hidden = false;
}

// ---------------------------------------------------------------- inputs

function setInput(key, stream, meterId) {
  stopInput(key);
  inputs[key].stream = stream;
  if (meterId) {
    try { inputs[key].stopMeter = attachMeter(stream, $(`#${meterId}`)); } catch { /* no WebAudio: no meter */ }
  }
  updateStartHint();
}

function stopInput(key) {
  const input = inputs[key];
  input.stopMeter?.();
  input.stream?.getTracks().forEach((t) => t.stop());
  inputs[key] = {};
  updateStartHint();
}

function setPressed(id, on, label) {
  const b = $(`#${id}`);
  b.setAttribute('aria-pressed', String(on));
  b.textContent = label;
}

async function toggleMic() {
  const track = inputs.mic.stream?.getAudioTracks()[0];
  if (track && state.started) { // live: mute / unmute (the track stays in the call)
    track.enabled = !track.enabled;
    setPressed('mic-btn', track.enabled, track.enabled ? 'Mute microphone' : 'Unmute microphone');
    setMsg('mic-msg', track.enabled ? 'Microphone on.' : 'Microphone muted: the room hears silence.', track.enabled ? 'ok' : '');
    return;
  }
  if (track) {
    stopInput('mic');
    setPressed('mic-btn', false, 'Turn on microphone');
    setMsg('mic-msg', 'Microphone off.');
    return;
  }
  await openMic();
}

async function openMic() {
  setMsg('mic-msg', 'Asking for the microphone…');
  try {
    // mock interview: the interviewer speaks from the speakers, so the microphone cancels that echo
    const stream = await getMicrophone($('#mic-device').value, state.session?.mode === 'mock' ? { echoCancellation: true } : {});
    const old = inputs.mic.stream?.getAudioTracks()[0];
    const sender = old && state.pc?.getSenders().find((s) => s.track === old);
    if (sender) await sender.replaceTrack(stream.getAudioTracks()[0]); // device switch during the call
    setInput('mic', stream, 'mic-meter');
    setPressed('mic-btn', true, state.started ? 'Mute microphone' : 'Turn off microphone');
    setMsg('mic-msg', `On: ${stream.getAudioTracks()[0]?.label || 'microphone'}. Speak to see the level move.`, 'ok');
    listMicrophones($('#mic-device')).catch(() => {});
  } catch (err) {
    setMsg('mic-msg', mediaErrorMessage(err, 'microphone'), 'error');
  }
}

async function toggleShare() {
  if (inputs.share.stream) {
    stopInput('share');
    setPressed('share-btn', false, 'Share meeting tab audio');
    setMsg('share-msg', 'Meeting audio stopped.');
    return;
  }
  let display;
  try {
    setMsg('share-msg', 'Choose the tab or window of your video call…');
    display = await navigator.mediaDevices.getDisplayMedia({ audio: true, video: true });
  } catch (err) {
    setMsg('share-msg', err?.name === 'NotAllowedError'
      ? 'Sharing was cancelled or not allowed. Click the button again and choose the tab of your video call.'
      : mediaErrorMessage(err, 'screen sharing'), 'error');
    return;
  }
  display.getVideoTracks().forEach((t) => t.stop()); // only the sound is used
  const audio = display.getAudioTracks()[0];
  if (!audio) {
    setMsg('share-msg', 'The shared tab or window has no audio. Share a browser tab and tick “Share tab audio” (on Windows, “Entire screen” with “Share system audio” also works).', 'error');
    return;
  }
  audio.addEventListener('ended', () => {
    setMsg('share-msg', 'Sharing stopped: the interviewer is no longer heard.', 'error');
    setPressed('share-btn', false, 'Share meeting tab audio');
    if (!state.started) stopInput('share');
  });
  setInput('share', new MediaStream([audio]), 'share-meter');
  setPressed('share-btn', true, 'Stop sharing');
  setMsg('share-msg', `Sharing audio from: ${audio.label || 'the chosen tab'}.`, 'ok');
}

async function toggleCam() {
  const preview = $('#cam-preview');
  if (inputs.cam.stream) {
    stopInput('cam');
    preview.srcObject = null;
    preview.hidden = true;
    setPressed('cam-btn', false, 'Turn on camera');
    setMsg('cam-msg', '');
    return;
  }
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 1280 }, height: { ideal: 720 } } });
    setInput('cam', stream);
    preview.srcObject = stream;
    preview.hidden = false;
    setPressed('cam-btn', true, 'Turn off camera');
    setMsg('cam-msg', 'The camera is sent with the call and recorded.', 'ok');
  } catch (err) {
    setMsg('cam-msg', mediaErrorMessage(err, 'camera'), 'error');
  }
}

function audioInputs() {
  return ['mic', 'share']
    .filter((key) => inputs[key].stream?.getAudioTracks().length)
    .map((key) => ({ key, stream: inputs[key].stream, role: $(`#${key}-role`).value }));
}

function updateStartHint() {
  if (state.started) return;
  const n = audioInputs().length;
  setMsg('start-msg', n ? `${n} audio input${n > 1 ? 's' : ''} ready.` : 'Turn on the microphone or share meeting audio, then press Start.');
}

function lockInputs(locked) {
  for (const id of ['share-btn', 'cam-btn']) $(`#${id}`).disabled = locked;
  if (!locked && !navigator.mediaDevices?.getDisplayMedia) $('#share-btn').disabled = true;
  const mic = inputs.mic.stream?.getAudioTracks()[0];
  $('#mic-btn').disabled = locked && !mic;
  if (mic) setPressed('mic-btn', mic.enabled, locked ? 'Mute microphone' : 'Turn off microphone');
}

// ---------------------------------------------------------------- who is speaking on each input

const ROLE_SAID = { interviewer: 'the interviewer', candidate: 'you (the candidate)' };
const roles = { asked: false, interviewerHeard: false, hintDismissed: false };

/** A question captioned as "You" while nothing was asked: the microphone is likely the interviewer's. */
function watchRoles(m) {
  if (!m) return;
  if (m.type === 'question') roles.asked = true;
  if (m.type === 'caption' && m.role === 'interviewer') roles.interviewerHeard = true;
  if (roles.asked || roles.interviewerHeard) { hideRoleHint(); return; }
  if (m.type !== 'caption' || m.role !== 'candidate' || m.final === false) return;
  if (roles.hintDismissed || state.session?.mode === 'mock' || $('#mic-role').value !== 'candidate') return;
  if (/\?\s*["”»)]?\s*$/.test(m.text)) $('#role-hint').hidden = false;
}

function hideRoleHint() {
  $('#role-hint').hidden = true;
}

/** The choice changed: before Start it is read at Start; live, the call is offered again with the new roles
 * (the server replaces the earlier connection; the recording and the session go on). */
async function rolesChanged(key) {
  const select = $(`#${key}-role`);
  saveRoomState(sessionId, { roles: { [key]: select.value } });
  if (key === 'mic' && select.value !== 'candidate') hideRoleHint();
  if (!state.started || state.ended) return;
  if (state.switching) { state.switchAgain = true; return; }
  if (state.reconnecting || !state.pc) return; // the reconnect reads the choice itself
  state.switching = true;
  setMsg(`${key}-msg`, 'Switching who is speaking…');
  try {
    do {
      state.switchAgain = false;
      const previous = state.pc;
      await connect();
      if (previous && previous !== state.pc) { try { previous.close(); } catch { /* already closed */ } }
    } while (state.switchAgain && !state.ended);
    setMsg(`${key}-msg`, `Now captioned as ${ROLE_SAID[select.value]}.`, 'ok');
  } catch (err) {
    setMsg(`${key}-msg`, `Could not switch: ${errorMessage(err)}`, 'error');
    reconnect();
  } finally {
    state.switching = false;
  }
}

// ---------------------------------------------------------------- connection

function rolesByMid(pc, roleOf) {
  const roles = {};
  for (const t of pc.getTransceivers()) {
    const track = t.sender.track;
    if (track?.kind === 'audio' && t.mid !== null && roleOf.has(track)) roles[t.mid] = roleOf.get(track);
  }
  return roles;
}

async function connect() {
  setConn(state.liveSince ? 'reconnecting' : 'connecting');
  const pc = new RTCPeerConnection({ iceServers: state.ice });
  state.pc = pc;
  const roleOf = new Map();
  for (const { stream, role } of audioInputs()) {
    for (const track of stream.getAudioTracks()) {
      pc.addTrack(track, stream);
      roleOf.set(track, role);
    }
  }
  const cam = inputs.cam.stream;
  if (cam) for (const track of cam.getVideoTracks()) pc.addTrack(track, cam);

  const dc = pc.createDataChannel('events'); // before createOffer, as the protocol requires
  dc.binaryType = 'arraybuffer';
  state.dc = dc;
  dc.addEventListener('open', sendSettings);
  dc.addEventListener('message', (e) => {
    const data = typeof e.data === 'string' ? e.data : new TextDecoder().decode(e.data);
    events.apply(data);
  });

  pc.addEventListener('connectionstatechange', () => onPcState(pc));
  pc.addEventListener('track', (e) => { // e.g. the mock interviewer's voice, if the server sends one
    const player = $('#remote-audio') || document.body.appendChild(Object.assign(document.createElement('audio'), { id: 'remote-audio', autoplay: true }));
    player.srcObject = e.streams[0] || new MediaStream([e.track]);
    player.play?.().catch(() => {}); // started by the Start click, so autoplay is allowed
  });

  await negotiate(pc, `/api/sessions/${encodeURIComponent(sessionId)}/offer`, () => ({ roles: rolesByMid(pc, roleOf) }));
}

function onPcState(pc) {
  if (pc !== state.pc || state.ended) return;
  switch (pc.connectionState) {
    case 'new':
    case 'connecting':
      setConn(state.liveSince ? 'reconnecting' : 'connecting');
      break;
    case 'connected':
      setConn('live');
      state.reconnects = 0;
      if (state.started) {
        $('#start-btn').hidden = true;
        $('.start-row').classList.remove('needed');
      }
      if (!state.liveSince) state.liveSince = performance.now();
      if (!state.startedAt) {
        state.startedAt = Date.now();
        saveRoomState(sessionId, { startedAt: state.startedAt });
      }
      startClock();
      requestWakeLock();
      break;
    case 'disconnected': // often recovers by itself; give ICE a few seconds
      setConn('reconnecting');
      setTimeout(() => { if (state.pc === pc && pc.connectionState === 'disconnected') reconnect(); }, 6000);
      break;
    case 'failed':
      reconnect();
      break;
    case 'closed':
      break;
  }
}

function closePc() {
  const pc = state.pc;
  state.pc = null;
  state.dc = null;
  try { pc?.close(); } catch { /* already closed */ }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function reconnect() {
  if (state.ended || state.reconnecting) return;
  state.reconnecting = true;
  setConn('reconnecting');
  let lastError = null;
  while (!state.ended && state.reconnects < MAX_RECONNECTS) {
    state.reconnects += 1;
    closePc();
    await sleep(1000 * state.reconnects);
    if (state.ended) break;
    try {
      await connect();
      state.reconnecting = false;
      return;
    } catch (err) {
      lastError = err;
      if ([402, 403, 404, 409, 410].includes(err?.status)) break; // the server will not take us back
    }
  }
  state.reconnecting = false;
  if (state.ended) return;
  closePc();
  setConn('disconnected');
  notice('error', 'connection_lost', `The connection was lost${lastError ? ` (${errorMessage(lastError)})` : ''}. Press Reconnect to try again.`);
  const start = $('#start-btn');
  start.textContent = 'Reconnect';
  start.disabled = false;
  start.hidden = false;
  $('.start-row').classList.add('needed');
}

async function start() {
  if (state.ended) return;
  const start = $('#start-btn');
  if (state.started) { // "Reconnect" after giving up
    start.disabled = true;
    state.reconnects = 0;
    $('#notices').querySelector('[data-code=connection_lost]')?.remove();
    await reconnect();
    return;
  }
  if (!audioInputs().length) {
    setMsg('start-msg', 'Turn on the microphone or share meeting audio first.', 'error');
    $('#mic-btn').focus();
    return;
  }
  state.started = true;
  start.disabled = true;
  lockInputs(true);
  setMsg('start-msg', 'Connecting…');
  try {
    await connect();
    setMsg('start-msg', '');
    start.hidden = true;
    compactSetup();
    $('#end-btn').disabled = false;
  } catch (err) {
    closePc();
    state.started = false;
    lockInputs(false);
    start.disabled = false;
    setConn('idle');
    setMsg('start-msg', `Could not start: ${errorMessage(err)}`, 'error');
  }
}

/** Once live, the inputs and settings shrink to a slim bar (meters, mute, who speaks); the answer comes first. */
function compactSetup() {
  $('#main').classList.add('is-live');
  $('#settings-toggle').hidden = false;
  $('#setup').classList.add('live');
  $('#setup-h').textContent = 'Inputs';
  $('#mic-box').classList.toggle('off', !inputs.mic.stream);
  $('#share-box').classList.toggle('off', !inputs.share.stream);
  $('#cam-box').classList.toggle('off', !inputs.cam.stream);
}

function elapsedSeconds() {
  return state.startedAt ? Math.max(0, (Date.now() - state.startedAt) / 1000) : null;
}

function tick() {
  const s = elapsedSeconds();
  if (s !== null) $('#elapsed').textContent = clock(s);
}

function startClock() {
  tick();
  if (!state.timer) state.timer = setInterval(tick, 1000);
}

async function requestWakeLock() {
  if (state.wakeLock || !navigator.wakeLock || document.visibilityState !== 'visible') return;
  try {
    state.wakeLock = await navigator.wakeLock.request('screen');
    state.wakeLock.addEventListener('release', () => { state.wakeLock = null; });
  } catch { /* not allowed: fine */ }
}

/** End locally; unless the server ended it, tell the server (POST /api/sessions/{id}/end). */
async function finish({ byServer = false } = {}) {
  if (state.ended || state.ending) return;
  state.ending = true;
  $('#end-btn').disabled = true;
  let endError = null;
  if (!byServer && state.started) {
    try {
      await api(`/api/sessions/${encodeURIComponent(sessionId)}/end`, { method: 'POST' });
    } catch (err) {
      endError = err;
    }
  }
  state.ended = true;
  tick();
  clearInterval(state.timer);
  popout.status();
  closePc();
  for (const key of Object.keys(inputs)) stopInput(key);
  $('#cam-preview').hidden = true;
  state.wakeLock?.release().catch(() => {});
  setConn('ended');
  for (const id of ['start-btn', 'end-btn']) $(`#${id}`).hidden = true;
  for (const id of ['mic-btn', 'share-btn', 'cam-btn', 'ask-btn', 'mock-repeat', 'mock-next', 'mock-skip', 'mock-end']) $(`#${id}`).disabled = true;
  $('#session-link').hidden = false;
  if (!byServer) {
    events.renderer.ended({ reason: 'ended_by_user' });
    if (endError) {
      notice('warning', 'end_failed', `The server did not confirm the end (${errorMessage(endError)}). It closes the session when it notices you left.`);
    }
  }
}

// ---------------------------------------------------------------- messages to the server

function send(message) {
  if (state.dc?.readyState !== 'open') return false;
  state.dc.send(JSON.stringify(message));
  return true;
}

function sendSettings() {
  send({
    type: 'settings',
    answer_language: $('#answer-lang').value,
    translate: $('#translate-toggle').getAttribute('aria-pressed') === 'true',
    listen_language: $('#listen-lang').value,
  });
}

/** Ask the AI: the typed question, or (empty, or `latest`) the latest question. Returns what it told the user. */
function ask({ latest = false } = {}) {
  const input = $('#ask-text');
  const text = latest ? '' : input.value.trim();
  let said;
  if (!send(text ? { type: 'ask', text } : { type: 'ask' })) {
    said = state.ended ? 'The session has ended.' : 'Not connected yet: press Start first.';
  } else {
    if (text) input.value = '';
    said = text ? 'Question sent to the AI…' : 'Asked the AI to answer the latest question…';
  }
  aiStatus(said);
  return said;
}

/** Mock interview controls: {"type": "mock", "action": "repeat" | "next" | "skip" | "end"}. */
function mockAction(action) {
  if (!send({ type: 'mock', action })) {
    aiStatus(state.ended ? 'The session has ended.' : 'Not connected yet: press Start first.');
    return;
  }
  aiStatus({ repeat: 'Asked the interviewer to repeat…', next: 'Moving on…', skip: 'Skipping this question…', end: 'Ending the interview…' }[action]);
}

// ---------------------------------------------------------------- answer first: pinned question, tabs, pop out

/** Back after a reload: who speaks on each input and the offline-AI badge, as they were. */
function restoreLocalState() {
  const saved = loadRoomState(sessionId);
  for (const [key, role] of Object.entries(saved.roles || {})) $(`#${key}-role`).value = role;
  if (saved.offline !== undefined) {
    const badge = $('#ai-offline');
    badge.hidden = false;
    if (saved.offline) badge.title = saved.offline;
  }
}

/** The elapsed clock of a session that already went live: from when it started, not from this page load. */
function restoreClock(s) {
  const serverStart = Date.parse(s.started_at || '');
  if (s.status === 'ended' || s.ended_at) {
    const end = Date.parse(s.ended_at || '');
    if (Number.isFinite(serverStart) && Number.isFinite(end)) $('#elapsed').textContent = clock((end - serverStart) / 1000);
    return;
  }
  const at = loadRoomState(sessionId).startedAt || (Number.isFinite(serverStart) ? serverStart : 0);
  if (!at) return;
  state.startedAt = at;
  startClock();
  $('#start-btn').textContent = 'Rejoin';
  setMsg('start-msg', 'This session is under way (a reload leaves the call). Turn your inputs on again and press Rejoin; the clock goes on.');
}

function afterMessage(m) {
  if (!m) return;
  if (m.type === 'question') pinQuestion(m);
  if ((m.type === 'notice' || m.type === 'error') && !$('#ai-offline').hidden) {
    saveRoomState(sessionId, { offline: $('#ai-offline').title || '' });
  }
  markUnread(m.type);
  popout.update(m.type);
}

/** The latest question stays on top of the answers while they scroll. */
function pinQuestion(m) {
  $('#current-question-text').textContent = m.text;
  if (m.lang && m.lang !== 'auto') $('#current-question-text').lang = m.lang;
  $('#current-question').dataset.questionId = m.id;
  $('#current-question').hidden = false;
}

// Phones: "Captions | Answer" tabs (CSS shows them at ≤ 760 px only; wider screens show both panes).
const TABS = { captions: 'captions-pane', answer: 'answer-pane' };
const narrow = window.matchMedia('(max-width: 760px)');

function selectTab(name, focus = false) {
  for (const [tab, pane] of Object.entries(TABS)) {
    const on = tab === name;
    const button = $(`#tab-${tab}`);
    button.setAttribute('aria-selected', String(on));
    button.tabIndex = on ? 0 : -1;
    if (on) delete button.dataset.unread;
    $(`#${pane}`).dataset.tabSelected = String(on);
  }
  $('#room-grid').dataset.tab = name;
  if (focus) $(`#tab-${name}`).focus();
}

function tabRoles() {
  for (const [tab, pane] of Object.entries(TABS)) {
    const node = $(`#${pane}`);
    if (narrow.matches) {
      node.setAttribute('role', 'tabpanel');
      node.setAttribute('aria-labelledby', `tab-${tab}`);
    } else {
      node.removeAttribute('role');
      node.setAttribute('aria-labelledby', tab === 'captions' ? 'captions-h' : 'ai-h');
    }
  }
}

function markUnread(type) {
  const shown = $('#room-grid').dataset.tab;
  if (type === 'caption' && shown !== 'captions') $('#tab-captions').dataset.unread = 'true';
  if ((type === 'question' || type === 'answer.done') && shown !== 'answer') $('#tab-answer').dataset.unread = 'true';
}

const popout = createPopout({
  source: document,
  onAsk: () => ask({ latest: true }),
  elapsed: elapsedSeconds,
  onState: (text) => { if (text) aiStatus(text); },
});
window.roomPopout = popout; // for tests and debugging

// ---------------------------------------------------------------- wiring

$('#mic-btn').addEventListener('click', toggleMic);
$('#mic-device').addEventListener('change', () => { if (inputs.mic.stream) openMic(); });
$('#share-btn').addEventListener('click', toggleShare);
$('#cam-btn').addEventListener('click', toggleCam);
$('#start-btn').addEventListener('click', start);
for (const key of ['mic', 'share']) $(`#${key}-role`).addEventListener('change', () => rolesChanged(key));
$('#role-hint-switch').addEventListener('click', () => {
  $('#mic-role').value = 'interviewer';
  hideRoleHint();
  rolesChanged('mic');
  $('#mic-role').focus();
});
$('#role-hint-dismiss').addEventListener('click', () => {
  roles.hintDismissed = true;
  hideRoleHint();
});
// Ending cannot be undone (the session is not restarted): ask first, the safe choice focused.
$('#end-btn').addEventListener('click', async () => {
  const sure = await confirmDanger({
    id: 'end', title: 'End this session?',
    text: 'The call stops and cannot be resumed; the recording, captions and answers so far stay in your history.',
    confirm: 'Yes, end the session', cancel: 'Keep going',
  });
  if (sure) finish();
  else $('#end-btn').focus();
});

$('#ask-form').addEventListener('submit', (e) => { e.preventDefault(); ask(); });
for (const action of ['repeat', 'next', 'skip']) $(`#mock-${action}`).addEventListener('click', () => mockAction(action));
$('#mock-end').addEventListener('click', async () => {
  const sure = await confirmDanger({
    id: 'mock-end', title: 'End the interview now?',
    text: 'The interviewer stops asking; your report covers the questions answered so far. This cannot be undone.',
    confirm: 'Yes, end the interview', cancel: 'Keep going',
  });
  if (sure) mockAction('end');
  else $('#mock-end').focus();
});
document.addEventListener('keydown', (e) => {
  if (e.altKey && !e.ctrlKey && !e.metaKey && (e.code === 'KeyA' || e.key?.toLowerCase() === 'a')) {
    e.preventDefault();
    ask();
  }
  if (e.altKey && !e.ctrlKey && !e.metaKey && (e.code === 'KeyP' || e.key?.toLowerCase() === 'p')) {
    e.preventDefault();
    if (!pause.toggle()) aiStatus(state.ended ? 'The session has ended.' : 'Not connected yet: press Start first.');
  }
});
$('#pause-btn').addEventListener('click', () => {
  if (state.dc?.readyState !== 'open') aiStatus(state.ended ? 'The session has ended.' : 'Not connected yet: press Start first.');
});

for (const id of ['answer-lang', 'listen-lang']) $(`#${id}`).addEventListener('change', sendSettings);
$('#translate-toggle').addEventListener('click', (e) => {
  const on = e.currentTarget.getAttribute('aria-pressed') !== 'true';
  e.currentTarget.setAttribute('aria-pressed', String(on));
  sendSettings();
});
$('#autoscroll').addEventListener('click', (e) => {
  const on = e.currentTarget.getAttribute('aria-pressed') !== 'true';
  e.currentTarget.setAttribute('aria-pressed', String(on));
  if (on) $('#ai-pane').scrollTop = $('#ai-pane').scrollHeight;
});
$('#web-toggle').addEventListener('click', (e) => {
  const open = e.currentTarget.getAttribute('aria-expanded') !== 'true';
  e.currentTarget.setAttribute('aria-expanded', String(open));
  $('#web-pane').hidden = !open;
  $('#room-grid').classList.toggle('with-web', open);
  if (open) $('#web-url').focus();
});
initWebPane({ form: $('#web-form'), input: $('#web-url'), frame: $('#web-frame'), openLink: $('#web-open'), status: $('#web-status') });

$('#settings-toggle').addEventListener('click', (e) => {
  const open = e.currentTarget.getAttribute('aria-expanded') !== 'true';
  e.currentTarget.setAttribute('aria-expanded', String(open));
  $('#main').classList.toggle('show-settings', open);
});
for (const tab of Object.keys(TABS)) $(`#tab-${tab}`).addEventListener('click', () => selectTab(tab));
$('.room-tabs').addEventListener('keydown', (e) => {
  if (e.key !== 'ArrowLeft' && e.key !== 'ArrowRight') return;
  e.preventDefault();
  selectTab($('#room-grid').dataset.tab === 'answer' ? 'captions' : 'answer', true);
});
narrow.addEventListener('change', tabRoles);
selectTab('answer');
tabRoles();
$('#popout-btn').addEventListener('click', () => popout.open());

document.addEventListener('visibilitychange', () => { if (state.pc?.connectionState === 'connected') requestWakeLock(); });
window.addEventListener('beforeunload', (e) => {
  if (state.started && !state.ended) e.preventDefault();
});
window.addEventListener('pagehide', () => {
  closePc();
  popout.close();
});

updateStartHint();
load();
