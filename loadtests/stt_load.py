"""The stt worker's decoding under N concurrent speakers, without network, media or client costs. Offline.

    .venv/bin/python -m loadtests.stt_load --sessions 1,10,20,30 --seconds 30

N simulated sessions each "speak" the bench script (five espeak questions with 2 s gaps, staggered
starts, each cut by the media node's segmenter as in a room), in real time: an utterance is handed to the worker's ``Batcher`` + ``Transcriber`` (the
code the stt worker runs, settings from the environment: STT_WINDOW_MIN_S, STT_CONTEXT_S,
STT_BATCH_MAX, ...) 100 ms after its end, as the segmenter's early partial is. Latency = caption
ready minus end of speech (so it includes those 100 ms). Prints per N: captions, p50/p95, Whisper
CPU-seconds of this process (all threads), captions per CPU-second, mean batch size, WER.

Before batching: ``STT_WINDOW_MIN_S=30 STT_CONTEXT_S=0 STT_BATCH_MAX=1``.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import re
import statistics
import sys
import time
import wave
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import jiwer  # noqa: E402
import psutil  # noqa: E402

from ai_sidecar.batcher import Batcher  # noqa: E402
from ai_sidecar.context_window import DecodeItem, SessionHistory  # noqa: E402
from ai_sidecar.transcriber import Transcriber, Transcript  # noqa: E402
from interview_room.config import Config  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures"
SCRIPT = ["q_process_thread.wav", "q_why_company.wav", "q_hash_map.wav", "q_url_shortener.wav", "q_weakness.wav"]
EARLY_S = 0.100


def words(text: str) -> str:
    return " ".join(re.sub(r"[^\w']+", " ", text.lower().replace("-", " ")).split())


def cut(pcm: bytes) -> bytes:
    """The utterance as the media node's segmenter sends it (pre-roll, tail), from the file with silence around."""
    from media_server.segmenter import Segmenter, SegmenterSettings

    seg = Segmenter(SegmenterSettings(early_partial=False))
    audio = b"\x00\x00" * 8000 + pcm + b"\x00\x00" * 16000
    finals = [u.pcm for u in seg.push(audio, 0.0) + seg.flush() if u.final]
    return b"".join(finals) if finals else pcm


def pct(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


async def level(tr: Transcriber, pcm: dict[str, bytes], refs: dict[str, str], n: int, seconds: float) -> dict:
    cfg = tr.cfg
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    loop = asyncio.get_running_loop()

    async def decode(items: list[DecodeItem]) -> list[Transcript]:
        return await loop.run_in_executor(pool, tr.transcribe_batch, items)

    batcher: Batcher[DecodeItem, Transcript] = Batcher(
        decode, max_batch=cfg.stt_batch_max, wait_s=cfg.stt_batch_wait_ms / 1000
    )
    hist = SessionHistory(cfg.stt_context_s)
    lat: list[float] = []
    pairs: list[tuple[str, str]] = []
    pending: set[asyncio.Task[None]] = set()

    async def caption(sid: str, name: str, ended: float) -> None:
        ctx, text = hist.context(sid)
        r = await batcher.submit(DecodeItem(pcm[name], context_pcm=ctx, context_text=text))
        lat.append(time.monotonic() - ended)
        pairs.append((refs[name], r.text if r.ok else ""))
        if r.ok:
            hist.add(sid, pcm[name], r.text)

    async def speaker(i: int) -> None:
        await asyncio.sleep(i * 0.37 % 7.0)
        t_end = time.monotonic() + seconds
        k = 0
        while time.monotonic() < t_end:
            name = SCRIPT[(k + i) % len(SCRIPT)]
            await asyncio.sleep(len(pcm[name]) / 32000)
            ended = time.monotonic()
            await asyncio.sleep(EARLY_S)
            t = asyncio.create_task(caption(f"s{i}", name, ended))
            pending.add(t)
            await asyncio.sleep(2.0 - EARLY_S)
            k += 1

    me = psutil.Process()
    c0 = me.cpu_times()
    t0 = time.monotonic()
    await asyncio.gather(*(speaker(i) for i in range(n)))
    await asyncio.gather(*pending)
    c1 = me.cpu_times()
    cpu = (c1.user + c1.system) - (c0.user + c0.system)
    await batcher.close()
    pool.shutdown()
    wer = jiwer.wer(" ".join(words(r) for r, _ in pairs), " ".join(words(h) or "<empty>" for _, h in pairs))
    return {
        "n": n,
        "captions": len(lat),
        "p50": pct(lat, 0.5),
        "p95": pct(lat, 0.95),
        "cpu": cpu,
        "wall": time.monotonic() - t0,
        "per_cpu": len(lat) / cpu if cpu > 0 else float("nan"),
        "batch": statistics.fmean(batcher.batch_sizes) if batcher.batch_sizes else float("nan"),
        "wer": wer,
        "load": psutil.getloadavg()[0],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sessions", default="1,10,20,30")
    ap.add_argument("--seconds", type=float, default=30.0, help="speech per session")
    args = ap.parse_args()
    import json

    refs_all = json.loads((FIXTURES / "references.json").read_text())
    refs = {n: refs_all[n]["text"] for n in SCRIPT}
    pcm = {}
    for n in SCRIPT:
        with wave.open(str(FIXTURES / n)) as w:
            pcm[n] = cut(w.readframes(w.getnframes()))
    tr = Transcriber(Config())
    tr.transcribe_batch([DecodeItem(pcm[SCRIPT[0]])])  # warm-up
    c = tr.cfg
    print(
        f"window min {c.stt_window_min_s:g} s step {c.stt_window_step_s:g} s, context {c.stt_context_s:g} s, "
        f"batch max {c.stt_batch_max}, wait {c.stt_batch_wait_ms} ms, threads {tr.models.threads}"
    )
    print("| N | captions | p50 s | p95 s | CPU s | wall s | captions per CPU s | mean batch | WER | load |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for n in (int(x) for x in args.sessions.split(",")):
        r = asyncio.run(level(tr, pcm, refs, n, args.seconds))
        print(
            f"| {n} | {r['captions']} | {r['p50']:.2f} | {r['p95']:.2f} | {r['cpu']:.1f} | {r['wall']:.1f} "
            f"| {r['per_cpu']:.2f} | {r['batch']:.1f} | {r['wer']:.3f} | {r['load']:.1f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
