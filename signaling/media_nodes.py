"""Placing sessions on media nodes and talking to their internal API (docs/internals.md).

Nodes announce themselves in Redis (``interview_room/registry.py``: the set ``media:nodes`` and
``media:node:{id}``, JSON with a 5 s TTL); a node that stops refreshing disappears. A node that refuses
connections, drains or is full (503 ``node_draining`` / ``node_full``, 507 ``insufficient_storage``) is skipped
for the next one. Every call carries the INTERNAL_TOKEN credential.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

import aiohttp
import redis.asyncio as aioredis

from interview_room import registry
from interview_room.internal_api import auth_headers
from web.common.errors import ApiError

log = logging.getLogger("signaling.media")

SKIP_CODES = ("node_draining", "node_full")  # 503s after which the next node is tried
OFFER_TIMEOUT = aiohttp.ClientTimeout(total=30, sock_connect=3)
END_TIMEOUT = aiohttp.ClientTimeout(total=15, sock_connect=3)


@dataclass
class MediaNode:
    node_id: str
    url: str
    sessions: int
    cpu: float
    draining: bool
    full: bool = False


def _parse_node(key: bytes | str, raw: bytes | str | None) -> MediaNode | None:
    if raw is None:
        return None
    try:
        d = json.loads(raw)
        return MediaNode(
            node_id=(key.decode() if isinstance(key, bytes) else key).removeprefix("media:node:"),
            url=str(d["url"]).rstrip("/"),
            sessions=int(d.get("sessions") or 0),
            cpu=float(d.get("cpu") or 0.0),
            draining=bool(d.get("draining")),
            full=bool(d.get("full")),
        )
    except (ValueError, KeyError, TypeError):
        log.warning("ignoring a malformed media node entry key=%r", key)
        return None


async def live_nodes(r: aioredis.Redis) -> list[MediaNode]:
    """Every registered node (one SMEMBERS + one MGET, no keyspace scan)."""
    return [n for k, v in (await registry.entries(r)).items() if (n := _parse_node(k, v)) is not None]


def placement_order(nodes: list[MediaNode], prefer_url: str | None = None) -> list[MediaNode]:
    """Nodes to try, best first: the session's current node if it is still up, then least loaded
    (a node that announced it is full last: it may have room again by now, else it answers 503).

    The current node comes first even while it drains: it still serves a reconnect of a session
    it holds (and answers 503 ``node_draining`` otherwise, so the next node is tried).
    """
    ready = sorted((n for n in nodes if not n.draining), key=lambda n: (n.full, n.sessions, n.cpu, n.node_id))
    if prefer_url:
        url = prefer_url.rstrip("/")
        current = [n for n in nodes if n.url == url]
        ready = current[:1] + [n for n in ready if n.url != url]
    return ready


def _is_error_json(body: Any) -> bool:
    return isinstance(body, dict) and isinstance(body.get("error"), dict) and "code" in body["error"]


async def post_to_placed_node(
    http: aiohttp.ClientSession, nodes: list[MediaNode], path: str, payload: dict[str, Any], token: str
) -> tuple[MediaNode, int, dict[str, Any]]:
    """POST to the first node that takes it; returns (node, status, JSON body) to pass through.

    A node that is draining or out of disk space is passed over; when every node is full, its 507."""
    full: tuple[MediaNode, int, dict[str, Any]] | None = None
    for node in nodes:
        try:
            async with http.post(
                node.url + path, json=payload, headers=auth_headers(token), timeout=OFFER_TIMEOUT
            ) as resp:
                try:
                    body = await resp.json(content_type=None)
                except ValueError:
                    body = None
                status = resp.status
        except aiohttp.ClientConnectorError as e:
            log.warning("media node unreachable, trying the next node=%s error=%s", node.url, e)
            continue
        except (TimeoutError, aiohttp.ClientError) as e:
            log.warning("media node failed node=%s error=%r", node.url, e)
            raise ApiError(502, "media_node_error", "The media server did not answer; please try again") from e
        if status == 503 and _is_error_json(body) and body["error"]["code"] in SKIP_CODES:
            log.info("media node refused a new session node=%s code=%s", node.url, body["error"]["code"])
            continue
        if status in (401, 403):  # never the user's fault: a node with another INTERNAL_TOKEN
            log.error("media node refused our INTERNAL_TOKEN node=%s status=%d", node.url, status)
            continue
        if status == 507 and _is_error_json(body):
            full = (node, status, body)
            continue
        if status == 200 and isinstance(body, dict):
            return node, status, body
        if status >= 400 and _is_error_json(body):
            return node, status, body
        log.warning("media node answered something unexpected node=%s status=%d", node.url, status)
        raise ApiError(502, "media_node_error", "The media server gave an unexpected answer; please try again")
    if full is not None:
        return full
    raise ApiError(503, "no_media_node", "No media server is available right now; please try again shortly")


async def end_on_node(
    http: aiohttp.ClientSession, node_url: str, session_id: str, token: str
) -> dict[str, Any] | None:
    """Ask the node to close the session; None when the node is gone (the session still ends)."""
    url = f"{node_url.rstrip('/')}/internal/sessions/{session_id}/end"
    try:
        async with http.post(url, headers=auth_headers(token), timeout=END_TIMEOUT) as resp:
            body = await resp.json(content_type=None)
            if resp.status == 200 and isinstance(body, dict):
                return body
            log.warning("media node refused to end the session node=%s status=%d", node_url, resp.status)
    except (TimeoutError, aiohttp.ClientError, ValueError) as e:
        log.warning("media node not reachable to end the session node=%s error=%r", node_url, e)
    return None
