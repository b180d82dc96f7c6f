// Audio helpers: one shared AudioContext, level meters (AnalyserNode), a test tone, friendly errors.

let ctx = null;

export function audioContext() {
  ctx ??= new (window.AudioContext || window.webkitAudioContext)();
  if (ctx.state === 'suspended') ctx.resume().catch(() => {});
  return ctx;
}

/** Drive a <meter min=0 max=1> from a stream's audio. Returns stop(). */
export function attachMeter(stream, meter) {
  const ac = audioContext();
  const source = ac.createMediaStreamSource(stream);
  const analyser = ac.createAnalyser();
  analyser.fftSize = 1024;
  source.connect(analyser);
  const buf = new Float32Array(analyser.fftSize);
  let frame = 0;
  let last = 0;
  const tick = (now) => {
    frame = requestAnimationFrame(tick);
    if (now - last < 50) return; // 20 updates a second is plenty
    last = now;
    analyser.getFloatTimeDomainData(buf);
    let sum = 0;
    for (const v of buf) sum += v * v;
    const db = 20 * Math.log10(Math.sqrt(sum / buf.length) || 1e-8);
    meter.value = Math.min(1, Math.max(0, (db + 60) / 60)); // −60 dBFS … 0 dBFS
  };
  frame = requestAnimationFrame(tick);
  return () => {
    cancelAnimationFrame(frame);
    try { source.disconnect(); } catch { /* already */ }
    meter.value = 0;
  };
}

/** Play a short sine tone on the default output. Resolves when done. */
export function playTone({ frequency = 440, seconds = 1.2, volume = 0.2 } = {}) {
  const ac = audioContext();
  const osc = ac.createOscillator();
  const gain = ac.createGain();
  osc.frequency.value = frequency;
  const t = ac.currentTime;
  gain.gain.setValueAtTime(0, t);
  gain.gain.linearRampToValueAtTime(volume, t + 0.05);
  gain.gain.setValueAtTime(volume, t + seconds - 0.1);
  gain.gain.linearRampToValueAtTime(0, t + seconds);
  osc.connect(gain).connect(ac.destination);
  osc.start(t);
  osc.stop(t + seconds);
  return new Promise((resolve) => { osc.onended = resolve; });
}

export const MIC_CONSTRAINTS = { echoCancellation: false, noiseSuppression: false, autoGainControl: false };

/** `overrides`: e.g. {echoCancellation: true} in a mock interview, where the interviewer speaks from the speakers. */
export function getMicrophone(deviceId, overrides = {}) {
  if (!navigator.mediaDevices?.getUserMedia) {
    return Promise.reject(Object.assign(new Error('insecure'), { name: 'NotSupportedError' }));
  }
  const base = { ...MIC_CONSTRAINTS, ...overrides };
  const audio = deviceId ? { ...base, deviceId: { exact: deviceId } } : base;
  return navigator.mediaDevices.getUserMedia({ audio });
}

/**
 * Microphone and, when `video` asks for it, camera. No camera (or a broken one) falls back to audio only;
 * a refused permission does not. Resolves to {stream, video: whether the stream has the camera}.
 */
export async function getMicAndCamera({ audio = true, video = false } = {}) {
  if (!navigator.mediaDevices?.getUserMedia) {
    throw Object.assign(new Error('insecure'), { name: 'NotSupportedError' });
  }
  if (video) {
    try {
      return { stream: await navigator.mediaDevices.getUserMedia({ audio, video }), video: true };
    } catch (err) {
      if (err?.name === 'NotAllowedError') throw err;
    }
  }
  return { stream: await navigator.mediaDevices.getUserMedia({ audio }), video: false };
}

/** Stop every track of a stream (null is fine). */
export function stopStream(stream) {
  stream?.getTracks().forEach((t) => t.stop());
}

export function mediaErrorMessage(err, what = 'microphone') {
  switch (err?.name) {
    case 'NotAllowedError':
    case 'PermissionDeniedError':
      return `Access to the ${what} was denied. Allow it in your browser's site settings (the icon left of the address) and try again.`;
    case 'NotFoundError':
    case 'DevicesNotFoundError':
    case 'OverconstrainedError':
      return `No ${what} was found. Plug one in or pick another device.`;
    case 'NotReadableError':
    case 'TrackStartError':
      return `The ${what} is busy or blocked by another app. Close other apps that use it and try again.`;
    case 'NotSupportedError':
    case 'SecurityError':
      return `This browser cannot use the ${what} here. It needs a secure page (https:// or localhost).`;
    case 'AbortError':
      return `Starting the ${what} was interrupted. Try again.`;
    default:
      return `Could not start the ${what}: ${err?.message || err}`;
  }
}

/** Fill a <select> with audio input devices (labels appear once permission is granted). */
export async function listMicrophones(select) {
  if (!navigator.mediaDevices?.enumerateDevices) return;
  const current = select.value;
  const devices = (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === 'audioinput');
  select.replaceChildren();
  const def = document.createElement('option');
  def.value = '';
  def.textContent = 'Default microphone';
  select.append(def);
  devices.forEach((d, i) => {
    if (!d.deviceId || d.deviceId === 'default') return;
    const o = document.createElement('option');
    o.value = d.deviceId;
    o.textContent = d.label || `Microphone ${i + 1}`;
    select.append(o);
  });
  if ([...select.options].some((o) => o.value === current)) select.value = current;
}
