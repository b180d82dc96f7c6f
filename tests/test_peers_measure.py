"""loadtests.peers.measure: final latency and word lag from a caption timeline, on synthetic timelines."""

from __future__ import annotations

import pytest

from loadtests.peers.measure import Piece, RefWord, Snapshot, final_word_times, norm_words, stream_figures, wer

# two utterances on the fixture clock: "hello there" (ends 1.0 s) and "good morning team" (2.0–4.0 s)
REF = [RefWord("hello", 0.5), RefWord("there", 1.0), RefWord("good", 2.5), RefWord("morning", 3.2), RefWord("team", 4.0)]
PIECES = [Piece(0.0, 1.05, 1.0, "Hello there."), Piece(2.0, 4.05, 4.0, "Good morning, team.")]
T0 = 1000.0  # local time the fixture's first sample was sent


def test_norm_and_wer() -> None:
    assert norm_words("Cold-hearted, isn't it?") == ["cold", "hearted", "isn't", "it"]
    assert wer("Hello there.", "hello there") == 0.0
    assert wer("a b c d", "a x c") == pytest.approx(0.5)
    assert wer("a b", "") == 1.0


def test_final_latency_is_last_final_word_minus_last_loud_sample() -> None:
    snaps = [
        Snapshot(T0 + 1.6, "Hello there."),
        Snapshot(T0 + 3.0, "Hello there.", "good morning"),
        Snapshot(T0 + 4.5, "Hello there. Good morning,", "team"),
        Snapshot(T0 + 4.9, "Hello there. Good morning, team."),
    ]
    f = stream_figures(snaps, REF, PIECES, T0)
    assert f.latencies == pytest.approx([0.6, 0.9])
    assert f.missing == 0
    # word lag: first appearance anywhere (partials count) minus the word's end
    assert sorted(f.word_lags) == pytest.approx(sorted([1.1, 0.6, 0.5, -0.2, 0.5]))
    assert f.words_unseen == 0


def test_a_revised_final_counts_from_its_revision() -> None:
    snaps = [
        Snapshot(T0 + 1.5, "Hello bear."),
        Snapshot(T0 + 2.0, "Hello there."),
    ]
    words, rx = final_word_times(snaps)
    assert words == ["hello", "there"]
    assert rx == [T0 + 1.5, T0 + 2.0]
    f = stream_figures(snaps, REF, PIECES[:1], T0)
    assert f.latencies == pytest.approx([1.0])


def test_an_utterance_without_final_text_is_missing() -> None:
    snaps = [Snapshot(T0 + 1.4, "Hello there.", "good mor")]
    f = stream_figures(snaps, REF, PIECES, T0)
    assert f.latencies == pytest.approx([0.4])
    assert f.missing == 1
    assert f.words_unseen == 2  # "morning" and "team" never shown
