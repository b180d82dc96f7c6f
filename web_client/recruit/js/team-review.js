// Team review on the candidate's review page (issue 21): each answer gets the team's ratings (rubric
// 1–5 per criterion, average and spread, everyone's comments) and the caller's own rating form;
// recruiters and owners also get read-only review links for a hiring manager (create, copy, revoke).
// Everything people typed (names, comments) goes in with textContent only (el's text / string children).
import { errorMessage } from '../../js/api.js';
import { setBusy } from '../../js/forms.js';
import { $, el, dateTime } from '../../js/util.js';
import { copyText, rapi } from './common.js';

const fmt = (n) => (n === null || n === undefined ? '—' : Number(n).toFixed(1));

/** Mount under each .answer-card (after render) and the share box (recruiters and owners). */
export async function mountTeamReview(candidateId) {
  const base = `/api/org/candidates/${encodeURIComponent(candidateId)}`;
  const [org, summary] = await Promise.all([rapi('/api/org'), rapi(`${base}/ratings`)]);
  for (const a of summary.answers) {
    const card = document.querySelector(`.answer-card[data-index="${a.index}"]`);
    if (card) card.append(teamBox(base, summary.rubric, a));
  }
  if (org.role !== 'reviewer') mountShare(base);
  else document.querySelector('#decision-form')?.closest('section')?.setAttribute('hidden', '');
}

function teamBox(base, rubric, a) {
  const box = el('section', { class: 'team-rating', dataset: { index: a.index }, 'aria-labelledby': `team-h-${a.index}` });
  box.append(el('h4', { id: `team-h-${a.index}`, text: `Team ratings of answer ${a.index + 1}` }));
  box.append(summaryLine(a), ratingList(rubric, a));
  const mine = a.mine?.scores || {};
  const form = el('form', { class: 'rating-form', novalidate: true });
  const fields = rubric.map((c) => {
    const id = `rate-${a.index}-${c.key}`;
    const select = el('select', { id, name: c.key, required: true },
      el('option', { value: '', text: '–' }),
      ...Array.from({ length: c.max - c.min + 1 }, (_, i) => c.min + i).map((n) => el('option', { value: String(n), text: String(n), selected: mine[c.key] === n })));
    return el('div', { class: 'field rating-field' }, el('label', { for: id, text: `${c.label} (1–5)` }), select);
  });
  const commentId = `rate-${a.index}-comment`;
  const comment = el('textarea', { id: commentId, name: 'comment', rows: 2, maxlength: 5000 });
  comment.value = a.mine?.comment || '';
  const error = el('p', { class: 'form-error', role: 'alert' });
  const ok = el('span', { class: 'form-ok', role: 'status' });
  const save = el('button', { type: 'submit', class: 'primary', text: 'Save my rating', 'aria-label': `Save my rating of answer ${a.index + 1}` });
  form.append(el('div', { class: 'rating-grid' }, ...fields),
    el('div', { class: 'field' }, el('label', { for: commentId, text: 'My comment' }), comment), error, el('div', { class: 'row' }, save, ok));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.textContent = '';
    ok.textContent = '';
    const scores = {};
    for (const c of rubric) {
      const v = form.elements[c.key].value;
      if (!v) { error.textContent = `Please rate ${c.label}.`; form.elements[c.key].focus(); return; }
      scores[c.key] = Number(v);
    }
    setBusy(save, true, 'Saving…');
    try {
      const updated = await rapi(`${base}/answers/${a.index}/rating`, { method: 'PUT', body: { scores, comment: comment.value } });
      box.querySelector('.team-summary').replaceWith(summaryLine(updated));
      box.querySelector('.team-ratings').replaceWith(ratingList(rubric, updated));
      ok.textContent = 'Saved.';
    } catch (err) {
      error.textContent = errorMessage(err);
    } finally {
      setBusy(save, false);
    }
  });
  box.append(form);
  return box;
}

