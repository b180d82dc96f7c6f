"""The media session's parts that need no stack: which events the mock interviewer says aloud, and
reading a track until it ends."""

from __future__ import annotations

import asyncio

from aiortc.mediastreams import MediaStreamError

from interview_room.messages import Caption, MockCountdown, MockDone, MockQuestion
from media_server.audio import frames
from media_server.mock_voice import spoken_event


def test_spoken_events_are_parsed_not_searched() -> None:
    q = MockQuestion(index=1, total=3, question_id="q1", text="Tell me about you", speech="First: tell me about you")
    said = spoken_event(q.to_json())
    assert isinstance(said, MockQuestion) and said.speech == "First: tell me about you" and said.index == 1
    done = spoken_event(MockDone(reason="completed", speech="Thank you").to_json())
    assert isinstance(done, MockDone) and done.reason == "completed"
    # a caption that merely quotes a mock event is not said
    quoted = Caption(id="c", role="candidate", t0=0, t1=1, text='I typed {"type": "mock.question"}', lang="en")
    assert spoken_event(quoted.to_json()) is None
    assert spoken_event(MockCountdown(question_id="q1", seconds=5).to_json()) is None
    for bad in ("", "not json", "[]", '{"type": "mock.question"}', '{"type": "mock.question", "index": 1, "x": 2}'):
        assert spoken_event(bad) is None


class _Track:
    def __init__(self, n: int) -> None:
        self.n = n

    async def recv(self) -> int:
        if self.n == 0:
            raise MediaStreamError
        self.n -= 1
        return self.n


def test_frames_until_the_track_ends() -> None:
    async def read() -> list[int]:
        return [f async for f in frames(_Track(3))]  # type: ignore[arg-type]

    assert asyncio.run(read()) == [2, 1, 0]
