// Recruiter dashboard: create the organisation on first use, interviews, template library, team.
import { errorMessage } from '../../js/api.js';
import { clearErrors, setBusy, showError } from '../../js/forms.js';
import { $, el, dateTime } from '../../js/util.js';
import { copyText, initPage, rapi } from './common.js';
import { memberRow } from './team-members.js';

initPage();
let org = null;

async function load() {
  try {
    org = await rapi('/api/org');
  } catch (err) {
    if (err.code === 'no_organisation') {
      $('#load-status').hidden = true;
      $('#org-setup').hidden = false;
      $('#org-name').focus();
    } else {
      $('#load-status').textContent = `Could not load your organisation: ${errorMessage(err)}`;
    }
    return;
  }
  $('#load-status').hidden = true;
  $('#org-setup').hidden = true;
  $('#dashboard').hidden = false;
  $('#org-title').textContent = org.name;
  document.title = `${org.name} · Recruiting · Interview Room`;
  $('#team-form').hidden = org.role !== 'owner';
  showCredit(org);
  await Promise.all([loadInterviews(), loadTeam()]);
}

/** Candidates' answers use the owner's credits: warn before they run out, not after a candidate is stuck. */
function showCredit(o) {
  const banner = $('#credit-banner');
  if (!o.recording_low) { banner.hidden = true; return; }
  const minutes = Math.floor((o.recording_seconds_left || 0) / 60);
  const what = minutes > 0
    ? `Candidates can record about ${minutes} more minute${minutes === 1 ? '' : 's'} of answers.`
    : 'Candidates cannot record answers: the recording credits are used up.';
  const who = o.role === 'owner' ? 'Buy credits on the ' : 'The owner can buy credits on the ';
  banner.replaceChildren(`${what} ${who}`, el('a', { href: '../billing.html', text: 'Billing page' }), '.');
  banner.hidden = false;
}

function interviewItem(iv) {
  const qs = Array.isArray(iv.questions) ? iv.questions.length : 0;
  return el('li', { class: 'interview-item', dataset: { id: iv.id } },
    el('div', {},
      el('h3', {}, el('a', { href: `candidates.html?id=${encodeURIComponent(iv.id)}`, text: iv.title })),
      el('p', { class: 'small muted', text: [
        `${qs} question${qs === 1 ? '' : 's'}`,
        `${iv.candidates ?? 0} invited, ${iv.completed ?? 0} completed`,
        iv.deadline ? `deadline ${dateTime(iv.deadline)}` : 'no deadline',
        iv.is_template ? 'template' : '',
      ].filter(Boolean).join(' · ') })),
    el('div', { class: 'row' },
      el('a', { class: 'button', href: `interview.html?id=${encodeURIComponent(iv.id)}`, text: 'Edit', 'aria-label': `Edit ${iv.title}` }),
      el('a', { class: 'button', href: `candidates.html?id=${encodeURIComponent(iv.id)}`, text: 'Candidates', 'aria-label': `Candidates of ${iv.title}` })));
}

async function loadInterviews() {
  const { interviews } = await rapi('/api/org/interviews');
  const own = interviews.filter((i) => !i.is_template);
  const templates = interviews.filter((i) => i.is_template);
  $('#interview-list').replaceChildren(...own.map(interviewItem));
  $('#interviews-empty').hidden = own.length > 0;
  $('#template-list').replaceChildren(...templates.map((t) => el('li', { class: 'template-item', dataset: { id: t.id } },
    el('div', {}, el('h3', { text: t.title }),
      el('p', { class: 'small muted', text: `${t.questions.length} questions${t.job_description ? ' · ' + t.job_description.split('\n')[0].slice(0, 80) : ''}` })),
    el('div', { class: 'row' },
      el('a', { class: 'button', href: `interview.html?id=${encodeURIComponent(t.id)}`, text: 'Edit', 'aria-label': `Edit template ${t.title}` }),
      el('button', { type: 'button', class: 'clone-btn', text: 'Use', 'aria-label': `Use template ${t.title}`, onclick: (e) => cloneTemplate(t, e.currentTarget) })))));
  $('#templates-empty').hidden = templates.length > 0;
}

async function cloneTemplate(t, button) {
  setBusy(button, true);
  $('#template-error').textContent = '';
  try {
    const iv = await rapi(`/api/org/interviews/${encodeURIComponent(t.id)}/clone`, { method: 'POST', body: { title: t.title } });
    location.assign(`interview.html?id=${encodeURIComponent(iv.id)}&cloned=1`);
  } catch (err) {
    $('#template-error').textContent = errorMessage(err);
    setBusy(button, false);
  }
}

async function loadTeam() {
  const { members, invites } = await rapi('/api/org/members');
  $('#member-list').replaceChildren(...members.map((m) => memberRow(m, org, loadTeam)));
  $('#invite-list').replaceChildren(...invites.map((i) => el('li', {
    text: `${i.email}: ${i.accepted_at ? `joined ${dateTime(i.accepted_at)}` : `invited ${dateTime(i.created_at)}, expires ${dateTime(i.expires_at)}`}`,
  })));
  if (!invites.length) $('#invite-list').append(el('li', { class: 'muted', text: 'None.' }));
}

$('#org-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const form = e.currentTarget;
  clearErrors(form);
  const name = $('#org-name').value.trim();
  if (!name) { showError(form, { message: 'Please fill in the name.', field: 'name' }); return; }
  setBusy($('#org-create'), true, 'Creating…');
  try {
    await rapi('/api/org', { method: 'POST', body: { name } });
    await load();
  } catch (err) {
    showError(form, err);
  } finally {
    setBusy($('#org-create'), false);
  }
});

$('#team-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const form = e.currentTarget;
  clearErrors(form);
  const email = $('#team-email').value.trim();
  if (!email) { showError(form, { message: 'Please fill in the e-mail address.', field: 'email' }); return; }
  setBusy($('#team-invite-btn'), true, 'Sending…');
  try {
    const out = await rapi('/api/org/invites', { method: 'POST', body: { email, role: $('#team-role').value } });
    $('#team-result').hidden = false;
    $('#team-link').value = out.link;
    $('#team-msg').textContent = out.emailed ? `E-mailed to ${out.email}.` : 'Not e-mailed (no mail server): send the link yourself.';
    form.reset();
    await loadTeam();
  } catch (err) {
    showError(form, err);
  } finally {
    setBusy($('#team-invite-btn'), false);
  }
});

$('#team-copy').addEventListener('click', async () => {
  $('#team-msg').textContent = (await copyText($('#team-link').value, $('#team-link'))) ? 'Copied.' : 'Select the link and copy it.';
});

load().catch((err) => { $('#load-status').hidden = false; $('#load-status').textContent = errorMessage(err); });