function summaryLine(a) {
  const o = a.overall;
  const text = o.count
    ? `Team average ${fmt(o.average)} / 5 · spread ${fmt(o.spread)} · ${o.count} rating${o.count === 1 ? '' : 's'}`
    : 'No ratings yet.';
  return el('p', { class: 'team-summary', dataset: { count: o.count, average: o.average ?? '', spread: o.spread ?? '' }, text });
}

function ratingList(rubric, a) {
  return el('ul', { class: 'team-ratings plain' }, ...a.ratings.map((r) => el('li', { class: 'team-rating-item' },
    el('strong', { text: r.reviewer.name || r.reviewer.email || 'Reviewer' }),
    ` — ${rubric.map((c) => `${c.label} ${r.scores[c.key]}`).join(', ')}`,
    r.comment ? el('p', { class: 'rating-comment', text: r.comment }) : null)));
}

function mountShare(base) {
  const days = el('select', { id: 'share-days' }, ...[1, 3, 7, 14, 30].map((d) => el('option', { value: String(d), text: `${d} day${d === 1 ? '' : 's'}`, selected: d === 7 })));
  const create = el('button', { type: 'button', class: 'primary', id: 'share-create', text: 'Create review link' });
  const out = el('input', { id: 'share-link', type: 'text', readonly: true, class: 'link-field' });
  const copy = el('button', { type: 'button', id: 'share-copy', text: 'Copy link' });
  const result = el('div', { id: 'share-result', class: 'field', hidden: true },
    el('label', { for: 'share-link', text: 'Read-only link (shown once; anyone with it can read this review until it expires)' }), out, copy);
  const msg = el('p', { id: 'share-msg', class: 'small', role: 'status', 'aria-live': 'polite' });
  const list = el('ul', { id: 'share-list', class: 'plain' });
  const section = el('section', { class: 'card', id: 'share-box', 'aria-labelledby': 'share-h' },
    el('h2', { id: 'share-h', text: 'Share with a hiring manager' }),
    el('p', { class: 'small muted', text: 'A read-only link that needs no account: transcripts, scores and the team\'s ratings, no recordings.' }),
    el('div', { class: 'row' }, el('div', { class: 'field' }, el('label', { for: 'share-days', text: 'Link valid for' }), days), create),
    result, msg, el('h3', { text: 'Links' }), list);
  const decision = document.querySelector('#decision-form')?.closest('section');
  if (decision) decision.before(section); else $('#view').append(section);

  async function refresh() {
    const { links } = await rapi(`${base}/share-links`);
    list.replaceChildren(...links.map((s) => el('li', { class: 'share-item', dataset: { id: s.id, state: s.state } },
      `Created ${dateTime(s.created_at)}, ${s.state === 'active' ? `expires ${dateTime(s.expires_at)}` : s.state} `,
      s.state === 'active' ? el('button', { type: 'button', class: 'link-button', text: 'Revoke', 'aria-label': `Revoke the link created ${dateTime(s.created_at)}`, onclick: () => revoke(s.id) }) : null)));
    if (!links.length) list.append(el('li', { class: 'muted', text: 'None yet.' }));
  }
  async function revoke(id) {
    try {
      await rapi(`/api/org/share-links/${encodeURIComponent(id)}`, { method: 'DELETE' });
      msg.textContent = 'Link revoked: it no longer opens the review.';
      await refresh();
    } catch (err) {
      msg.textContent = errorMessage(err);
    }
  }
  create.addEventListener('click', async () => {
    setBusy(create, true, 'Creating…');
    try {
      const made = await rapi(`${base}/share-links`, { method: 'POST', body: { days: Number(days.value) } });
      result.hidden = false;
      out.value = made.link;
      msg.textContent = `Link created; it expires ${dateTime(made.expires_at)}.`;
      await refresh();
    } catch (err) {
      msg.textContent = errorMessage(err);
    } finally {
      setBusy(create, false);
    }
  });
  copy.addEventListener('click', async () => {
    msg.textContent = (await copyText(out.value, out)) ? 'Copied.' : 'Select the link and copy it.';
  });
  refresh().catch((err) => { msg.textContent = errorMessage(err); });
}
