// The candidate's recorded interview, reached by the link alone (token in the URL fragment, so it
// never reaches a log or a Referer). Intro and consent, device check, then per question: think time,
// recording over WebRTC (one peer connection per attempt), retakes while any are left; each saved take
// can be watched (fetched with the link's token) before retaking or moving on; an optional practice
// question (not scored, not shown to the hiring team) comes before the first real one; the same link
// resumes at the first unanswered question.
import { errorMessage, request } from './api.js';
import { attachMeter, getMicAndCamera, stopStream } from './media.js';
import { renderHeader } from './nav.js';
import { negotiate, normalizeIceServers } from './rtc.js';
import { $, mmss } from './util.js';

renderHeader({ nav: false, brand: 'Video interview', brandId: 'brand' });

const token = decodeURIComponent(location.hash.slice(1));
const base = '/api/c';

/** The candidate API: the site's one request(), the link's token in a header (never in a path, which lands in
 * access logs), no cookies, nothing cached. */
function api(path, { method = 'GET', body, blob } = {}) {
  return request(path, {
    method, body, blob, headers: { 'X-Candidate-Token': token }, credentials: 'omit', cache: 'no-store',
  }).then((data) => data ?? {});
}
const SECTIONS = ['loading', 'gone', 'intro', 'check', 'question', 'thanks'];
let state = null;
let withVideo = true;
let checkStream = null;
let rec = null;        // {q, pc, stream, meter} while an attempt is open
let tick = null;
let busy = false;
let practiceDone = false; // the candidate moved on from (or skipped) the practice question
let takeUrl = null;       // object URL of the take shown in the player

/** Test and debugging hook: what the server said on the data channel during this page's attempts. */
window.candidatePage = { captions: [], events: 0 };

function show(id) {
  for (const s of SECTIONS) $(`#${s}`).hidden = s !== id;
}
function say(text) { $('#status').textContent = text; }
function fail(text) { $('#error').textContent = text; $('#error').hidden = !text; }
function phase(p) { $('#question').dataset.phase = p; }

/** STUN/TURN for this link (no account here: the link vouches for the TURN credentials). */
async function linkIceServers() {
  try {
    return normalizeIceServers((await api(`${base}/config`))?.ice_servers);
  } catch {
    return [];
  }
}

const GONE = {
  link_expired: 'The deadline for this interview has passed.',
  link_revoked: 'The hiring team has withdrawn this invitation.',
};

async function call(path, method = 'GET') {
  try {
    return await api(base + path, { method });
  } catch (err) {
    if (err.status === 410 || err.status === 404) {
      $('#gone-text').textContent = GONE[err.code] || 'This interview link is not valid. Check that you copied all of it.';
      $('#gone').dataset.code = err.code;
      fail('');
      say('');
      teardown();
      show('gone');
    }
    throw err;
  }
}

function current() { return state.questions.find((q) => !q.answered) || null; }
function isPractice(q) { return q?.index === 'practice'; }
/** A question by its index as the page keeps it (a number, or 'practice'). */
function byIndex(i) { return String(i) === 'practice' ? state.practice : state.questions[Number(i)]; }
/** The practice question while it is still to do, else the first unanswered real one. */
function upcoming() {
  const p = state.practice;
  if (p && p.available && !p.answered && !practiceDone) return p;
  return current();
}
function answerName(q) { return isPractice(q) ? 'Practice answer' : `Answer ${q.index + 1}`; }

function countdown(seconds, label, done) {
  clearInterval(tick);
  let left = Math.max(0, Math.round(seconds));
  const draw = () => { $('#timer').textContent = `${label}: ${mmss(left)}`; };
  if (left <= 0) { $('#timer').textContent = ''; done(); return; }
  draw();
  tick = setInterval(() => {
    left -= 1;
    if (left <= 0) { clearInterval(tick); done(); } else draw();
  }, 1000);
}

async function openMedia() {
  const audio = { echoCancellation: true, noiseSuppression: true };
  const video = withVideo && { width: 640, height: 360, frameRate: 15 };
  const got = await getMicAndCamera({ audio, video });
  withVideo = got.video; // no camera: audio only from now on
  return got.stream;
}

