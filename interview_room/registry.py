"""The media node registry in Redis: the set ``media:nodes`` of node ids, and per node the key
``media:node:{id}`` (its JSON, with a short TTL the node refreshes every second).

Why set + keys: placement reads the set (SMEMBERS) and the nodes' keys (MGET), never SCANs the
keyspace; a node that dies stops refreshing its key, which expires within the TTL, and the next
reader takes its id out of the set.
"""

from __future__ import annotations

import redis.asyncio as aioredis

NODES = "media:nodes"
KEY_PREFIX = "media:node:"


def node_key(node_id: str) -> str:
    return f"{KEY_PREFIX}{node_id}"


async def register(r: aioredis.Redis, node_id: str, info_json: str, ttl_s: int) -> None:
    async with r.pipeline(transaction=True) as p:
        p.set(node_key(node_id), info_json, ex=ttl_s)
        p.sadd(NODES, node_id)
        await p.execute()


async def deregister(r: aioredis.Redis, node_id: str) -> None:
    async with r.pipeline(transaction=True) as p:
        p.delete(node_key(node_id))
        p.srem(NODES, node_id)
        await p.execute()


async def entries(r: aioredis.Redis) -> dict[str, bytes]:
    """node id -> JSON of every registered node whose key has not expired (expired ids are removed)."""
    ids = sorted(m.decode() if isinstance(m, bytes) else str(m) for m in await r.smembers(NODES))
    if not ids:
        return {}
    values = await r.mget([node_key(i) for i in ids])
    gone = [i for i, v in zip(ids, values, strict=True) if v is None]
    if gone:
        await r.srem(NODES, *gone)
    return {i: v for i, v in zip(ids, values, strict=True) if v is not None}
