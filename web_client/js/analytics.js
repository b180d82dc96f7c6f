// Analytics across the user's latest sessions (GET /api/me/analytics): score, filler and pace trends,
// weakest topics, mock progress per type, as inline SVG charts (js/chart.js) with hidden data tables.
import { api, errorMessage } from './api.js';
import { barChart, lineChart } from './chart.js';
import { initNav } from './nav.js';
import { $ } from './util.js';

initNav();

const MOCK_TYPES = { behavioral: 'Behavioural', technical: 'Technical', system_design: 'System design' };
const day = (iso) => new Date(iso).toLocaleDateString(undefined, { day: 'numeric', month: 'short' });

function show(id, ...charts) {
  $(`#${id}`).replaceChildren(...charts);
}

function render(data) {
  const s = data.sessions;
  const status = $('#analytics-status');
  if (!s.length) {
    status.textContent = 'No ended sessions yet: your trends appear here after your first session.';
    return;
  }
  status.textContent = `Your latest ${s.length} ended session${s.length === 1 ? '' : 's'}.`;
  const labels = s.map((p) => day(p.held_at));
  show('scores-chart', lineChart({
    name: 'scores', title: 'Session score (0–100)', labels, max: 100,
    series: [{ name: 'Score', values: s.map((p) => p.score) }],
  }));
  show('fillers-chart', lineChart({
    name: 'fillers', title: 'Filler words per 100 words', labels,
    series: [{ name: 'Fillers per 100 words', values: s.map((p) => p.fillers_per_100_words) }],
  }));
  show('pace-chart', lineChart({
    name: 'pace', title: 'Pace (words per minute)', labels,
    series: [{ name: 'Words per minute', values: s.map((p) => p.words_per_minute) }],
  }));
  $('#scores-section').hidden = false;
  $('#delivery-section').hidden = false;
  if (data.weakest_topics.length) {
    show('topics-chart', barChart({
      name: 'topics', title: 'Mean score per topic (0–100)',
      bars: data.weakest_topics.map((t) => ({
        label: t.topic, value: t.mean_score, note: `${t.questions} question${t.questions === 1 ? '' : 's'}`,
      })),
    }));
    $('#topics-section').hidden = false;
  }
  if (data.mock_progress.length) {
    show('mock-charts', ...data.mock_progress.map((m) => lineChart({
      name: `mock-${m.mock_type}`, title: `${MOCK_TYPES[m.mock_type] || m.mock_type} mock interviews: score`, max: 100,
      labels: m.points.map((p) => day(p.held_at)), series: [{ name: 'Score', values: m.points.map((p) => p.score) }],
    })));
    $('#mock-section').hidden = false;
  }
}

api('/api/me/analytics').then(render).catch((err) => {
  $('#analytics-status').textContent = `Could not load your analytics: ${errorMessage(err)}`;
});
