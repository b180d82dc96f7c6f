"""Client -> server data-channel messages have one model and one validator (issue 18, item 5).

``messages.parse_client_message`` turns what a browser sends (ping, ask, settings, mock commands) into
its dataclass or refuses it with the error event the client gets; the media node answers and queues
from it, and ``pong`` is the ``Pong`` model's JSON. The llm worker's use of the same validator is in
tests/test_llm_worker.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from interview_room import messages
from interview_room.client_settings import SettingsChange
from interview_room.messages import (
    Ask,
    InvalidClientMessage,
    MockCommand,
    Ping,
    Pong,
    SettingsMessage,
    parse_client_message,
    parse_event,
)
from media_server.session import handle_client_message


def test_each_client_message_has_its_model() -> None:
    assert parse_client_message('{"type": "ping", "id": 7, "t": 1.5}') == Ping(id=7)
    assert parse_client_message({"type": "ping"}) == Ping(id=None)
    assert parse_client_message({"type": "ping", "id": {"n": [1]}}) == Ping(id={"n": [1]})
    assert parse_client_message(b'{"type": "ask", "text": "Why?", "extra": 1}') == Ask(text="Why?")
    assert parse_client_message({"type": "ask"}) == Ask(text=None)
    s = parse_client_message({"type": "settings", "listen_language": "en-US", "hangover": "long", "x": 1})
    assert s == SettingsMessage(change=SettingsChange(listen_language="en", hangover="long"))
    assert parse_client_message({"type": "mock", "action": "next"}, mock=True) == MockCommand(action="next")


def test_payloads_forwarded_to_the_llm_worker_hold_only_known_fields() -> None:
    assert parse_client_message({"type": "ask", "text": "Why?", "junk": "x" * 50}).to_payload() == {
        "type": "ask",
        "text": "Why?",
    }
    settings = parse_client_message({"type": "settings", "answer_language": "pt_BR", "translate": True})
    assert settings.to_payload() == {"type": "settings", "answer_language": "pt", "translate": True}
    assert parse_client_message({"type": "mock", "action": "end"}, mock=True).to_payload() == {
        "type": "mock",
        "action": "end",
    }
    # what is forwarded parses again to the same model (the llm worker validates it once more)
    for m in (settings, parse_client_message({"type": "ask", "text": "Why?"})):
        assert parse_client_message(m.to_payload()) == m


@pytest.mark.parametrize(
    ("raw", "mock", "code", "text"),
    [
        ("not json", False, "bad_message", "Messages must be JSON objects"),
        (b"\xff\xfe", False, "bad_message", "Messages must be JSON objects"),
        ("[1, 2]", False, "bad_message", 'Messages must be JSON objects with a "type"'),
        ('{"type": 5}', False, "bad_message", 'Messages must be JSON objects with a "type"'),
        ('{"type": "shutdown"}', False, "bad_message", "Unknown message type 'shutdown'"),
        ('{"type": "ask", "text": 5}', False, "bad_message", '"text" must be a string'),
        (
            '{"type": "mock", "action": "next"}',
            False,
            "bad_message",
            "mock actions are only for mock interview sessions",
        ),
        (
            '{"type": "mock", "action": "start"}',
            True,
            "bad_message",
            '"action" must be one of: skip, repeat, next, end',
        ),
        (
            '{"type": "settings", "listen_language": "xx", "translate": 1}',
            False,
            "invalid_settings",
            "Invalid settings",
        ),
    ],
)
def test_a_refused_message_says_why(raw: str | bytes, mock: bool, code: str, text: str) -> None:
    with pytest.raises(InvalidClientMessage) as e:
        parse_client_message(raw, mock=mock)
    event = e.value.to_event().to_wire()
    assert event["type"] == "error" and event["code"] == code and event["message"].startswith(text)
    if code == "invalid_settings":
        assert e.value.fields == ("listen_language", "translate")


def test_pong_is_an_event_of_the_protocol() -> None:
    wire = Pong(id="p1").to_wire(ts=12.5)
    assert wire == {"v": messages.PROTOCOL_VERSION, "type": "pong", "ts": 12.5, "id": "p1"}
    assert parse_event(json.dumps(wire)) == Pong(id="p1")


class Channel:
    def __init__(self, enqueue: bool = True) -> None:
        self.replies: list[dict[str, Any]] = []
        self.queued: list[tuple[str, dict[str, Any]]] = []
        self.enqueue = self.queued.append if enqueue else None

    def send(self, msg: dict[str, Any], mock: bool = False) -> None:
        handle_client_message(
            json.dumps(msg), reply=lambda t: self.replies.append(json.loads(t)), enqueue=self.enqueue, mock=mock
        )


def test_the_media_node_answers_and_queues_from_the_model() -> None:
    ch = Channel()
    ch.send({"type": "ping", "id": 3})
    assert len(ch.replies) == 1 and parse_event(ch.replies[0]) == Pong(id=3)
    assert set(ch.replies[0]) == {"v", "type", "ts", "id"}
    ch.send({"type": "ask", "text": "What is a mutex?", "role": "admin"})
    ch.send({"type": "settings", "listen_language": "de-AT"})
    ch.send({"type": "mock", "action": "repeat", "force": True}, mock=True)
    assert ch.queued == [
        ("ask", {"type": "ask", "text": "What is a mutex?"}),
        ("settings", {"type": "settings", "listen_language": "de"}),
        ("mock", {"type": "mock", "action": "repeat"}),
    ]
    ch.send({"type": "ask", "text": ["no"]})
    assert ch.replies[-1]["code"] == "bad_message" and len(ch.queued) == 3

    probe = Channel(enqueue=False)  # a troubleshooting peer answers ping only
    probe.send({"type": "ping", "id": "x"})
    probe.send({"type": "ask", "text": "hi"})
    assert [r["type"] for r in probe.replies] == ["pong", "error"]
    assert probe.replies[1]["message"] == "Unknown message type 'ask'"