function clearTake() {
  const player = $('#take-player');
  player.pause();
  player.removeAttribute('src');
  player.hidden = true;
  $('#take-box').hidden = true;
  $('#take-msg').textContent = '';
  if (takeUrl) URL.revokeObjectURL(takeUrl);
  takeUrl = null;
}

/** The saved take, fetched with the link's token (a <video src> could not send the header). */
async function watchTake(q) {
  clearTake();
  $('#take-box').hidden = false;
  $('#take-msg').textContent = 'Loading your answer…';
  $('#watch-btn').disabled = true;
  try {
    takeUrl = URL.createObjectURL(await api(`${base}/answers/${q.index}/recording`, { blob: true }));
    const player = $('#take-player');
    player.setAttribute('aria-label', `Your recorded answer: ${isPractice(q) ? 'practice question' : `question ${q.index + 1}`}`);
    player.src = takeUrl;
    player.hidden = false;
    $('#take-msg').textContent = 'This is what the recording holds. Retake it or move on when you are happy.';
    player.focus();
  } catch (err) {
    $('#take-msg').textContent = `Your answer could not be loaded: ${errorMessage(err)}`;
  } finally {
    $('#watch-btn').disabled = false;
  }
}

function teardown() {
  clearInterval(tick);
  if (rec) {
    rec.meter?.();
    rec.pc?.close();
    stopStream(rec.stream);
    rec = null;
  }
  stopStream(checkStream);
  checkStream = null;
}

// ---------- question screen
function renderQuestion(q, recorded = false) {
  show('question');
  fail('');
  clearTake();
  const practice = isPractice(q);
  $('#question').dataset.index = q.index;
  $('#question').dataset.practice = practice ? '1' : '';
  $('#progress').max = state.total;
  $('#progress').value = state.answered;
  $('#progress-label').textContent = `${state.answered} of ${state.total} answered`;
  $('#q-title').textContent = practice ? 'Practice question (not scored)' : `Question ${q.index + 1} of ${state.total}`;
  $('#practice-note').hidden = !practice;
  $('#q-text').textContent = q.text;
  $('#q-rules').textContent = `Think time ${mmss(q.think_seconds)}, answer time up to ${mmss(q.answer_seconds)}. `
    + (practice ? `Up to ${q.retakes + 1} tries.` : q.retakes ? `Retakes allowed: ${q.retakes}.` : 'One take, no retakes.');
  $('#record-btn').hidden = recorded;
  $('#record-btn').disabled = false;
  $('#stop-btn').hidden = true;
  $('#self-view').hidden = true;
  $('#rec-meter-box').hidden = true;
  $('#retake-btn').hidden = !recorded || q.retakes_left <= 0;
  $('#retake-btn').textContent = `${practice ? 'Try again' : 'Retake'} (${q.retakes_left} left)`;
  $('#watch-btn').hidden = !recorded;
  $('#watch-btn').disabled = false;
  $('#skip-practice-btn').hidden = !practice || recorded;
  const last = q.index === state.total - 1;
  $('#next-btn').hidden = !recorded;
  $('#next-btn').textContent = practice ? 'Start the interview' : last ? 'Finish interview' : 'Next question';
  if (recorded) {
    phase('saved');
    $('#timer').textContent = '';
    say(`${answerName(q)} saved.`);
    $('#next-btn').focus();
  } else {
    phase('think');
    say('');
    countdown(q.think_seconds, 'Think time', () => record(q));
  }
}

