// The dashboard's funnel (GET /api/org/funnel, /api/org/interviews/{id}/funnel): invited -> started ->
// completed -> passed for the organisation or one interview, its median completion time, and where
// candidates stop, as inline SVG charts (js/chart.js) with hidden data tables.
import { errorMessage } from '../../js/api.js';
import { barChart } from '../../js/chart.js';
import { $, duration, el } from '../../js/util.js';
import { rapi } from './common.js';

const STAGES = [['invited', 'Invited'], ['started', 'Started'], ['completed', 'Completed'], ['passed', 'Passed']];

function stagesChart(f, what) {
  const pct = (v) => (f.invited ? `${Math.round((100 * v) / f.invited)} % of invited` : '');
  return barChart({
    name: 'funnel', title: `Candidates at each stage: ${what}`, max: Math.max(1, f.invited),
    bars: STAGES.map(([key, label]) => ({ label, value: f[key], note: pct(f[key]) })),
  });
}

function timeLine(f) {
  return el('p', { class: 'small', id: 'funnel-time', text: f.median_completion_seconds === null
    ? 'Median completion time: no completed candidates yet.'
    : `Median completion time (consent to completion): ${duration(f.median_completion_seconds)}.` });
}

async function showInterview(id, title) {
  const f = await rapi(`/api/org/interviews/${encodeURIComponent(id)}/funnel`);
  const dropOff = f.questions.length ? barChart({
    name: 'drop-off', title: `Candidates who stopped at each question: ${title}`,
    max: Math.max(1, ...f.questions.map((q) => q.dropped)),
    bars: f.questions.map((q) => ({ label: `Question ${q.index + 1}`, value: q.dropped, note: `${q.answered} answered` })),
  }) : null;
  $('#funnel-charts').replaceChildren(stagesChart(f, title), timeLine(f), ...(dropOff ? [dropOff] : []));
}

async function load() {
  let data;
  try {
    data = await rapi('/api/org/funnel');
  } catch (err) {
    if (err.code !== 'no_organisation') $('#funnel-status').textContent = `Could not load the funnel: ${errorMessage(err)}`;
    return;
  }
  const select = $('#funnel-interview');
  select.replaceChildren(el('option', { value: '', text: 'All interviews' }),
    ...data.interviews.map((i) => el('option', { value: i.interview_id, text: i.title })));
  const showAll = () => $('#funnel-charts').replaceChildren(stagesChart(data.organisation, 'all interviews'), timeLine(data.organisation));
  select.addEventListener('change', () => {
    const id = select.value;
    $('#funnel-status').textContent = '';
    if (!id) { showAll(); return; }
    showInterview(id, select.selectedOptions[0].textContent).catch((err) => {
      $('#funnel-status').textContent = `Could not load the funnel: ${errorMessage(err)}`;
    });
  });
  showAll();
  $('#funnel-section').hidden = false;
}

load();
