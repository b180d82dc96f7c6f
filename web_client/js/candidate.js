// The candidate's recorded interview, reached by the link alone (token in the URL fragment).
// Intro and consent, device check, then per question: think time, recording over WebRTC, retakes.
import { api, errorMessage } from './api.js';
import { iceServers, negotiate } from './rtc.js';

const token = location.hash.slice(1);
const base = `/api/c/${encodeURIComponent(token)}`;
const $ = (id) => document.getElementById(id);
let state = null;
let stream = null;
let pc = null;
let tick = null;

function show(id) {
  for (const s of ['gone', 'intro', 'check', 'question', 'thanks']) $(s).hidden = s !== id;
}

function say(text) { $('status').textContent = text; }

async function call(path, method = 'GET') {
  try {
    return await api(base + path, { method, redirectOn401: false });
  } catch (err) {
    if (err.status === 410 || err.status === 404) {
      $('gone-text').textContent = err.code === 'link_expired' ? 'The deadline for this interview has passed.'
        : err.code === 'link_revoked' ? 'The hiring team has withdrawn this invitation.'
          : 'This interview link is not valid. Check that you copied all of it.';
      show('gone');
    } else {
      say(errorMessage(err));
    }
    throw err;
  }
}

function current() { return state.questions.find((q) => !q.answered) || null; }

function countdown(seconds, label, done) {
  clearInterval(tick);
  let left = seconds;
  const draw = () => { $('timer').textContent = `${label}: ${left} s`; };
  draw();
  tick = setInterval(() => {
    left -= 1;
    if (left <= 0) { clearInterval(tick); done(); } else draw();
  }, 1000);
}

function renderQuestion(q, recorded = false) {
  show('question');
  $('progress').max = state.total;
  $('progress').value = state.answered;
  $('q-title').textContent = `Question ${q.index + 1} of ${state.total}`;
  $('q-text').textContent = q.text;
  $('record-btn').hidden = recorded;
  $('stop-btn').hidden = true;
  $('retake-btn').hidden = !recorded || q.retakes_left <= 0;
  $('next-btn').hidden = !recorded;
  if (!recorded) countdown(q.think_seconds, 'Think time', () => record(q));
}

async function record(q) {
  clearInterval(tick);
  $('record-btn').hidden = true;
  const started = await call(`/answers/${q.index}/start`, 'POST');
  pc = new RTCPeerConnection({ iceServers: await iceServers() });
  for (const t of stream.getTracks()) pc.addTrack(t, stream);
  pc.createDataChannel('events');
  await negotiate(pc, `${base}/answers/${q.index}/offer`);
  say(`Recording (attempt ${started.attempt}).`);
  $('stop-btn').hidden = false;
  countdown(q.answer_seconds, 'Time left', () => stop(q));
}

async function stop(q) {
  clearInterval(tick);
  $('stop-btn').hidden = true;
  $('timer').textContent = '';
  pc?.close();
  pc = null;
  state = await call(`/answers/${q.index}/finish`, 'POST');
  say('Answer saved.');
  renderQuestion(state.questions[q.index], true);
}

async function next() {
  const q = current();
  if (q) { renderQuestion(q); return; }
  state = await call('/complete', 'POST');
  stream?.getTracks().forEach((t) => t.stop());
  show('thanks');
}

async function deviceCheck() {
  show('check');
  stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: true })
    .catch(() => navigator.mediaDevices.getUserMedia({ audio: true }));
  $('preview').srcObject = stream;
  const ctx = new AudioContext();
  const analyser = ctx.createAnalyser();
  ctx.createMediaStreamSource(stream).connect(analyser);
  const buf = new Float32Array(analyser.fftSize);
  const meter = () => {
    analyser.getFloatTimeDomainData(buf);
    $('level').value = Math.min(1, Math.sqrt(buf.reduce((s, x) => s + x * x, 0) / buf.length) * 5);
    if (!$('check').hidden) requestAnimationFrame(meter);
  };
  meter();
}

async function main() {
  state = await call('');
  $('title').textContent = state.interview.title;
  $('company').textContent = state.interview.company_name;
  if (state.candidate.status === 'completed') { show('thanks'); return; }
  $('intro-text').textContent = state.interview.intro_text;
  $('deadline').textContent = state.interview.deadline ? `Please finish before ${new Date(state.interview.deadline).toLocaleString()}.` : '';
  show('intro');
  $('consent-box').checked = state.candidate.consented;
  $('consent-btn').disabled = !state.candidate.consented;
}

$('consent-box').addEventListener('change', () => { $('consent-btn').disabled = !$('consent-box').checked; });
$('consent-btn').addEventListener('click', async () => { state = await call('/consent', 'POST'); await deviceCheck(); });
$('check-ok').addEventListener('click', () => next());
$('record-btn').addEventListener('click', () => record(current()));
$('stop-btn').addEventListener('click', () => stop(state.questions.find((q) => q.index === Number($('q-title').textContent.split(' ')[1]) - 1)));
$('retake-btn').addEventListener('click', () => { const i = Number($('q-title').textContent.split(' ')[1]) - 1; record(state.questions[i]); });
$('next-btn').addEventListener('click', () => next());
main().catch(() => {});
