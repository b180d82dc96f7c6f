// One answer's score as people read it: a bar per criterion with one sentence saying what the
// number means, then the scorer's feedback. The same labels and sentences everywhere a score is
// shown: the live room (room-events.js), the session page (session.js) and the recruiter's review
// (recruit/js/review.js). Delivery facts are words ("148 words per minute, 2 filler words: um ×2"),
// never a key dump.

/** Criterion → label, in the order the rubric is shown. */
export const RUBRIC = {
  relevance: 'Relevance', completeness: 'Completeness', structure: 'Structure', clarity: 'Clarity', delivery: 'Delivery',
};

/** Criterion → [sentence at 75 or more, at 50 or more, below 50]. */
export const RUBRIC_SENTENCES = {
  relevance: [
    'It answered the question that was asked.',
    'Partly on the question: open with a direct answer to it.',
    'It drifted from the question: answer it directly first.',
  ],
  completeness: [
    'It covered most of what a strong answer needs.',
    'Some key points were missing.',
    'Most of the key points were missing.',
  ],
  structure: [
    'A clear shape that is easy to follow.',
    'Some structure: make the steps (or situation, task, action, result) explicit.',
    'No clear shape: use situation, task, action, result for stories; definition, example, trade-off for technical answers.',
  ],
  clarity: [
    'Clear sentences of a comfortable length.',
    'Mostly clear; some sentences ran long or repeated themselves.',
    'Hard to follow: shorter sentences and fewer repeats would help.',
  ],
  delivery: [
    'A comfortable pace with few filler words.',
    'The pace or the filler words held it back a little.',
    'The pace or the filler words made it harder to listen to.',
  ],
};

const IDEAL_WPM = [110, 170];

export function band(value) {
  const n = Number(value);
  if (n >= 75) return 'good';
  if (n >= 50) return 'fair';
  return 'low';
}

function plural(n, one, many = `${one}s`) {
  return `${n} ${n === 1 ? one : many}`;
}

/** Delivery facts in words, or '' when there are none worth saying. */
export function deliveryFacts(d) {
  if (!d || typeof d !== 'object') return '';
  const parts = [];
  const wpm = Number(d.words_per_minute);
  if (d.words_per_minute !== null && d.words_per_minute !== undefined && Number.isFinite(wpm)) {
    const where = wpm > IDEAL_WPM[1] ? ' (fast)' : wpm < IDEAL_WPM[0] ? ' (slow)' : '';
    parts.push(`${Math.round(wpm)} words per minute${where}`);
  } else if (Number(d.word_count) > 0) {
    parts.push(`${plural(Number(d.word_count), 'word')}, too short to measure the pace`);
  }
  const fillers = Number(d.filler_words) || 0;
  const which = d.fillers && typeof d.fillers === 'object'
    ? Object.entries(d.fillers).sort((a, b) => b[1] - a[1]).slice(0, 3).map(([w, n]) => `${w} ×${n}`).join(', ') : '';
  parts.push(fillers ? `${plural(fillers, 'filler word')}${which ? `: ${which}` : ''}` : 'no filler words');
  const pauses = Number(d.long_pauses) || 0;
  if (pauses) parts.push(plural(pauses, 'long pause'));
  const s = parts.join(', ');
  return s ? `${s[0].toUpperCase()}${s.slice(1)}.` : '';
}

/** The one sentence shown under a criterion's bar. */
export function criterionSentence(key, value, delivery) {
  const sentences = RUBRIC_SENTENCES[key];
  const i = Number(value) >= 75 ? 0 : Number(value) >= 50 ? 1 : 2;
  if (key === 'delivery') {
    const facts = deliveryFacts(delivery);
    if (facts) return facts;
  }
  return sentences ? sentences[i] : '';
}

function node(doc, tag, attrs = {}, ...children) {
  const n = doc.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') n.className = v;
    else if (k === 'text') n.textContent = v;
    else n.setAttribute(k, String(v));
  }
  n.append(...children.filter((c) => c !== null && c !== undefined && c !== false));
  return n;
}

/** Criteria of a rubric in display order (known ones first), values as numbers 0-100. */
export function criteria(rubric) {
  if (!rubric || typeof rubric !== 'object') return [];
  const keys = [...Object.keys(RUBRIC).filter((k) => k in rubric), ...Object.keys(rubric).filter((k) => !(k in RUBRIC))];
  return keys.map((k) => [k, Math.max(0, Math.min(100, Math.round(Number(rubric[k]) || 0)))]);
}

/**
 * The rubric as bars: each criterion a labelled <meter> with its value and one sentence.
 * `score` is a score event or stored score ({rubric, delivery, feedback|summary}).
 */
export const SUGGESTION_NOTE = 'AI suggestion: a guide to the answer, not a verdict. A person decides.';

export function rubricView(doc, score, { feedback = true } = {}) {
  const list = node(doc, 'ul', { class: 'criteria', 'aria-label': 'Score by criterion' });
  for (const [key, value] of criteria(score?.rubric)) {
    const label = RUBRIC[key] || key.replaceAll('_', ' ');
    const sentence = criterionSentence(key, value, score?.delivery);
    list.append(node(doc, 'li', { class: 'criterion', 'data-criterion': key, 'data-band': band(value) },
      node(doc, 'span', { class: 'criterion-name', text: label }),
      node(doc, 'meter', {
        min: 0, max: 100, low: 50, high: 75, optimum: 100, value, 'aria-label': `${label} ${value} of 100`,
      }),
      node(doc, 'span', { class: 'criterion-value', text: String(value), 'aria-hidden': 'true' }),
      node(doc, 'span', { class: 'criterion-note', text: sentence })));
  }
  // issue 21.6: wherever a score is shown (room, session page, recruiter review) it reads as the AI's suggestion
  const note = node(doc, 'p', { class: 'score-suggestion small muted', text: SUGGESTION_NOTE });
  const box = node(doc, 'div', { class: 'score-view' }, note, list);
  const text = score?.summary || score?.feedback || '';
  if (feedback && text) box.append(node(doc, 'p', { class: 'feedback', text }));
  return box;
}
