"""Stable prefix of partial captions (LocalAgreement-2) and session-hint terms: pure functions."""

from __future__ import annotations

from ai_sidecar import hints
from ai_sidecar.stable_prefix import Agreement, advance, is_prefix, split_words


def feed(hyps: list[str]) -> list[str]:
    """The caption text after each decode."""
    st: Agreement | None = None
    out = []
    for h in hyps:
        st, _ = advance(st, h)
        out.append(st.text)
    return out


def test_a_word_is_shown_once_two_consecutive_decodes_agree_on_it() -> None:
    shown = feed(["What is", "What is the diff", "What is the difference between", "What is the difference between a"])
    assert shown == ["", "What is", "What is the", "What is the difference between"]


def test_shown_words_are_never_taken_back_and_only_grow() -> None:
    hyps = [
        "I lead the",
        "I led the migration",
        "I led the migration of our",
        "Hi, let them migrate",  # a wild decode contradicts what is shown
        "I led the migration of our billing",
        "I led the migration of our billing system",
    ]
    shown = feed(hyps)
    assert shown[0] == "" and shown[1] == "I"
    for a, b in zip(shown, shown[1:], strict=False):
        assert b.startswith(a)  # a caption that only grows never jumps
    assert shown[3] == shown[2]  # the contradicting decode added nothing
    assert shown[-1] == "I led the migration of our billing"


def test_comparison_ignores_case_and_punctuation_but_keeps_the_first_spelling() -> None:
    shown = feed(["How would you design", "how would you, design a"])
    assert shown[-1] == "how would you, design"  # as the confirming decode wrote them


def test_shown_prefix_never_contradicts_the_final() -> None:
    final = "Can you tell me about a time you had a conflict with a coworker and how you resolved it?"
    words = split_words(final)
    hyps = []
    for n in range(2, len(words) + 1, 2):
        tail = ["conflicted"] if n < len(words) else []  # the last word of a cut is often wrong
        hyps.append(" ".join(words[:n] + tail))
    st: Agreement | None = None
    for h in hyps:
        st, _ = advance(st, h)
        assert is_prefix(st.text, final)
    assert st is not None and len(st.committed) >= len(words) - 3


def test_state_round_trips_through_json() -> None:
    st, grew = advance(advance(None, "a b c")[0], "a b d")
    assert grew and Agreement.from_json(st.to_json()) == st
    st, grew = advance(st, "a b d e")
    assert grew and st.text == "a b d"
    st, grew = advance(st, "a b d")
    assert not grew and st.text == "a b d"


def test_hint_terms_are_the_names_in_free_text() -> None:
    text = "Company: Zentrovix (data platform team). Products: Quorbit, Pyxora. Stack: gRPC, AWS S3, C++.\nHiring manager Marisol Okonkwo."
    assert hints.extract_terms(text) == ["Zentrovix", "Quorbit", "Pyxora", "gRPC", "AWS S3", "C++", "Marisol Okonkwo"]
    assert hints.extract_terms("") == [] and hints.prompt([]) is None
    assert hints.prompt(["Zentrovix", "Quorbit"]) == "Glossary: Zentrovix, Quorbit."
    many = [f"Name{i}" for i in range(200)]
    assert len(hints.prompt(hints.extract_terms(", ".join(many))) or "") <= hints.MAX_PROMPT_CHARS


def test_a_copied_prompt_is_recognised_but_names_in_speech_are_not() -> None:
    terms = ["Zentrovix", "Quorbit", "Kafkette", "Flinkwise", "Marisol Okonkwo", "Terraform", "Vaultara", "Pyxora"]
    speech = "At Zentrovix we moved the Quorbit service from Kafkette to Flinkwise. Marisol Okonkwo led it."
    assert not hints.echoed(speech, terms)
    assert not hints.echoed("Kafkette, Flinkwise. Marisol Okonkwo led the rollout", terms)
    # what a bare list of names as prompt made Whisper write over real speech: the list continued
    copied = "we moved the Quorbit service from Kafka to Flinkwise Marisol Okonkwo Terraform Vaultara Pyxora shored"
    assert hints.echoed(copied, terms)
    assert hints.echoed("Zentrovix, Quorbit.", terms)  # nothing but hint terms
    assert not hints.echoed("Quorbit", terms) and not hints.echoed("anything", [])
    assert hints.terms_in(speech, terms) == ["Zentrovix", "Quorbit", "Kafkette", "Flinkwise", "Marisol Okonkwo"]
