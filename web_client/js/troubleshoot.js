// Troubleshooting: mic meter, speaker tone, WebRTC check with ping/pong RTT, /health, permissions.
import { api, errorMessage } from './api.js';
import { initNav } from './nav.js';
import { $, el } from './util.js';
import { attachMeter, getMicrophone, listMicrophones, mediaErrorMessage, playTone } from './media.js';
import { iceServers, negotiate, selectedPair } from './rtc.js';

initNav();

// ---------- microphone
let mic = null;
let stopMeter = null;
function stopMic() {
  stopMeter?.();
  mic?.getTracks().forEach((t) => t.stop());
  mic = null;
  stopMeter = null;
  $('#t-mic-btn').setAttribute('aria-pressed', 'false');
  $('#t-mic-btn').textContent = 'Test microphone';
}
async function startMic() {
  stopMic();
  const msg = $('#t-mic-msg');
  try {
    mic = await getMicrophone($('#t-mic-device').value);
    stopMeter = attachMeter(mic, $('#t-mic-meter'));
    $('#t-mic-btn').setAttribute('aria-pressed', 'true');
    $('#t-mic-btn').textContent = 'Stop microphone test';
    msg.className = 'input-msg ok';
    msg.textContent = `Listening to ${mic.getAudioTracks()[0]?.label || 'the microphone'}. Speak: the bar should move.`;
    listMicrophones($('#t-mic-device')).catch(() => {});
  } catch (err) {
    msg.className = 'input-msg error';
    msg.textContent = mediaErrorMessage(err, 'microphone');
  }
  refreshPermissions();
}
$('#t-mic-btn').addEventListener('click', () => (mic ? stopMic() : startMic()));
$('#t-mic-device').addEventListener('change', () => { if (mic) startMic(); });

// ---------- speakers
$('#t-tone-btn').addEventListener('click', async (e) => {
  const button = e.currentTarget;
  button.disabled = true;
  $('#t-tone-msg').textContent = 'Playing a 440 Hz tone…';
  try {
    await playTone({ frequency: 440, seconds: 1.2 });
    $('#t-tone-msg').textContent = 'Done. Did you hear it?';
  } catch (err) {
    $('#t-tone-msg').textContent = `Could not play sound: ${errorMessage(err)}`;
  } finally {
    button.disabled = false;
  }
});

// ---------- WebRTC check
const log = (line) => {
  const node = $('#t-rtc-log');
  node.hidden = false;
  node.textContent += `${line}\n`;
};
function result(text, ok) {
  const node = $('#t-rtc-result');
  node.textContent = text;
  node.className = `check-result ${ok === undefined ? '' : ok ? 'ok' : 'bad'}`;
}
function facts(pairs) {
  $('#t-rtc-facts').replaceChildren(...pairs.flatMap(([k, v]) => [el('dt', { text: k }), el('dd', { text: v })]));
}

function waitOpen(dc, pc, ms) {
  return new Promise((resolve, reject) => {
    if (dc.readyState === 'open') { resolve(); return; }
    const timer = setTimeout(() => reject(new Error(`no data channel after ${ms / 1000} s (ICE state: ${pc.iceConnectionState})`)), ms);
    dc.addEventListener('open', () => { clearTimeout(timer); resolve(); });
    pc.addEventListener('iceconnectionstatechange', () => {
      if (pc.iceConnectionState === 'failed') { clearTimeout(timer); reject(new Error('ICE failed: no network path to the media server')); }
    });
  });
}