async function record(q) {
  if (busy || rec) return;
  busy = true;
  clearInterval(tick);
  $('#record-btn').disabled = true;
  $('#retake-btn').hidden = true;
  $('#next-btn').hidden = true;
  $('#watch-btn').hidden = true;
  $('#skip-practice-btn').hidden = true;
  clearTake();
  phase('connecting');
  $('#timer').textContent = 'Connecting…';
  fail('');
  try {
    const stream = await openMedia();
    rec = { q, stream, pc: null, meter: null };
    const started = await call(`/answers/${q.index}/start`, 'POST');
    const pc = new RTCPeerConnection({ iceServers: await linkIceServers() });
    rec.pc = pc;
    for (const t of stream.getTracks()) pc.addTrack(t, stream);
    const events = pc.createDataChannel('events'); // before the offer (PROTOCOL.md)
    events.onmessage = (e) => {
      let m;
      try { m = JSON.parse(e.data); } catch { return; }
      window.candidatePage.events += 1;
      if (m.type === 'caption' && m.final) window.candidatePage.captions.push({ question: q.index, attempt: started.attempt, text: m.text });
    };
    pc.addEventListener('connectionstatechange', () => {
      if (rec?.pc === pc && pc.connectionState === 'failed') {
        fail('The connection was lost. Your answer so far is saved; stop and retake it if you can.');
      }
    });
    await negotiate(pc, `${base}/answers/${q.index}/offer`, () => ({}), (url, body) => api(url, { method: 'POST', body }));
    $('#record-btn').hidden = true;
    $('#stop-btn').hidden = false;
    $('#stop-btn').disabled = false;
    if (withVideo) { $('#self-view').srcObject = stream; $('#self-view').hidden = false; }
    $('#rec-meter-box').hidden = false;
    rec.meter = attachMeter(stream, $('#rec-level'));
    phase('recording');
    say(`Recording ${answerName(q).toLowerCase()} (take ${started.attempt}).`);
    $('#stop-btn').focus();
    countdown(q.answer_seconds, 'Recording, time left', () => stop());
  } catch (err) {
    const gone = !$('#gone').hidden;
    teardown();
    if (!gone) {
      phase('error');
      $('#timer').textContent = '';
      $('#record-btn').hidden = false;
      $('#record-btn').disabled = false;
      $('#record-btn').textContent = 'Try again';
      fail(err?.name === 'NotAllowedError'
        ? 'The browser did not allow the camera or microphone. Allow them in the address bar, then try again.'
        : `Recording could not start: ${errorMessage(err)}`);
    }
  } finally {
    busy = false;
  }
}

async function stop() {
  if (busy || !rec) return;
  busy = true;
  const { q } = rec;
  clearInterval(tick);
  $('#stop-btn').disabled = true;
  phase('saving');
  $('#timer').textContent = 'Saving…';
  teardown();
  try {
    state = await call(`/answers/${q.index}/finish`, 'POST');
    renderQuestion(byIndex(q.index), true);
  } catch (err) {
    if ($('#gone').hidden) {
      fail(`Your answer could not be saved: ${errorMessage(err)}`);
      $('#record-btn').hidden = false;
      $('#record-btn').textContent = 'Record again';
      $('#record-btn').disabled = false;
    }
  } finally {
    busy = false;
  }
}

async function next() {
  if (isPractice(byIndex($('#question').dataset.index ?? ''))) practiceDone = true;
  const q = upcoming();
  if (q) { $('#record-btn').textContent = 'Start recording now'; renderQuestion(q); return; }
  $('#next-btn').disabled = true;
  try {
    state = await call('/complete', 'POST');
    teardown();
    show('thanks');
    say('');
  } catch (err) {
    if ($('#gone').hidden) fail(errorMessage(err));
  } finally {
    $('#next-btn').disabled = false;
  }
}

// ---------- device check
async function deviceCheck() {
  show('check');
  $('#check-ok').disabled = true;
  $('#check-retry').hidden = true;
  $('#check-msg').textContent = 'Opening your camera and microphone…';
  stopStream(checkStream);
  try {
    checkStream = await openMedia();
  } catch (err) {
    $('#check-msg').textContent = err?.name === 'NotAllowedError'
      ? 'The browser did not allow the microphone. Allow it in the address bar, then try again.'
      : `No microphone was found: ${errorMessage(err)}`;
    $('#check-retry').hidden = false;
    return;
  }
  $('#preview').hidden = !withVideo;
  $('#preview').srcObject = withVideo ? checkStream : null;
  $('#check-msg').textContent = withVideo ? 'Camera and microphone are on.' : 'No camera found: your answers are recorded as audio.';
  const stopMeter = attachMeter(checkStream, $('#level'));
  $('#check-ok').disabled = false;
  $('#check-ok').focus();
  $('#check-ok').onclick = () => {
    stopMeter();
    stopStream(checkStream);
    checkStream = null;
    next();
  };
}

