"""Captions under load: N concurrent aiortc peers speak the fixtures against a running stack.

    .venv/bin/python -m loadtests.bench --url http://127.0.0.1:8080 --peers 1,5,10,20 --seconds 40

Prints, per N: end-of-speech -> final-caption latency p50/p95 (client clock: caption received
minus the wall time the utterance's last sample was sent), caption WER against the references,
CPU% and RSS of each stack process, the stt worker's CPU-seconds and captions per stt CPU-second,
the client's own CPU-seconds, frames dropped (media node counter) and client pacing stalls.
First it prints the floor: the 100 ms end-of-speech wait + the median time of one Whisper call on
the script's utterances (decoded here, as the stt worker decodes them: same settings from the
environment, each with the previous utterance as context); ``--no-floor`` skips it.
Traffic goes only to the given loopback URL; every peer stops after --seconds. The peers' new
accounts are verified in the stack's database: set DATABASE_URL (``interview-room infra`` prints it).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from typing import Any

import jiwer
import psutil

from loadtests import accounts
from loadtests.client import FIXTURES, RoomClient, Utterance, WavTrack, load_references

REFS = load_references()
SCRIPT = ["q_process_thread.wav", "q_why_company.wav", "q_hash_map.wav", "q_url_shortener.wav", "q_weakness.wav"]
PARTS = ("signaling", "media", "stt", "llm")


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[^a-z0-9' ]+", " ", text.lower().replace("-", " "))).strip()


@dataclass
class PeerResult:
    latencies: list[float] = field(default_factory=list)
    refs: list[str] = field(default_factory=list)
    hyps: list[str] = field(default_factory=list)
    stalls: int = 0
    missing: int = 0
    error: str = ""


def _match(utts: list[Utterance], cap: dict[str, Any]) -> Utterance | None:
    """The utterance a caption overlaps most on the session clock."""
    best, best_ov = None, 0.0
    for u in utts:
        if u.t0 is None or u.t1 is None:
            continue
        ov = min(u.t1, cap["t1"]) - max(u.t0, cap["t0"])
        if ov > best_ov:
            best, best_ov = u, ov
    return best


async def run_peer(
    url: str, seconds: float, offset: float, hangover: str, database_url: str | None = None
) -> PeerResult:
    res = PeerResult()
    await asyncio.sleep(offset)  # stagger so peers don't all speak in lockstep
    c = RoomClient(url)
    try:
        await c.register(f"bench-{uuid.uuid4().hex[:10]}@example.com", "bench password 123", "Bench")
        await accounts.verify(str(c.user["id"]) if c.user else "", database_url)
        s = await c.create_session(title="bench", mode="assistant", hangover=hangover)
        track = WavTrack([FIXTURES / f for f in SCRIPT], gap=2.0, loop_seconds=seconds)
        await c.connect(s["id"], [("interviewer", track)])
        await c.wait_played(timeout=seconds * 3 + 60)
        await asyncio.sleep(8)  # last captions
        captions = [e for e in c.received if e.get("type") == "caption" and e.get("final")]
        by_utt: dict[int, list[dict[str, Any]]] = {}
        for cap in captions:
            u = _match(track.utterances, cap)
            if u is not None:
                by_utt.setdefault(u.index, []).append(cap)
        for u in track.utterances:
            caps = by_utt.get(u.index, [])
            res.refs.append(REFS[u.path.rsplit("/", 1)[-1]]["text"])
            res.hyps.append(" ".join(x["text"] for x in caps))
            if not caps:
                res.missing += 1
            elif u.end_wall is not None:
                res.latencies.append(max(x["_rx"] for x in caps) - u.end_wall)
        res.stalls = track.stalls
        await c.end()
    except Exception as e:  # a failed peer is a figure too
        res.error = f"{type(e).__name__}: {e}"
    finally:
        await c.close()
    return res


def stack_processes(url: str) -> dict[str, psutil.Process]:
    """The stack's processes: those started for this URL's HTTP_PORT (other stacks may be running)."""
    port = url.rsplit(":", 1)[-1].strip("/")
    found: dict[str, psutil.Process] = {}
    for p in psutil.process_iter(["cmdline"]):
        cmd = p.info["cmdline"] or []
        if len(cmd) >= 3 and cmd[-2] == "interview_room.cli" and cmd[-1] in PARTS:
            try:
                if p.environ().get("HTTP_PORT", "8080") == port:
                    found[cmd[-1]] = p
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
    return found


def media_counter(media_url: str, name: str) -> float:
    try:
        with urllib.request.urlopen(f"{media_url}/metrics", timeout=5) as r:
            text = r.read().decode()
    except OSError:
        return float("nan")
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name))


def pct(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def whisper_floor() -> tuple[float, float]:
    """(floor, median Whisper call seconds) for the script's utterances, decoded in this process."""
    import statistics
    import wave

    from ai_sidecar.context_window import DecodeItem, SessionHistory
    from ai_sidecar.transcriber import Transcriber
    from interview_room.config import Config

    tr = Transcriber(Config())
    hist = SessionHistory(tr.cfg.stt_context_s)
    pcms = []
    for name in SCRIPT:
        with wave.open(str(FIXTURES / name)) as w:
            pcms.append(w.readframes(w.getnframes()))
    tr.transcribe_batch([DecodeItem(pcms[0])])  # warm-up
    times = []
    for _ in range(2):
        for pcm in pcms:
            ctx, text = hist.context("bench")
            t = time.perf_counter()
            r = tr.transcribe_batch([DecodeItem(pcm, context_pcm=ctx, context_text=text)])[0]
            times.append(time.perf_counter() - t)
            if r.ok:
                hist.add("bench", pcm, r.text)
    med = statistics.median(times)
    return 0.100 + med, med


