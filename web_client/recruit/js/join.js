// Accept a team invitation: the token is in the fragment; the signed-in user's e-mail must match.
import { errorMessage } from '../../js/api.js';
import { $ } from '../../js/util.js';
import { initPage, rapi } from './common.js';

initPage();
const token = location.hash.slice(1);

async function load() {
  if (!token) {
    $('#join-msg').textContent = 'This invitation link is incomplete: open the whole link from the e-mail.';
    return;
  }
  const me = await rapi('/api/me');
  $('#join-who').textContent = `Signed in as ${me.user.email}.`;
  $('#join-btn').disabled = false;
}

$('#join-btn').addEventListener('click', async () => {
  $('#join-msg').textContent = '';
  $('#join-btn').disabled = true;
  try {
    const org = await rapi('/api/org/join', { method: 'POST', body: { token } });
    $('#join-org').textContent = org.name;
    $('#join-ok').hidden = false;
    $('#join-btn').hidden = true;
  } catch (err) {
    $('#join-msg').textContent = errorMessage(err);
    $('#join-btn').disabled = false;
  }
});

load().catch((err) => { if (err.status !== 401) $('#join-msg').textContent = errorMessage(err); });
