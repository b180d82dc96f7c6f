"""Word lag: how long after a word is spoken it is on screen (partial or final caption).

    .venv/bin/python -m loadtests.word_lag --url http://127.0.0.1:8080 --peers 1 --rounds 2

Each peer speaks the long fixtures (utterances over 4 s) over WebRTC through the public API, in real
time. Reference word end times come from an offline faster-whisper decode of each file alone (the
same ``tiny.en``, ``word_timestamps=True``), so a word's end on the sender's clock is the wall time
the file's first sample was sent plus its end in the file. A caption (partial or final) of an
utterance that shows k words shows its first k words; word i's lag is the arrival (client clock) of
the first caption of that utterance with more than i words minus that word's end. Also printed:
final latency (last final caption of an utterance minus the time its last sample was sent) and the
CPU-seconds of the stack's stt worker and of this client, so runs with partials on and off
(``PARTIAL_INTERVAL_MS`` on the media node) can be compared on a busy machine. Set DATABASE_URL
(the peers' new accounts are verified in it).

    .venv/bin/python -m loadtests.word_lag --simulate 0,500,700

``--simulate``: the same figures on a virtual clock, for when the machine is too busy for wall times
to mean anything: the fixtures go through the real segmenter (sent at real-time pace on the virtual
clock), one stt worker serves its queue as the real one does (a partial with anything behind it is
skipped, mid-speech partials decode with the shown words as prefix, the final reuses the early
partial's text, mid-speech partials rest ``STT_PARTIAL_REST``), and each Whisper call takes its
measured CPU time divided by the threads it ran on (what it takes on an idle machine with that many cores).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import urllib.request
import uuid
import wave
from dataclasses import dataclass, field
from typing import Any

import psutil

from loadtests import accounts
from loadtests.bench import _match, pct, stack_processes
from loadtests.client import FIXTURES, RoomClient, WavTrack, load_references

REFS = load_references()
LONG = [n for n in ("c_rare_names.wav", "q_conflict.wav", "c_cache_latency.wav", "c_billing_migration.wav")]


def reference_word_ends(names: list[str]) -> dict[str, list[float]]:
    """End of each word (seconds into the file) from an offline decode of the file alone."""
    from ai_sidecar.transcriber import Transcriber, pcm_to_float
    from interview_room.config import load

    model = Transcriber(load()).models.for_language("en")[1]
    out: dict[str, list[float]] = {}
    for name in names:
        with wave.open(str(FIXTURES / name)) as w:
            audio = pcm_to_float(w.readframes(w.getnframes()))
        segs, _ = model.transcribe(audio, language="en", beam_size=1, temperature=0.0, word_timestamps=True)
        out[name] = [wd.end for s in segs for wd in (s.words or []) if any(c.isalnum() for c in wd.word)]
    return out


def simulate(names: list[str], interval_ms: int, ends: dict[str, list[float]]) -> dict[str, Any]:
    """Word lag and final latency on a virtual clock (see the module docstring)."""
    from dataclasses import replace

    from ai_sidecar.stable_prefix import advance, settle, split_words
    from ai_sidecar.transcriber import Transcriber
    from interview_room.config import load
    from media_server.segmenter import Segmenter, SegmenterSettings

    cfg = load()
    tr = Transcriber(cfg)
    threads = max(1, tr.models.threads)
    settings = replace(SegmenterSettings.from_config(cfg), partial_interval_ms=interval_ms)
    lead, chunk = 0.5, 640  # 20 ms of 16 kHz s16
    costs: list[float] = []

    def decode(pcm: bytes, prefix: str | None) -> tuple[str, float]:
        c0 = time.process_time()
        r = tr.transcribe(pcm, "en", None, prefix)
        cost = (time.process_time() - c0) / threads
        costs.append(cost)
        return (r.text if r.ok else ""), cost

    lags: list[float] = []
    finals: list[float] = []
    for name in names:
        with wave.open(str(FIXTURES / name)) as w:
            pcm = bytes(int(lead * 32000)) + w.readframes(w.getnframes()) + bytes(48000)
        seg = Segmenter(settings)
        items: list[tuple[float, Any]] = []
        for i in range(0, len(pcm), chunk):
            t = i / 32000
            items += [(t + 0.02, u) for u in seg.push(pcm[i : i + chunk], t)]
        items += [(len(pcm) / 32000, u) for u in seg.flush()]
        free, base, partial_after = 0.0, 0, 0.0
        state = None
        early: dict[tuple[float, float], str] = {}
        shown: list[tuple[float, int]] = []  # (virtual time, words of the file on screen)
        for k, (arrival, u) in enumerate(items):
            start = max(free, arrival)
            resting = abs(u.speech_end - u.t1) < 1e-6 and start < partial_after  # mid-speech partials only
            if not u.final and (resting or (k + 1 < len(items) and items[k + 1][0] <= start)):
                continue  # the worker rests after a partial, or something waits behind this one: skipped
            if not u.final:
                mid = abs(u.speech_end - u.t1) < 1e-6
                prefix = state.text if state is not None and mid and state.committed else None
                text, cost = decode(u.pcm, prefix)
                if prefix is None:
                    early[(round(u.t0, 3), round(u.speech_end, 3))] = text
                if mid:
                    state, grew = advance(state, text)
                else:
                    state, grew = settle(state, text), True
                free = start + cost
                if mid:
                    partial_after = free + cost * cfg.stt_partial_rest
                if grew and state.committed:
                    shown.append((free, base + len(state.committed)))
                continue
            text = early.get((round(u.t0, 3), round(u.speech_end, 3)))
            cost = 0.0
            if text is None:
                text, cost = decode(u.pcm, None)
            free = start + cost
            n = len(split_words(text))
            shown.append((free, base + n))
            finals.append(free - u.speech_end)
            base, state = base + n, None
        for i, end in enumerate(ends[name]):
            seen = next((t for t, n in shown if n > i), None)
            if seen is not None:
                lags.append(seen - (lead + end))
    return {"lags": lags, "finals": finals, "calls": len(costs), "cost": sum(costs) / max(1, len(costs))}


def whisper_calls(stt_url: str) -> tuple[float, float]:
    """(count, seconds) of the stt worker's Whisper calls so far (``ir_stt_seconds``)."""
    try:
        with urllib.request.urlopen(f"{stt_url}/metrics", timeout=5) as r:
            text = r.read().decode()
    except OSError:
        return float("nan"), float("nan")
    count = sum(float(ln.split()[-1]) for ln in text.splitlines() if ln.startswith("ir_stt_seconds_count"))
    total = sum(float(ln.split()[-1]) for ln in text.splitlines() if ln.startswith("ir_stt_seconds_sum"))
    return count, total