async function main() {
  if (!token) {
    $('#gone-text').textContent = 'This interview link is incomplete. Open the whole link from your invitation.';
    show('gone');
    return;
  }
  try {
    state = await call('/state');
  } catch (err) {
    if ($('#gone').hidden) { show('intro'); fail(`The interview could not be loaded: ${errorMessage(err)}`); }
    return;
  }
  const iv = state.interview;
  $('#title').textContent = iv.title;
  $('#brand').textContent = iv.company_name || 'Video interview';
  $('#company').textContent = iv.company_name ? `${iv.company_name} · recorded video interview` : '';
  document.title = `${iv.title} · Video interview`;
  if (state.candidate.status === 'completed') { show('thanks'); return; }
  $('#intro-text').textContent = iv.intro_text || 'Answer each question on camera. No account is needed.';
  const secs = state.questions.reduce((s, q) => s + q.answer_seconds, 0);
  $('#intro-facts').replaceChildren(...[
    `${state.total} question${state.total === 1 ? '' : 's'}, up to ${Math.ceil(secs / 60)} minutes of answers in total.`,
    'Each question is shown with some time to think; recording then starts by itself.',
    'You can watch each answer after recording it, before you retake it or move on.',
    ...(state.practice?.available ? ['A practice question comes first: it is not scored and the hiring team does not see it.'] : []),
    'You can stop and come back to this link later: saved answers are kept.',
  ].map((t) => Object.assign(document.createElement('li'), { textContent: t })));
  $('#deadline').textContent = iv.deadline ? `Please finish before ${new Date(iv.deadline).toLocaleString()}.` : '';
  const days = state.privacy?.retention_days;
  if (days) $('#privacy-kept').textContent = `Kept: ${days} days after you complete the interview (or your link runs out), then erased; the hiring team can delete it sooner.`;
  if (state.answered > 0) {
    $('#resume-note').textContent = `Welcome back: ${state.answered} of ${state.total} answers are saved. You continue with the next question.`;
    $('#resume-note').hidden = false;
  }
  $('#consent-box').checked = state.candidate.consented;
  $('#consent-btn').disabled = !state.candidate.consented;
  show('intro');
}

$('#consent-box').addEventListener('change', () => { $('#consent-btn').disabled = !$('#consent-box').checked; });
$('#consent-btn').addEventListener('click', async () => {
  $('#consent-btn').disabled = true;
  try {
    if (!state.candidate.consented) state = await call('/consent', 'POST');
    await deviceCheck();
  } catch (err) {
    if ($('#gone').hidden) fail(errorMessage(err));
  } finally {
    $('#consent-btn').disabled = !$('#consent-box').checked;
  }
});
$('#check-retry').addEventListener('click', () => deviceCheck());
$('#record-btn').addEventListener('click', () => {
  const q = byIndex($('#question').dataset.index);
  if (q) record(q);
});
$('#stop-btn').addEventListener('click', () => stop());
$('#retake-btn').addEventListener('click', () => {
  const q = byIndex($('#question').dataset.index);
  if (q) { $('#record-btn').textContent = 'Start recording now'; renderQuestion(q); }
});
$('#watch-btn').addEventListener('click', () => {
  const q = byIndex($('#question').dataset.index);
  if (q) watchTake(q);
});
$('#skip-practice-btn').addEventListener('click', () => { clearInterval(tick); next(); });
$('#next-btn').addEventListener('click', () => next());
window.addEventListener('pagehide', () => { teardown(); clearTake(); });
window.addEventListener('hashchange', () => location.reload()); // another link pasted into this tab
main();
