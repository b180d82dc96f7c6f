// The candidate page's optional CV upload (the link's token in its header, as every candidate call):
// parsed on the server in a sandbox; the hiring team sees what it says next to the answers.
import { $ } from './util.js';

const token = decodeURIComponent(location.hash.slice(1));
const box = $('#cv-upload');
const msg = $('#cv-msg');
const file = $('#cv-file');
const send = $('#cv-send');

async function call(method, body) {
  const res = await fetch('/api/c/cv', {
    method, body, credentials: 'omit', cache: 'no-store', headers: { Accept: 'application/json', 'X-Candidate-Token': token },
  });
  const data = await res.json().catch(() => null);
  if (!res.ok) throw new Error(data?.error?.message || `The server answered ${res.status}.`);
  return data;
}

async function init() {
  if (!token) return;
  try {
    const own = await call('GET');
    box.hidden = false;
    if (own.uploaded) msg.textContent = `Uploaded: ${own.filename}. You may upload another to replace it.`;
  } catch {
    // an invalid or expired link: candidate.js explains it
  }
}

send.addEventListener('click', async () => {
  const f = file.files[0];
  if (!f) {
    msg.textContent = 'Choose a .pdf or .docx file first.';
    file.focus();
    return;
  }
  const form = new FormData();
  form.append('file', f, f.name);
  send.disabled = true;
  msg.textContent = 'Uploading…';
  try {
    const out = await call('POST', form);
    msg.textContent = `Uploaded: ${out.filename}. Thank you.`;
  } catch (err) {
    msg.textContent = `Not uploaded: ${err.message}`;
  } finally {
    send.disabled = false;
  }
});

init();
