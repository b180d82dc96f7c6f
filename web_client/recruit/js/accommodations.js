// The review page's accommodations: extra think and answer time for this candidate only
// (GET/PUT /api/org/candidates/{id}/accommodations; the server's answer time limit follows it).
import { errorMessage } from '../../js/api.js';
import { $, el, param } from '../../js/util.js';
import { rapi } from './common.js';

const id = param('id') || '';
const path = `/api/org/candidates/${encodeURIComponent(id)}/accommodations`;
const select = $('#extra-time');

function choose(pct) {
  const value = String(pct);
  if (![...select.options].some((o) => o.value === value)) select.append(el('option', { value, text: `+${value} %` }));
  select.value = value;
}

async function load() {
  if (!id) return;
  try {
    choose((await rapi(path)).extra_time_percent);
  } catch { return; } // the review itself reports a missing candidate
  $('#accommodations').hidden = false;
}

$('#accommodations-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  $('#accommodations-msg').textContent = '';
  $('#accommodations-error').textContent = '';
  try {
    const out = await rapi(path, { method: 'PUT', body: { extra_time_percent: Number(select.value) } });
    choose(out.extra_time_percent);
    $('#accommodations-msg').textContent = out.extra_time_percent ? `Saved: +${out.extra_time_percent} % time.` : 'Saved: no extra time.';
  } catch (err) {
    $('#accommodations-error').textContent = errorMessage(err);
  }
});

load();
