"""The Redis store: several processes, on one host or many, share one mock through one Redis database.

Keys (all under the prefix `mockmj:`): `head` (epoch, version), `rec` (name → value of the world's records),
`bulk` (name → value of the task and upload records, which workers read when asked), `ver` (a sorted set,
name → the version that last wrote it; a deleted record stays there with no value, so readers learn of
the deletion), `tix:…` (the index of the task records: `tix:all` and `tix:own:OWNER` by submission order,
`tix:end` and `tix:oend:OWNER` by the time each task ends, `tix:hash` image hash → task, `tix:row` task →
its owner and hash), `log:NAME` and `seq:NAME` (journal, outbox), `due` (a sorted set of callbacks by time),
`lock` (redis-py's lock: the mock's one write lock). Reads that must be consistent are Lua scripts,
which Redis runs atomically; writes are MULTI/EXEC pipelines made while holding the lock.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

import redis

from mockmj.store.faults import StoreUnavailable, guard_faults, safe_url
from mockmj.store.records import Head, LogEntry, Record, TaskRow, chunks, decode, encode, is_bulk, purge_horizon

PREFIX = "mockmj:"
# A worker killed (or a Redis restarted) while the lock was held: the lock frees itself after this long, during which
# every write waits. A transaction takes milliseconds (one request's records); ten seconds leave a wide margin.
LOCK_TIMEOUT_S = 10
LOCK_WAIT_S = 60

# Atomic reads: the head and every record written after `since`, in one snapshot.
CHANGES = """
local head = redis.call('HMGET', KEYS[1], 'epoch', 'version', 'purged')
local out = {head[1] or '0', head[2] or '0', head[3] or '0'}
local names = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. ARGV[1], '+inf')
for _, name in ipairs(names) do
  out[#out + 1] = name
  local bulk = string.sub(name, 1, 5) == 'task:' or string.sub(name, 1, 7) == 'upload:'
  out[#out + 1] = redis.call('HGET', bulk and KEYS[4] or KEYS[3], name) or ''
end
return out
"""
# The index rows of the task records written (ARGV[2] rows of four: id, owner, end or '', hash or ''), then the ids
# of the task records deleted. A task's place in submission order is given once, when the store first meets it.
TASK_ROWS = """
local p = ARGV[1]
local n = tonumber(ARGV[2])
local i = 3
for _ = 1, n do
  local id, owner, ends, h = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  i = i + 4
  if ends == '' then ends = '+inf' end
  if not redis.call('ZSCORE', p .. 'tix:all', id) then
    local seq = redis.call('INCR', p .. 'tix:seq')
    redis.call('ZADD', p .. 'tix:all', seq, id)
    redis.call('ZADD', p .. 'tix:own:' .. owner, seq, id)
  end
  redis.call('ZADD', p .. 'tix:end', ends, id)
  redis.call('ZADD', p .. 'tix:oend:' .. owner, ends, id)
  if h ~= '' then redis.call('HSET', p .. 'tix:hash', h, id) end
  redis.call('HSET', p .. 'tix:row', id, owner .. '\\n' .. h)
end
while i <= #ARGV do
  local id = ARGV[i]
  i = i + 1
  local row = redis.call('HGET', p .. 'tix:row', id)
  if row then
    local owner, h = string.match(row, '^(.-)\\n(.*)$')
    redis.call('ZREM', p .. 'tix:all', id)
    redis.call('ZREM', p .. 'tix:own:' .. owner, id)
    redis.call('ZREM', p .. 'tix:end', id)
    redis.call('ZREM', p .. 'tix:oend:' .. owner, id)
    if h ~= '' then redis.call('HDEL', p .. 'tix:hash', h) end
    redis.call('HDEL', p .. 'tix:row', id)
  end
end
return n
"""
# Ids of KEYS[1] (a submission order) whose end in KEYS[2] is at most ARGV[3], oldest first (ARGV[1] = 1: newest
# first), at most ARGV[2] of them: scanned a hundred at a time, and the first ones are the ones asked for (the
# tasks evicted at max_tasks are the oldest finished).
ENDED = """
local newest = ARGV[1] == '1'
local limit, by = tonumber(ARGV[2]), tonumber(ARGV[3])
local out, start = {}, 0
while #out < limit do
  local ids
  if newest then ids = redis.call('ZREVRANGE', KEYS[1], start, start + 99)
  else ids = redis.call('ZRANGE', KEYS[1], start, start + 99) end
  if #ids == 0 then break end
  for _, id in ipairs(ids) do
    local ends = tonumber(redis.call('ZSCORE', KEYS[2], id))
    if ends ~= nil and ends <= by and #out < limit then out[#out + 1] = id end
  end
  start = start + 100
end
return out
"""
EVERYTHING = """
local head = redis.call('HMGET', KEYS[1], 'epoch', 'version', 'purged')
local out = {head[1] or '0', head[2] or '0', head[3] or '0'}
local all = redis.call('HGETALL', KEYS[2])
for _, item in ipairs(all) do out[#out + 1] = item end
return out
"""
APPEND = """
local seq = redis.call('INCR', KEYS[2])
local keep = tonumber(ARGV[2])
if keep > 0 then
  redis.call('RPUSH', KEYS[1], seq .. '\\n' .. ARGV[3] .. '\\n' .. ARGV[1])
  redis.call('LTRIM', KEYS[1], -keep, -1)
end
return seq
"""
# Due callbacks in time order, except those of tasks a claim still leases; their tasks are leased (the callbacks
# stay until released as done).
CLAIM = """
local items = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local wall = tonumber(ARGV[2])
local free = {}
local out = {}
for _, member in ipairs(items) do
  local task = string.match(member, '^[^\\n]*\\n[^\\n]*\\n([^\\n]*)\\n')
  if free[task] == nil then
    local lease = tonumber(redis.call('HGET', KEYS[2], task) or '0')
    free[task] = lease <= wall
    if free[task] then redis.call('HSET', KEYS[2], task, ARGV[3]) end
  end
  if free[task] then out[#out + 1] = member end
end
return out
"""
# Tombstones (names in `ver` with no value in `rec`) of versions up to ARGV[1]: gone.
PURGE = """
local names = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
for _, name in ipairs(names) do
  if redis.call('HEXISTS', KEYS[2], name) == 0 and redis.call('HEXISTS', KEYS[4], name) == 0 then
    redis.call('ZREM', KEYS[1], name)
  end
end
redis.call('HSET', KEYS[3], 'purged', ARGV[1])
return #names
"""


class RedisStore:
    shared = True

    def __init__(self, url: str) -> None:
        self.url = url
        try:
            self.redis = redis.Redis.from_url(url, socket_timeout=30, socket_connect_timeout=5)
            self.redis.ping()
            # an earlier mockmj kept the task records with the world's (`rec`) and had no index of them: its
            # workers' tasks would be invisible here, and its world misread
            earlier = next(self.redis.hscan_iter(PREFIX + "rec", match="task:*", count=1000), None)
        except (redis.RedisError, ValueError) as exc:
            raise ValueError(f"store {safe_url(url)}: cannot reach Redis ({exc})") from None
        if earlier is not None:
            raise ValueError(f"store {safe_url(url)}: this Redis database was written by an earlier mockmj (task "
                             "records beside the world's, no index of them), which this version does not read; give "
                             "it a database of its own (another number, or an emptied one)")
        self._lock = self.redis.lock(PREFIX + "lock", timeout=LOCK_TIMEOUT_S, blocking_timeout=LOCK_WAIT_S,
                                     thread_local=True)
        self._changes = self.redis.register_script(CHANGES)
        self._everything = self.redis.register_script(EVERYTHING)
        self._append = self.redis.register_script(APPEND)
        self._claim = self.redis.register_script(CLAIM)
        self._purge = self.redis.register_script(PURGE)
        self._task_rows = self.redis.register_script(TASK_ROWS)
        self._ended = self.redis.register_script(ENDED)
        self._held = threading.local()  # re-entrance is per thread
        # a due callback's member must be unique even when two are equal: a per-process tag and a counter
        self._tag = os.urandom(6).hex()
        self._count = itertools.count()

    # ---------------------------------------------------------------------------- records
    @contextmanager
    def exclusive(self) -> Iterator[None]:
        if getattr(self._held, "yes", False):
            yield
            return
        try:
            acquired = self._lock.acquire()
        except redis.RedisError as exc:
            raise StoreUnavailable(self.url, exc) from exc
        if not acquired:
            raise StoreUnavailable(self.url, f"another worker held the lock for over {LOCK_WAIT_S} s")
        self._held.yes = True
        try:
            yield
        finally:
            self._held.yes = False
            # a lock that expired (a very long transaction), or a Redis gone meanwhile: nothing to release; it
            # expires by itself (LOCK_TIMEOUT_S)
            with suppress(redis.RedisError):
                self._lock.release()

    def head(self) -> Head:
        epoch, version, purged = self.redis.hmget(PREFIX + "head", "epoch", "version", "purged")
        return Head(int(epoch or 0), int(version or 0), int(purged or 0))

    @staticmethod
    def _split(reply: list[bytes]) -> tuple[Head, list[Record]]:
        head = Head(int(reply[0]), int(reply[1]), int(reply[2]))
        values = reply[3:]
        records = [(values[i].decode(), values[i + 1] or None) for i in range(0, len(values), 2)]
        return head, records

    def changes(self, since: int) -> tuple[Head, list[Record]]:
        return self._split(self._changes(keys=[PREFIX + "head", PREFIX + "ver", PREFIX + "rec", PREFIX + "bulk"],
                                         args=[since]))

    def everything(self) -> tuple[Head, list[Record]]:
        return self._split(self._everything(keys=[PREFIX + "head", PREFIX + "rec"]))

    def record(self, name: str) -> bytes | None:
        value: bytes | None = self.redis.hget(PREFIX + ("bulk" if is_bulk(name) else "rec"), name)
        return value

    def records(self) -> Iterator[Record]:
        for kind in ("rec", "bulk"):
            for name, value in self.redis.hscan_iter(PREFIX + kind, count=500):
                yield name.decode(), value

    def put(self, records: list[Record], after: Head, rows: Sequence[TaskRow] = ()) -> Head:
        version = after.version + 1
        pipe = self.redis.pipeline(transaction=True)
        for part in chunks(records, 500):
            for kind, bulk in (("rec", False), ("bulk", True)):
                kept = {name: value for name, value in part if value is not None and is_bulk(name) == bulk}
                gone = [name for name, value in part if value is None and is_bulk(name) == bulk]
                if kept:
                    pipe.hset(PREFIX + kind, mapping=kept)
                if gone:
                    pipe.hdel(PREFIX + kind, *gone)
            pipe.zadd(PREFIX + "ver", {name: version for name, _ in part})
        gone_tasks = [name[5:] for name, value in records if value is None and name.startswith("task:")]
        if rows or gone_tasks:
            args: list[str | int] = [PREFIX, len(rows)]
            for row in rows:
                args += [row.id, row.owner, "" if row.ends is None else row.ends, row.hash or ""]
            self._task_rows(keys=[], args=[*args, *gone_tasks], client=pipe)
        pipe.hset(PREFIX + "head", "version", version)
        pipe.execute()
        horizon = purge_horizon(version)
        if horizon is not None:  # still under the lock: no other worker writes meanwhile
            self._purge(keys=[PREFIX + "ver", PREFIX + "rec", PREFIX + "head", PREFIX + "bulk"], args=[horizon])
        return Head(after.epoch, version, horizon or after.purged)

    def wipe(self) -> Head:
        index = list(self.redis.scan_iter(PREFIX + "tix:*", count=1000))  # under the lock: nobody adds meanwhile
        pipe = self.redis.pipeline(transaction=True)
        pipe.delete(PREFIX + "rec", PREFIX + "bulk", PREFIX + "ver", PREFIX + "due", PREFIX + "leases", *index)
        pipe.hincrby(PREFIX + "head", "epoch", 1)
        pipe.hset(PREFIX + "head", mapping={"version": 0, "purged": 0})
        _, epoch, _ = pipe.execute()
        return Head(int(epoch), 0)

    # ---------------------------------------------------------------------------- the task index
    def task_ids(self, owner: str | None = None, *, newest_first: bool = False, limit: int | None = None,
                 ended_by: int | None = None, open_at: int | None = None) -> list[str]:
        order = PREFIX + ("tix:all" if owner is None else "tix:own:" + owner)
        ends = PREFIX + ("tix:end" if owner is None else "tix:oend:" + owner)
        count = -1 if limit is None else limit
        if count == 0:
            return []
        if open_at is not None:  # few tasks are open: found by their end, then put in submission order
            found = [i.decode() for i in self.redis.zrangebyscore(ends, f"({open_at}", "+inf")]
            places = self.redis.zmscore(order, found) if found else []
            ranked = sorted((p, i) for p, i in zip(places, found, strict=True) if p is not None)
            ids = [i for _, i in (ranked[::-1] if newest_first else ranked)]
            return ids if count < 0 else ids[:count]
        if ended_by is not None:
            reply = self._ended(keys=[order, ends], args=[1 if newest_first else 0,
                                                          count if count > 0 else 2**53, ended_by])
            return [i.decode() for i in reply]
        stop = count - 1 if count > 0 else -1
        found = self.redis.zrevrange(order, 0, stop) if newest_first else self.redis.zrange(order, 0, stop)
        return [i.decode() for i in found]

    def task_total(self) -> int:
        return int(self.redis.zcard(PREFIX + "tix:all"))

    def task_by_hash(self, image_hash: str) -> str | None:
        found = self.redis.hget(PREFIX + "tix:hash", image_hash)
        return found.decode() if found is not None else None

    # ---------------------------------------------------------------------------- logs
    def append(self, log: str, key: str | None, value: Any, keep: int, max_bytes: int | None = None,
               weight: int | None = None) -> int:
        return int(self._append(keys=[PREFIX + "log:" + log, PREFIX + "seq:" + log],
                                args=[encode(value), keep, key if key is not None else ""]))

    def entries(self, log: str) -> list[LogEntry]:
        return [LogEntry(e.seq, e.key, decode(e.value)) for e in self._entries(log)]

    def _entries(self, log: str) -> list[LogEntry]:  # values as stored
        return [_unpack(raw) for raw in self.redis.lrange(PREFIX + "log:" + log, 0, -1)]

    def total(self, log: str) -> int:
        return int(self.redis.get(PREFIX + "seq:" + log) or 0)

    def clear_log(self, log: str, key: str | None = None) -> None:
        if key is None:
            self.redis.delete(PREFIX + "log:" + log, PREFIX + "seq:" + log)
            return
        with self.exclusive():
            kept = [e for e in self._entries(log) if e.key != key]
            pipe = self.redis.pipeline(transaction=True)
            pipe.delete(PREFIX + "log:" + log)
            for e in kept:
                pipe.rpush(PREFIX + "log:" + log, _pack(e))
            pipe.execute()

    # ---------------------------------------------------------------------------- due callbacks
    def add_due(self, items: list[tuple[int, str, str, Any]]) -> None:
        if items:
            members = {self._member(owner, task, encode(value)): at for at, owner, task, value in items}
            self.redis.zadd(PREFIX + "due", members)

    def _member(self, owner: str, task: str, value: bytes) -> bytes:
        # equal times sort by member: the zero-padded counter keeps one worker's callbacks in their order
        return f"{self._tag}-{next(self._count):012d}\n{owner}\n{task}\n".encode() + value

    def claim_due(self, now: int, lease_s: float) -> list[tuple[bytes, Any]]:
        wall = time.time()
        claimed = self._claim(keys=[PREFIX + "due", PREFIX + "leases"], args=[now, wall, wall + lease_s])
        return [(m, decode(m.split(b"\n", 3)[3])) for m in claimed]

    def release_due(self, tasks: list[str], done: list[bytes]) -> None:
        if tasks or done:
            pipe = self.redis.pipeline(transaction=True)
            if done:
                pipe.zrem(PREFIX + "due", *done)
            if tasks:
                pipe.hdel(PREFIX + "leases", *tasks)
            pipe.execute()

    def next_due(self) -> int | None:
        first = self.redis.zrange(PREFIX + "due", 0, 0, withscores=True)
        return int(first[0][1]) if first else None

    def drop_due(self, owner: str | None = None) -> None:
        if owner is None:
            self.redis.delete(PREFIX + "due", PREFIX + "leases")
            return
        mine = [m for m in self.redis.zrange(PREFIX + "due", 0, -1) if m.split(b"\n", 2)[1] == owner.encode()]
        if mine:
            self.redis.zrem(PREFIX + "due", *mine)

    def close(self) -> None:
        self.redis.close()


# A log entry is "seq\nkey\nvalue": keys come from HTTP headers, which cannot hold a newline.
def _pack(entry: LogEntry) -> bytes:
    return f"{entry.seq}\n{entry.key or ''}\n".encode() + entry.value


def _unpack(raw: bytes) -> LogEntry:
    seq, key, value = raw.split(b"\n", 2)
    return LogEntry(int(seq), key.decode() or None, value)


guard_faults(RedisStore, (redis.RedisError,))