async function rtcCheck() {
  const button = $('#t-rtc-btn');
  button.disabled = true;
  $('#t-rtc-log').textContent = '';
  facts([]);
  result('Checking…');
  let pc = null;
  try {
    const ice = await iceServers();
    log(`ICE servers: ${ice.length ? ice.map((s) => [].concat(s.urls).join(' ')).join(', ') : 'none (direct connection only)'}`);
    pc = new RTCPeerConnection({ iceServers: ice });
    pc.addEventListener('iceconnectionstatechange', () => log(`ICE: ${pc.iceConnectionState}`));
    const dc = pc.createDataChannel('events');
    const pongs = new Map();
    dc.addEventListener('message', (e) => {
      try {
        const m = JSON.parse(typeof e.data === 'string' ? e.data : new TextDecoder().decode(e.data));
        if (m.type === 'pong' && pongs.has(String(m.id))) pongs.get(String(m.id))(performance.now());
      } catch { /* not JSON: ignore */ }
    });
    log('Gathering candidates and sending the offer…');
    await negotiate(pc, '/api/troubleshoot/offer');
    log('Answer received.');
    await waitOpen(dc, pc, 10000);
    log('Data channel open.');

    const rtts = [];
    for (let n = 1; n <= 5; n += 1) {
      const t = performance.now();
      const got = new Promise((resolve) => {
        pongs.set(String(n), resolve);
        setTimeout(() => resolve(null), 3000);
      });
      dc.send(JSON.stringify({ type: 'ping', id: n, t }));
      const at = await got;
      if (at !== null) rtts.push(at - t);
      log(at === null ? `ping ${n}: no answer` : `ping ${n}: ${(at - t).toFixed(1)} ms`);
    }
    const pair = await selectedPair(pc).catch(() => null);
    const rows = [['ICE connection', pc.iceConnectionState]];
    if (pair?.local) rows.push(['Local candidate', pair.local]);
    if (pair?.remote) rows.push(['Server candidate', pair.remote]);
    if (rtts.length) {
      const avg = rtts.reduce((a, b) => a + b, 0) / rtts.length;
      rows.push(['Round trip', `${avg.toFixed(1)} ms average, ${Math.min(...rtts).toFixed(1)} ms best (${rtts.length}/5 answered)`]);
      result(avg < 300 ? `Connected. Round trip ${avg.toFixed(0)} ms: good.` : `Connected, but slow: ${avg.toFixed(0)} ms round trip.`, avg < 300);
    } else {
      result('Connected, but the server did not answer pings.', false);
    }
    facts(rows);
  } catch (err) {
    result(`Connection check failed: ${errorMessage(err)}`, false);
    log(`Error: ${errorMessage(err)}`);
    if (pc) facts([['ICE connection', pc.iceConnectionState]]);
  } finally {
    pc?.close();
    button.disabled = false;
  }
}
$('#t-rtc-btn').addEventListener('click', rtcCheck);

// ---------- health
async function health() {
  const node = $('#t-health-result');
  node.className = 'check-result';
  node.textContent = 'Checking…';
  const t = performance.now();
  try {
    const res = await fetch('/health', { cache: 'no-store' });
    const ms = (performance.now() - t).toFixed(0);
    const text = (await res.text()).slice(0, 200);
    node.className = `check-result ${res.ok ? 'ok' : 'bad'}`;
    node.textContent = res.ok ? `Server is up (${ms} ms). ${text.startsWith('<') ? '' : text}` : `Server answered ${res.status}.`;
  } catch {
    node.className = 'check-result bad';
    node.textContent = 'Cannot reach the server.';
  }
}
$('#t-health-btn').addEventListener('click', health);

// ---------- permissions and features
const PERM_TEXT = { granted: 'Allowed', denied: 'Blocked', prompt: 'Will ask' };
async function refreshPermissions() {
  const rows = [];
  for (const name of ['microphone', 'camera']) {
    let text = 'Unknown (this browser does not report it)';
    try {
      const status = await navigator.permissions.query({ name });
      text = PERM_TEXT[status.state] || status.state;
      status.onchange = refreshPermissions;
    } catch { /* unsupported name */ }
    rows.push([name === 'microphone' ? 'Microphone' : 'Camera', text]);
  }
  $('#t-perms').replaceChildren(...rows.flatMap(([k, v]) => [el('dt', { text: k }), el('dd', { text: v })]));
}

function capabilities() {
  const yes = (b) => (b ? 'Yes' : 'No');
  const rows = [
    ['Secure page', yes(window.isSecureContext)],
    ['Microphone access', yes(navigator.mediaDevices?.getUserMedia)],
    ['Share tab audio', yes(navigator.mediaDevices?.getDisplayMedia)],
    ['WebRTC', yes(window.RTCPeerConnection)],
    ['Web Audio', yes(window.AudioContext || window.webkitAudioContext)],
  ];
  $('#t-caps').replaceChildren(...rows.flatMap(([k, v]) => [el('dt', { text: k }), el('dd', { text: v })]));
}

refreshPermissions();
capabilities();
health();
