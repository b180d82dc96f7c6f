"""A local HTTP server speaking the OpenAI Chat Completions wire format, scripted per test.

It is the other end of the real ``openai`` client: POST /v1/chat/completions answers either a
``chat.completion`` JSON body or, for ``stream: true``, Server-Sent Events (``data: {chunk}``
lines, then ``data: [DONE]``). Replies come from a FIFO script first, then from a responder
function (so a worker test can answer each kind of request the way the real model would).
Every request body is recorded. Listens on 127.0.0.1 only.

    python -m tests.fake_openai --port 8099 --token-delay 0.02   # a stand-alone server for manual runs
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from ai_sidecar.llm import prompts


@dataclass
class Reply:
    text: str = "ok"
    status: int = 200
    retry_after: float | None = None
    delay: float = 0.0  # before the response starts
    first_token_delay: float = 0.0  # streaming: after the headers, before the first token
    token_delay: float = 0.0  # streaming: between tokens
    hang: bool = False  # never answer (client timeouts)
    gate: asyncio.Event | None = None  # streaming: hold the first token until the test sets this


Responder = Callable[[dict[str, Any]], Reply]
_TOKENS = re.compile(r"\S+\s*|\s+")


def task_of(body: dict[str, Any]) -> str:
    """Which of the worker's prompts a request carries: detect, answer, score or translate."""
    system = next((m.get("content", "") for m in body.get("messages", []) if m.get("role") == "system"), "")
    for name, tpl in (
        ("detect", prompts.DETECT_SYSTEM),
        ("score", prompts.SCORE_SYSTEM),
        ("translate", prompts.TRANSLATE_SYSTEM),
        ("answer", prompts.ANSWER_SYSTEM),
    ):
        if system.startswith(tpl.template.split("$", 1)[0][:40]):
            return name
    return "other"


def user_data(body: dict[str, Any]) -> dict[str, Any]:
    """The JSON data block of a request's user message."""
    content = next(m["content"] for m in body["messages"] if m["role"] == "user")
    return json.loads(content[content.index("{") :])


def model_responder(
    *,
    slow_word: str = "SLOW",
    score_reply: str | None = None,
    first_token_delay: float = 0.0,
    token_delay: float = 0.002,
    answer_tokens: int = 0,
    slow_gate: asyncio.Event | None = None,
    score_delay: float = 0.0,
) -> Responder:
    """Answers each of the llm worker's prompts the way a model would, deterministically.

    detect: a question when the captions hold "?", "walk me through" or start with "tell";
    answer: "My answer to: <question>" streamed word by word (held back until ``slow_gate`` is set,
    or 3 s, when the question holds ``slow_word``; padded to ``answer_tokens`` words when given); translate:
    "[<Language>] <text>"; score: a fixed rubric (after ``score_delay`` seconds).
    """

    def responder(body: dict[str, Any]) -> Reply:
        task = task_of(body)
        if task == "detect":
            latest = " ".join(user_data(body)["latest_interviewer_captions"])
            low = latest.lower()
            asks = "?" in latest or "walk me through" in low or low.startswith("tell")
            return Reply(json.dumps({"is_question": asks, "question": latest}))
        if task == "score":
            return Reply(
                score_reply
                or json.dumps(
                    {
                        "relevance": 81,
                        "completeness": 72,
                        "structure": 64,
                        "clarity": 90,
                        "feedback": "Name the result.",
                    }
                ),
                delay=score_delay,
            )
        if task == "translate":
            target = body["messages"][0]["content"].split(" into ", 1)[1].split(".", 1)[0]
            return Reply(f"[{target}] {user_data(body)['text']}")
        question = user_data(body)["question"]
        is_slow = slow_word in question
        text = f"My answer to: {question}"
        pad = answer_tokens - len(text.split())
        if pad > 0:
            text += "".join(f" point{i}" for i in range(pad))
        if is_slow and slow_gate is not None:
            return Reply(text, gate=slow_gate, token_delay=token_delay)
        return Reply(text, first_token_delay=3.0 if is_slow else first_token_delay, token_delay=token_delay)

    return responder


class FakeOpenAI:
    def __init__(self, responder: Responder | None = None, model: str = "fake-model") -> None:
        self.responder = responder
        self.model = model
        self.queue: deque[Reply] = deque()
        self.requests: list[dict[str, Any]] = []
        self.port = 0
        self._runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def script(self, *replies: Reply) -> None:
        self.queue.extend(replies)

    def requests_for(self, task: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if task_of(r) == task]

    async def start(self, port: int = 0) -> str:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._completions)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self.base_url

    async def close(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    async def __aenter__(self) -> FakeOpenAI:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    def _next(self, body: dict[str, Any]) -> Reply:
        if self.queue:
            return self.queue.popleft()
        if self.responder:
            return self.responder(body)
        return Reply()

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(body)
        reply = self._next(body)
        if reply.hang:
            await asyncio.sleep(3600)
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.status != 200:
            headers = {"Retry-After": str(reply.retry_after)} if reply.retry_after is not None else {}
            err = {
                "error": {
                    "message": reply.text or "error",
                    "type": "rate_limit_error" if reply.status == 429 else "server_error",
                    "code": None,
                }
            }
            return web.json_response(err, status=reply.status, headers=headers)
        cid = f"chatcmpl-{uuid.uuid4().hex[:12]}"
        created = int(time.time())
        model = body.get("model") or self.model
        if not body.get("stream"):
            return web.json_response(
                {
                    "id": cid,
                    "object": "chat.completion",
                    "created": created,
                    "model": model,
                    "choices": [
                        {"index": 0, "message": {"role": "assistant", "content": reply.text}, "finish_reason": "stop"}
                    ],
                    "usage": {"prompt_tokens": 10, "completion_tokens": len(reply.text.split()), "total_tokens": 10},
                }
            )
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await resp.prepare(request)

        async def send(delta: dict[str, Any], finish: str | None = None) -> None:
            chunk = {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            await resp.write(f"data: {json.dumps(chunk)}\n\n".encode())

        await send({"role": "assistant", "content": ""})
        if reply.gate is not None:
            await reply.gate.wait()
        if reply.first_token_delay:
            await asyncio.sleep(reply.first_token_delay)
        for i, tok in enumerate(_TOKENS.findall(reply.text)):
            if i and reply.token_delay:
                await asyncio.sleep(reply.token_delay)
            await send({"content": tok})
        await send({}, "stop")
        await resp.write(b"data: [DONE]\n\n")
        await resp.write_eof()
        return resp


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=8099)
    ap.add_argument("--first-token-delay", type=float, default=0.2)
    ap.add_argument("--token-delay", type=float, default=0.02)
    ap.add_argument("--score-delay", type=float, default=0.0, help="seconds before each score reply")
    args = ap.parse_args()

    responder = model_responder(
        first_token_delay=args.first_token_delay,
        token_delay=args.token_delay,
        answer_tokens=80,
        score_delay=args.score_delay,
    )

    async def run() -> None:
        fake = FakeOpenAI(responder)
        await fake.start(args.port)
        print(f"fake OpenAI at {fake.base_url}", flush=True)
        await asyncio.Event().wait()

    asyncio.run(run())


if __name__ == "__main__":
    main()
