// WebRTC plumbing shared by the room and the troubleshooting page: ICE servers, non-trickle offers.
import { api } from './api.js';

/** iceServers for RTCPeerConnection from GET /api/config {ice_servers}; [] when absent. */
export async function iceServers() {
  try {
    const config = await api('/api/config', { redirectOn401: false });
    return normalizeIceServers(config?.ice_servers);
  } catch {
    return [];
  }
}

/** Accept ["stun:host:3478", …] or [{urls, username, credential}, …]. */
export function normalizeIceServers(list) {
  if (!Array.isArray(list)) return [];
  return list
    .map((s) => (typeof s === 'string' ? { urls: s } : s))
    .filter((s) => s && (typeof s.urls === 'string' || Array.isArray(s.urls)));
}

/** Resolve when ICE gathering is complete (or after `timeoutMs`, with what was gathered). */
export function iceGatheringComplete(pc, timeoutMs = 10000) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', check);
      resolve();
    };
    const check = () => { if (pc.iceGatheringState === 'complete') done(); };
    const timer = setTimeout(done, timeoutMs);
    pc.addEventListener('icegatheringstatechange', check);
  });
}

/**
 * Non-trickle offer/answer: createOffer, setLocalDescription, wait for gathering, POST
 * {sdp, type: "offer", ...extra(pc)} to `url`, setRemoteDescription(answer). `extra` runs after
 * setLocalDescription, so transceiver mids are known. `post(url, body)` sends it (default: api()).
 */
export async function negotiate(pc, url, extra = () => ({}), post = (u, body) => api(u, { method: 'POST', body })) {
  await pc.setLocalDescription(await pc.createOffer());
  await iceGatheringComplete(pc);
  const body = { sdp: pc.localDescription.sdp, type: 'offer', ...extra(pc) };
  const answer = await post(url, body);
  if (!answer?.sdp) throw new Error('The server did not send an answer.');
  await pc.setRemoteDescription({ type: answer.type || 'answer', sdp: answer.sdp });
  return answer;
}

/** Describe the selected ICE candidate pair, e.g. "host udp 127.0.0.1 ↔ host 127.0.0.1". */
export async function selectedPair(pc) {
  const stats = await pc.getStats();
  let pair = null;
  stats.forEach((s) => {
    if (s.type === 'transport' && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId);
  });
  if (!pair) stats.forEach((s) => { if (!pair && s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') pair = s; });
  if (!pair) return null;
  const local = stats.get(pair.localCandidateId);
  const remote = stats.get(pair.remoteCandidateId);
  return {
    local: local && `${local.candidateType} ${local.protocol} ${local.address ?? local.ip ?? ''}:${local.port}`,
    remote: remote && `${remote.candidateType} ${remote.address ?? remote.ip ?? ''}:${remote.port}`,
    rtt: pair.currentRoundTripTime,
  };
}