def _words(text: str) -> int:
    return sum(1 for w in text.split() if any(c.isalnum() for c in w))


@dataclass
class PeerResult:
    lags: list[float] = field(default_factory=list)
    finals: list[float] = field(default_factory=list)
    words_seen_early: int = 0  # words on screen before the utterance's last sample was sent
    words: int = 0
    error: str = ""


async def run_peer(args: argparse.Namespace, offset: float, ends: dict[str, list[float]]) -> PeerResult:
    res = PeerResult()
    await asyncio.sleep(offset)
    c = RoomClient(args.url)
    try:
        await c.register(f"lag-{uuid.uuid4().hex[:10]}@example.com", "bench password 123", "Lag")
        await accounts.verify(str(c.user["id"]) if c.user else "", os.environ.get("DATABASE_URL"))
        s = await c.create_session(title="word lag", mode="assistant")
        track = WavTrack([FIXTURES / n for n in LONG * args.rounds], gap=2.0)
        await c.connect(s["id"], [("interviewer", track)])
        await c.wait_played(timeout=600)
        await asyncio.sleep(8)
        caps = [e for e in c.received if e.get("type") == "caption"]
        by_utt: dict[int, list[dict[str, Any]]] = {}
        for cap in caps:
            u = _match(track.utterances, cap)
            if u is not None:
                by_utt.setdefault(u.index, []).append(cap)
        for u in track.utterances:
            name = u.path.rsplit("/", 1)[-1]
            mine = sorted(by_utt.get(u.index, []), key=lambda x: x["_rx"])
            if u.start_wall is None or u.end_wall is None or not mine:
                continue
            finals = [x for x in mine if x.get("final")]
            if finals:
                speech_t1 = float(REFS[name].get("speech_t1") or u.duration)
                res.finals.append(max(x["_rx"] for x in finals) - (u.end_wall - (u.duration - speech_t1)))
            for i, end in enumerate(ends[name]):
                seen = next((x["_rx"] for x in mine if _words(x["text"]) > i), None)
                if seen is None:
                    continue
                res.words += 1
                res.lags.append(seen - (u.start_wall + end))
                if seen < u.end_wall:
                    res.words_seen_early += 1
        await c.end()
    except Exception as e:  # a failed peer is a figure too
        res.error = f"{type(e).__name__}: {e}"
    finally:
        await c.close()
    return res


