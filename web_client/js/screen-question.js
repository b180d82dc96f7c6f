// "Read my screen": one downscaled frame of a shared window or tab (getDisplayMedia), sent with an
// optional question; the answer streams into the AI pane like any other. The frame is not stored
// by the server (the llm worker reads it once); "Keep the image" saves the user's own copy.
import { api, errorMessage } from './api.js';
import { $, param } from './util.js';

const MAX_SIDE = 1280; // px: enough to read code on screen, small enough to send quickly
const sessionId = param('id') || '';

/** One frame of a display-capture stream, downscaled, as a JPEG data URL. */
export async function grabFrame(stream, maxSide = MAX_SIDE) {
  const video = document.createElement('video');
  video.muted = true;
  video.playsInline = true;
  video.srcObject = stream;
  await video.play();
  if (!video.videoWidth) await new Promise((resolve) => { video.addEventListener('resize', resolve, { once: true }); });
  const scale = Math.min(1, maxSide / Math.max(video.videoWidth, video.videoHeight));
  const canvas = document.createElement('canvas');
  canvas.width = Math.max(1, Math.round(video.videoWidth * scale));
  canvas.height = Math.max(1, Math.round(video.videoHeight * scale));
  canvas.getContext('2d').drawImage(video, 0, 0, canvas.width, canvas.height);
  video.pause();
  video.srcObject = null;
  return canvas.toDataURL('image/jpeg', 0.8);
}

async function readScreen(event) {
  event.preventDefault();
  const status = $('#screen-status');
  const keep = $('#screen-keep');
  const button = $('#screen-btn');
  let stream;
  try {
    stream = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
  } catch (err) {
    status.textContent = err?.name === 'NotAllowedError' ? 'Screen sharing was cancelled.' : `Cannot capture the screen: ${err?.message || err}`;
    return;
  }
  button.disabled = true;
  try {
    status.textContent = 'Reading your screen…';
    const image = await grabFrame(stream);
    stream.getTracks().forEach((t) => t.stop()); // one frame only
    keep.href = image;
    keep.hidden = false;
    await api(`/api/sessions/${encodeURIComponent(sessionId)}/screen-question`, {
      method: 'POST',
      body: { image, question: $('#screen-q').value.trim() },
    });
    status.textContent = 'Sent: the answer appears with the AI answers.';
  } catch (err) {
    status.textContent = `Could not ask about the screen: ${errorMessage(err)}`;
  } finally {
    stream.getTracks().forEach((t) => t.stop());
    button.disabled = false;
  }
}

const form = $('#screen-form');
if (form) {
  if (!navigator.mediaDevices?.getDisplayMedia) {
    $('#screen-btn').disabled = true;
    $('#screen-status').textContent = 'This browser cannot share a screen.';
  }
  form.addEventListener('submit', readScreen);
}
