// What the room remembers about a session across a reload (this browser only, localStorage): when the
// call first went live (the elapsed clock), who speaks on each input, and that the AI is offline (the
// server says so once per session, so a reloaded page would not hear it again). Nothing secret is kept.

const PREFIX = 'interview-room.room.';
const KEEP = 20; // sessions remembered; the oldest are dropped

function read(sessionId) {
  try {
    const value = JSON.parse(localStorage.getItem(PREFIX + sessionId) || 'null');
    return value && typeof value === 'object' && !Array.isArray(value) ? value : {};
  } catch {
    return {};
  }
}

function prune() {
  const entries = [];
  for (let i = 0; i < localStorage.length; i += 1) {
    const key = localStorage.key(i);
    if (!key?.startsWith(PREFIX)) continue;
    let at = 0;
    try { at = Number(JSON.parse(localStorage.getItem(key))?.savedAt) || 0; } catch { /* broken: oldest */ }
    entries.push([at, key]);
  }
  entries.sort((a, b) => b[0] - a[0]);
  for (const [, key] of entries.slice(KEEP)) localStorage.removeItem(key);
}

/** The remembered state of `sessionId`: {startedAt?, roles?: {mic?, share?}, offline?: message}. */
export function loadRoomState(sessionId) {
  if (!sessionId) return {};
  const s = read(sessionId);
  const out = {};
  if (Number.isFinite(s.startedAt) && s.startedAt > 0) out.startedAt = s.startedAt;
  if (s.roles && typeof s.roles === 'object') {
    out.roles = {};
    for (const key of ['mic', 'share']) {
      if (s.roles[key] === 'candidate' || s.roles[key] === 'interviewer') out.roles[key] = s.roles[key];
    }
  }
  if (typeof s.offline === 'string') out.offline = s.offline;
  return out;
}

/** Merge `changes` into what is remembered about `sessionId`. */
export function saveRoomState(sessionId, changes) {
  if (!sessionId) return;
  try {
    const s = read(sessionId);
    const next = { ...s, ...changes, savedAt: Date.now() };
    if (changes.roles) next.roles = { ...(s.roles || {}), ...changes.roles };
    localStorage.setItem(PREFIX + sessionId, JSON.stringify(next));
    prune();
  } catch { /* storage full or disabled: the room works without it */ }
}