async def run_level(args: argparse.Namespace, n: int, ends: dict[str, list[float]]) -> dict[str, Any]:
    procs = stack_processes(args.url)
    me = psutil.Process()
    cpu0 = {k: sum(p.cpu_times()[:2]) for k, p in procs.items()}
    me0 = sum(me.cpu_times()[:2])
    calls0 = whisper_calls(args.stt_url)
    t0 = time.monotonic()
    results = await asyncio.gather(*(run_peer(args, i * 0.37, ends) for i in range(n)))
    cpu = {k: sum(p.cpu_times()[:2]) - cpu0[k] for k, p in procs.items()}
    calls1 = whisper_calls(args.stt_url)
    calls = calls1[0] - calls0[0]
    lags = [x for r in results for x in r.lags]
    finals = [x for r in results for x in r.finals]
    return {
        "n": n,
        "wall": time.monotonic() - t0,
        "lag50": pct(lags, 0.5),
        "lag95": pct(lags, 0.95),
        "fin50": pct(finals, 0.5),
        "fin95": pct(finals, 0.95),
        "early": sum(r.words_seen_early for r in results),
        "words": sum(r.words for r in results),
        "utts": len(finals),
        "cpu": cpu,
        "calls": calls,
        "call_s": (calls1[1] - calls0[1]) / calls if calls else float("nan"),
        "client_cpu": sum(me.cpu_times()[:2]) - me0,
        "errors": [r.error for r in results if r.error],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default="http://127.0.0.1:8080")
    ap.add_argument("--stt-url", default="http://127.0.0.1:8082", help="the stt worker's /metrics")
    ap.add_argument("--peers", default="1")
    ap.add_argument("--rounds", type=int, default=2, help="times each peer speaks the long fixtures")
    ap.add_argument("--simulate", default="", help="PARTIAL_INTERVAL_MS values to run on a virtual clock instead")
    args = ap.parse_args()
    t = time.monotonic()
    ends = reference_word_ends(sorted(set(LONG)))
    print(f"reference word times: offline decode of {len(ends)} files in {time.monotonic() - t:.1f} s", flush=True)
    if args.simulate:
        print("| PARTIAL_INTERVAL_MS | words | word lag p50 / p95 s | final latency p50 / p95 s | Whisper calls "
              "| mean call s (CPU / threads) |")  # fmt: skip
        print("| --- | --- | --- | --- | --- | --- |")
        for ms in [int(x) for x in args.simulate.split(",")]:
            r = simulate(LONG, ms, ends)
            print(
                f"| {ms} | {len(r['lags'])} | {pct(r['lags'], 0.5):.2f} / {pct(r['lags'], 0.95):.2f} "
                f"| {pct(r['finals'], 0.5):.2f} / {pct(r['finals'], 0.95):.2f} | {r['calls']} | {r['cost']:.2f} |",
                flush=True,
            )
        return
    print("| N | utterances | words | shown while still speaking | word lag p50 / p95 s | final latency p50 / p95 s "
          "| Whisper calls | mean call s | stt CPU-s | client CPU-s | wall s | errors |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for n in [int(x) for x in args.peers.split(",")]:
        r = asyncio.run(run_level(args, n, ends))
        errs = "; ".join(sorted(set(r["errors"])))[:120]
        print(
            f"| {n} | {r['utts']} | {r['words']} | {r['early']} | {r['lag50']:.2f} / {r['lag95']:.2f} "
            f"| {r['fin50']:.2f} / {r['fin95']:.2f} | {r['calls']:.0f} | {r['call_s']:.2f} "
            f"| {r['cpu'].get('stt', float('nan')):.1f} "
            f"| {r['client_cpu']:.1f} | {r['wall']:.0f} | {errs or '-'} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
