"""Pure parts of the data-channel defences: the shared settings validator, the token bucket and the
media node's handling of one client message (no network: the reply and the queue are lists)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from interview_room import client_settings
from interview_room.client_settings import InvalidSettings, SettingsChange, parse_settings
from interview_room.token_bucket import Throttle, TokenBucket
from media_server.session import ClientLimiter, _session_language, handle_client_message


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


# ---- settings ----


def test_language_list_is_whispers() -> None:
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    assert client_settings.LANGUAGES == frozenset(_LANGUAGE_CODES)
    assert set(client_settings.ALIASES.values()) <= client_settings.LANGUAGES


@pytest.mark.parametrize(
    ("raw", "code"),
    [("en", "en"), ("en-US", "en"), ("EN_gb", "en"), (" pt_BR ", "pt"), ("zh-Hant-TW", "zh"), ("iw", "he"), ("nb-NO", "no"), ("haw", "haw")],
)
def test_regional_tags_become_their_language(raw: str, code: str) -> None:
    assert client_settings.language(raw) == code


@pytest.mark.parametrize("raw", ["xx-nonsense", "xx", "english", "", "e", "en--us", "en US", "auto", 42, None, "en-" + "x" * 40])
def test_unknown_languages_are_refused(raw: Any) -> None:
    with pytest.raises(ValueError):
        client_settings.language(raw)


def test_auto_only_where_allowed() -> None:
    assert client_settings.language("Auto", allow_auto=True) == "auto"
    assert parse_settings({"listen_language": "auto"}).listen_language == "auto"
    with pytest.raises(InvalidSettings) as e:
        parse_settings({"answer_language": "auto"})
    assert set(e.value.problems) == {"answer_language"}


def test_parse_settings_normalises_and_forwards_only_what_changes() -> None:
    change = parse_settings({"type": "settings", "listen_language": "en-US", "translate": True, "extra": 1})
    assert change == SettingsChange(listen_language="en", translate=True)
    assert change.to_payload() == {"type": "settings", "listen_language": "en", "translate": True}
    assert parse_settings({"type": "settings"}) == SettingsChange()
    assert parse_settings({"hangover": "long"}).hangover == "long"


def test_one_bad_field_refuses_the_whole_message() -> None:
    with pytest.raises(InvalidSettings) as e:
        parse_settings({"listen_language": "xx-nonsense", "answer_language": "de", "translate": "yes", "hangover": "x"})
    assert set(e.value.problems) == {"listen_language", "translate", "hangover"}
    ev = e.value.to_event()
    assert ev.code == "invalid_settings" and "listen_language" in ev.message and "nothing changed" in ev.message


def test_stored_session_language_is_made_usable() -> None:
    assert _session_language("en-US") == "en"
    assert _session_language("") == "en"
    assert _session_language("auto") == "auto"
    assert _session_language("xx") == "auto"  # Whisper detects rather than failing every segment


# ---- token bucket ----


def test_token_bucket_burst_then_rate() -> None:
    clock = FakeClock()
    b = TokenBucket(rate=2.0, burst=5, clock=clock)
    assert [b.take() for _ in range(7)] == [True] * 5 + [False] * 2
    clock.t += 0.49
    assert not b.take()
    clock.t += 0.01  # 0.5 s at 2/s = one token
    assert b.take() and not b.take()
    clock.t += 100  # refills up to the burst, not beyond
    assert sum(b.take() for _ in range(20)) == 5


def test_token_bucket_rate_zero_is_unlimited() -> None:
    b = TokenBucket(rate=0, burst=1, clock=FakeClock())
    assert all(b.take() for _ in range(1000))


def test_throttle_once_per_interval() -> None:
    clock = FakeClock()
    t = Throttle(5.0, clock)
    assert t.ready() and not t.ready()
    clock.t += 4.9
    assert not t.ready()
    clock.t += 0.1
    assert t.ready()


# ---- one client message on the media node ----


class Channel:
    def __init__(self, maxsize: int = 100) -> None:
        self.replies: list[dict[str, Any]] = []
        self.queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue(maxsize)

    def reply(self, text: str) -> None:
        self.replies.append(json.loads(text))

    def handle(self, msg: Any, limiter: ClientLimiter | None = None, max_bytes: int = 8192) -> None:
        raw = msg if isinstance(msg, str | bytes) else json.dumps(msg)
        handle_client_message(raw, reply=self.reply, enqueue=self.queue.put_nowait, limiter=limiter, max_bytes=max_bytes)

    def codes(self, kind: str) -> list[str]:
        return [r["code"] for r in self.replies if r["type"] == kind]


def test_flood_is_cut_to_the_bucket_with_one_notice() -> None:
    clock = FakeClock()
    ch = Channel(maxsize=1000)
    limiter = ClientLimiter(rate=1.0, burst=8, clock=clock)
    for i in range(300):
        ch.handle({"type": "ask", "text": f"q{i}"}, limiter)
    assert ch.queue.qsize() == 8
    assert ch.codes("notice") == ["rate_limited"]  # one notice, not 292
    assert limiter.dropped == 292
    clock.t += 5.0  # five tokens later, and the notice may be said again
    for i in range(300):
        ch.handle({"type": "ask", "text": f"r{i}"}, limiter)
    assert ch.queue.qsize() == 13
    assert ch.codes("notice") == ["rate_limited", "rate_limited"]


def test_full_queue_drops_with_a_notice() -> None:
    ch = Channel(maxsize=2)
    limiter = ClientLimiter(rate=0, burst=1, clock=FakeClock())  # no rate limit: the queue bound alone
    for _ in range(5):
        ch.handle({"type": "ask"}, limiter)
    assert ch.queue.qsize() == 2
    assert ch.codes("notice") == ["rate_limited"] and limiter.dropped == 3


def test_settings_are_validated_before_queueing() -> None:
    ch = Channel()
    ch.handle({"type": "settings", "listen_language": "en-US", "answer_language": "pt_BR"})
    assert ch.queue.get_nowait() == ("settings", {"type": "settings", "listen_language": "en", "answer_language": "pt"})
    ch.handle({"type": "settings", "listen_language": "xx-nonsense"})
    assert ch.queue.empty()  # not forwarded: the llm worker never sees it
    assert ch.codes("error") == ["invalid_settings"]


def test_oversized_message_is_refused() -> None:
    ch = Channel()
    ch.handle({"type": "ask", "text": "x" * 9000})
    ch.handle(json.dumps({"type": "ask", "text": "é" * 3000}, ensure_ascii=False))  # 6000+ bytes: within 8 KiB
    ch.handle(json.dumps({"type": "ask", "text": "€" * 3000}, ensure_ascii=False))  # 9000+ bytes
    assert ch.codes("error") == ["message_too_large", "message_too_large"]
    assert ch.queue.qsize() == 1
