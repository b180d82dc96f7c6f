// Small inline-SVG charts shared by the analytics page and the recruiter dashboard: built with
// createElementNS and textContent only (CSP-clean, no innerHTML), each an accessible image
// (role="img" + aria-label summarising the data) followed by a visually hidden table of the same data.
import { el } from './util.js';

const SVG = 'http://www.w3.org/2000/svg';

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = String(text);
  return node;
}

const fmt = (v, unit = '') => (v === null || v === undefined ? 'no data' : `${Math.round(v * 10) / 10}${unit}`);

/** The same data as a table, for screen readers (and anyone who copies numbers). */
function dataTable(caption, head, rows) {
  // in a clipping box: a table grows to its content whatever its own width, and would scroll the page sideways
  return el('div', { class: 'visually-hidden' }, el('table', { class: 'chart-data' },
    el('caption', { text: caption }),
    el('thead', {}, el('tr', {}, ...head.map((h) => el('th', { scope: 'col', text: h })))),
    el('tbody', {}, ...rows.map((r) => el('tr', {}, ...r.map((c, i) => el(i ? 'td' : 'th', i ? { text: c } : { scope: 'row', text: c })))))));
}

function frame(name, kind, label, figureClass) {
  const figure = el('figure', { class: `chart ${figureClass || ''}`.trim(), dataset: { chart: name } });
  const image = svg('svg', { role: 'img', 'aria-label': label, class: `chart-svg chart-${kind}` });
  figure.append(image);
  return { figure, image };
}

/**
 * Lines over a shared x axis: ``labels`` (x ticks, oldest first) and ``series`` [{name, values, unit}].
 * Missing values (null) break nothing: the point is left out.
 */
export function lineChart({ name, title, labels, series, max = null, unit = '' }) {
  const w = 480; const h = 200; const left = 40; const right = 14; const top = 16; const bottom = 30;
  const all = series.flatMap((s) => s.values).filter((v) => typeof v === 'number');
  const yMax = max ?? Math.max(1, Math.ceil((Math.max(0, ...all) * 1.15) / 20) * 20);
  const n = labels.length;
  const x = (i) => (n <= 1 ? left + (w - left - right) / 2 : left + (i * (w - left - right)) / (n - 1));
  const y = (v) => top + ((yMax - v) * (h - top - bottom)) / yMax;
  const summary = series.map((s) => {
    const vals = s.values.filter((v) => typeof v === 'number');
    return vals.length ? `${s.name} from ${fmt(vals[0], unit)} to ${fmt(vals[vals.length - 1], unit)} over ${vals.length} points` : `${s.name}: no data`;
  }).join('; ');
  const { figure, image } = frame(name, 'line', `${title}: ${summary}`);
  image.setAttribute('viewBox', `0 0 ${w} ${h}`);
  for (let k = 0; k <= 4; k += 1) {
    const v = (yMax * k) / 4;
    image.append(svg('line', { x1: left, x2: w - right, y1: y(v), y2: y(v), class: 'grid' }),
      svg('text', { x: left - 6, y: y(v) + 4, 'text-anchor': 'end', class: 'axis' }, Math.round(v)));
  }
  const step = Math.max(1, Math.ceil(n / 6));
  labels.forEach((label, i) => {
    if (i % step !== 0 && i !== n - 1) return;
    const anchor = n > 1 && i === 0 ? 'start' : n > 1 && i === n - 1 ? 'end' : 'middle';
    image.append(svg('text', { x: x(i), y: h - 8, 'text-anchor': anchor, class: 'axis' }, label));
  });
  series.forEach((s, si) => {
    const pts = s.values.map((v, i) => [v, i]).filter(([v]) => typeof v === 'number');
    if (pts.length > 1) {
      image.append(svg('polyline', { points: pts.map(([v, i]) => `${x(i)},${y(v)}`).join(' '), class: `line series-${si}` }));
    }
    for (const [v, i] of pts) {
      const dot = svg('circle', { cx: x(i), cy: y(v), r: 4, class: `point series-${si}` });
      dot.append(svg('title', {}, `${s.name}, ${labels[i]}: ${fmt(v, unit)}`));
      image.append(dot);
    }
  });
  if (series.length > 1) {
    figure.append(el('ul', { class: 'chart-legend' },
      ...series.map((s, si) => el('li', { class: `series-${si}`, text: s.name }))));
  }
  figure.append(el('figcaption', { text: title }),
    dataTable(title, ['', ...series.map((s) => s.name)],
      labels.map((label, i) => [label, ...series.map((s) => fmt(s.values[i], unit))])));
  return figure;
}

/** Horizontal bars: [{label, value, note}] on 0..max. */
export function barChart({ name, title, bars, max = 100, unit = '' }) {
  const w = 480; const row = 30; const left = 150; const right = 50; const h = Math.max(1, bars.length) * row + 8;
  const summary = bars.length ? bars.map((b) => `${b.label} ${fmt(b.value, unit)}`).join(', ') : 'no data';
  const { figure, image } = frame(name, 'bar', `${title}: ${summary}`);
  image.setAttribute('viewBox', `0 0 ${w} ${h}`);
  bars.forEach((b, i) => {
    const y0 = 4 + i * row;
    const len = max > 0 ? ((w - left - right) * Math.max(0, Math.min(max, b.value))) / max : 0;
    const label = b.label.length > 22 ? `${b.label.slice(0, 21)}…` : b.label;
    image.append(
      svg('text', { x: left - 8, y: y0 + 18, 'text-anchor': 'end', class: 'axis' }, label),
      svg('rect', { x: left, y: y0 + 4, width: Math.max(len, 1), height: row - 10, class: 'bar', rx: 3 }),
      svg('text', { x: left + len + 6, y: y0 + 18, class: 'value' }, fmt(b.value, unit)),
    );
  });
  figure.append(el('figcaption', { text: title }),
    dataTable(title, ['', 'Value', ...(bars.some((b) => b.note) ? ['Note'] : [])],
      bars.map((b) => [b.label, fmt(b.value, unit), ...(b.note ? [b.note] : [])])));
  return figure;
}
