"""Session hints: recognition of rare names with and without them (offline, the stt worker's decode).

    .venv/bin/python -m loadtests.hints_eval

On tests/fixtures/c_rare_names.wav (invented company, product and people names; its ``hints`` in
references.json are what a user would type, plus a name never said): the error rate on the names
(share of the reference's name words missing from the transcript), the WER of the whole text, and
whether the unsaid name or any hint term shows up in the transcripts of the other fixtures when they
are decoded with the same hints (a hint must not appear where it was not said).
"""

from __future__ import annotations

import re
import time
import wave

import jiwer

from ai_sidecar import hints
from ai_sidecar.transcriber import Transcriber
from interview_room.config import load
from loadtests.client import FIXTURES, load_references

REFS = load_references()
NAME = "c_rare_names.wav"
OTHERS = ["jfk.wav", "q_conflict.wav", "q_why_company.wav", "c_billing_migration.wav", "alsa_front_left.wav"]


def pcm_of(name: str) -> bytes:
    with wave.open(str(FIXTURES / name)) as w:
        return w.readframes(w.getnframes())


def norm(text: str) -> str:
    return " ".join(re.sub(r"[^\w' ]+", " ", text.lower()).split())


def decode(t: Transcriber, name: str, terms: list[str]) -> tuple[str, float]:
    """The stt worker's decode: the hints prompt, and without it when the result looks copied."""
    bias = hints.prompt(terms)
    r = t.transcribe(pcm_of(name), "en", bias)
    spent = r.stt_seconds
    if bias and r.ok and hints.echoed(r.text, terms):
        r = t.transcribe(pcm_of(name), "en", None)
        spent += r.stt_seconds
    return r.text, spent


def main() -> None:
    ref = REFS[NAME]
    t = Transcriber(load())
    t.transcribe(pcm_of("q_why_company.wav"), "en")  # warm-up
    terms = hints.extract_terms(f"{ref['hints']} Also {ref['absent_hint']}.")
    print(f"hint terms: {', '.join(terms)}")
    print("| hints | names right | name error rate | WER (whole text) | Whisper s | transcript |")
    print("| --- | --- | --- | --- | --- | --- |")
    for label, use in (("without", []), ("with", terms)):
        text, spent = decode(t, NAME, use)
        words = set(norm(text).split())
        right = [n for n in ref["names"] if n.lower() in words]
        err = 1 - len(right) / len(ref["names"])
        wer = jiwer.wer(norm(ref["text"]), norm(text))
        print(f"| {label} | {len(right)}/{len(ref['names'])} | {err:.2f} | {wer:.3f} | {spent:.2f} | {text} |")
    leaks = 0
    cpu = time.process_time()
    for other in OTHERS:
        text, _ = decode(t, other, terms)
        found = hints.terms_in(text, terms)
        leaks += len(found)
        print(f"other fixture with the same hints: {other}: hint terms in its transcript: {found or 'none'}")
    print(f"hint terms where none was said: {leaks}; client CPU-s {time.process_time() - cpu:.1f}")


if __name__ == "__main__":
    main()