def cpu_seconds(p: psutil.Process) -> float:
    try:
        t = p.cpu_times()
    except psutil.Error:
        return float("nan")
    return t.user + t.system


async def run_level(args: argparse.Namespace, n: int) -> dict[str, Any]:
    procs = stack_processes(args.url)
    for p in procs.values():
        p.cpu_percent(None)
    me = psutil.Process()
    cpu0 = {k: cpu_seconds(p) for k, p in procs.items()}
    me0 = cpu_seconds(me)
    dropped0 = media_counter(args.media_url, "ir_audio_frames_dropped_total")
    t0 = time.monotonic()
    results = await asyncio.gather(*(run_peer(args.url, args.seconds, i * 0.37, args.hangover) for i in range(n)))
    elapsed = time.monotonic() - t0
    cpu = {k: p.cpu_percent(None) for k, p in procs.items()}
    cpu_s = {k: cpu_seconds(p) - cpu0[k] for k, p in procs.items()}
    rss = {k: p.memory_info().rss / 2**20 for k, p in procs.items()}
    lat = [x for r in results for x in r.latencies]
    refs = [x for r in results for x in r.refs]
    hyps = [x for r in results for x in r.hyps]
    wer = float(jiwer.wer(" ".join(map(_norm, refs)), " ".join(map(_norm, hyps)))) if refs else float("nan")
    return {
        "n": n,
        "elapsed": elapsed,
        "p50": pct(lat, 0.5),
        "p95": pct(lat, 0.95),
        "captions": len(lat),
        "missing": sum(r.missing for r in results),
        "wer": wer,
        "cpu": cpu,
        "stt_cpu_s": cpu_s.get("stt", float("nan")),
        "client_cpu_s": cpu_seconds(me) - me0,
        "load": psutil.getloadavg()[0],
        "rss": rss,
        "dropped": media_counter(args.media_url, "ir_audio_frames_dropped_total") - dropped0,
        "stalls": sum(r.stalls for r in results),
        "errors": [r.error for r in results if r.error],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default="http://127.0.0.1:8080")
    ap.add_argument("--media-url", default="http://127.0.0.1:8081")
    ap.add_argument("--peers", default="1,5,10")
    ap.add_argument("--hangover", default="balanced", choices=("short", "balanced", "long"))
    ap.add_argument("--seconds", type=float, default=40.0, help="speech per peer (bounded)")
    ap.add_argument("--no-floor", action="store_true", help="skip the Whisper floor measurement")
    args = ap.parse_args()
    levels = [int(x) for x in args.peers.split(",")]
    floor = float("nan")
    if not args.no_floor:
        floor, med = whisper_floor()
        print(f"floor {floor:.3f} s = 0.100 s end-of-speech wait + median Whisper call {med:.3f} s", flush=True)
    print(
        "| N | captions | missing | p50 s | p95 s | p50 - floor | WER | CPU% signaling/media/stt/llm | stt CPU s "
        "| captions per stt CPU s | client CPU s | load | RSS MB media/stt | dropped | stalls | errors |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for n in levels:
        r = asyncio.run(run_level(args, n))
        cpu = "/".join(f"{r['cpu'].get(k, float('nan')):.0f}" for k in PARTS)
        rss = "/".join(f"{r['rss'].get(k, float('nan')):.0f}" for k in ("media", "stt"))
        errs = "; ".join(sorted(set(r["errors"])))[:120]
        per = r["captions"] / r["stt_cpu_s"] if r["stt_cpu_s"] > 0 else float("nan")
        print(
            f"| {n} | {r['captions']} | {r['missing']} | {r['p50']:.2f} | {r['p95']:.2f} | {r['p50'] - floor:+.2f} "
            f"| {r['wer']:.3f} | {cpu} | {r['stt_cpu_s']:.1f} | {per:.2f} | {r['client_cpu_s']:.1f} | {r['load']:.1f} "
            f"| {rss} | {r['dropped']:.0f} | {r['stalls']} | {errs or '-'} |",
            flush=True,
        )
        if n != levels[-1]:
            time.sleep(5)  # let queues drain between levels


if __name__ == "__main__":
    main()
