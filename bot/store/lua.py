"""Lua scripts behind every multi-key atomic step of the Redis store.

Key order for each script is fixed by ``RedisStore``. Time comes from the store's clock as an
argument (``now``), so an injected clock decides leases, outbox visibility, reply leases and KV
expiry exactly as on SQLite; replicas need synchronised clocks (NTP). Outbox scores and reply
leases are in milliseconds (as schema 1 wrote them), leases and KV entries in seconds. Keys
that expire logically also get a generous ``PEXPIRE`` (``gc_ms``) so Redis cleans them up.
"""

from __future__ import annotations

import math

from bot.store.keys import Keys

GRACE_MS = 600_000
"""How long past twice its time to live Redis keeps an expiring key before deleting it."""


def gc_ms(ttl_seconds: float) -> int:
    """The ``PEXPIRE`` for a key whose logical expiry is ``ttl_seconds`` away."""
    return max(0, math.ceil(ttl_seconds * 2000)) + GRACE_MS


_LIB = """
-- Every script that writes an event gets the 7 event keys first (events hash, thread events
-- list, audit zset, event counter, outbox zset, outbox items hash, outbox counter) and the
-- 6 event arguments first (event id, event doc, event time in us, thread id, notify 1/0,
-- now in ms); ``append_event_to`` takes the same two lists from elsewhere. An event id already
-- stored is not appended again (two holders of one timer record one event).
local function append_event_to(k, a)
  local event_id, thread_id = a[1], a[4]
  if redis.call('HSETNX', k[1], event_id, a[2]) == 0 then return end  -- there already
  redis.call('RPUSH', k[2], event_id)
  local seq = redis.call('INCR', k[4])
  redis.call('ZADD', k[3], a[3], string.format('%012d:%s', seq, event_id))
  if a[5] == '1' then
    local id = string.format('%012d', redis.call('INCR', k[7]))
    local item = cjson.encode({id = id, thread_id = thread_id, event_id = event_id})
    redis.call('HSET', k[6], id, item)
    redis.call('ZADD', k[5], a[6], id)
  end
end
local function append_event() append_event_to(KEYS, ARGV) end
"""


def lua_string(value: str) -> str:
    """``value`` as a Lua string literal (every byte outside printable ASCII escaped)."""
    out = []
    for byte in value.encode():
        char = chr(byte)
        out.append(char if 32 <= byte < 127 and char not in '\\"' else f"\\{byte:03d}")
    return '"' + "".join(out) + '"'


def key_table(keys: Keys) -> str:
    """A Lua table ``K`` of this store's fixed key names and key heads, generated from ``Keys``
    (the one place key names are written), for scripts that take no key arguments. Such
    scripts run on one Redis (or a primary with replicas), not on Redis Cluster."""
    names = {
        "events": keys.events,
        "thread_events": keys.thread_events_head,
        "audit": keys.audit,
        "event_counter": keys.event_counter,
        "outbox": keys.outbox,
        "outbox_items": keys.outbox_items,
        "outbox_counter": keys.outbox_counter,
        "thread": keys.thread_head,
        "waiting": keys.waiting_head,
        "waiting_all": keys.waiting_all,
        "held": keys.held_head,
        "threads_in": keys.threads_in_head,
        "active": keys.active,
    }
    body = ", ".join(f"{name} = {lua_string(key)}" for name, key in names.items())
    return f"local K = {{{body}}}\n"


_FIELDS_LIB = """
-- What every read of a thread returns, in this order (``bot.store.redis.THREAD_FIELDS``): the
-- JSON document, then the fields kept beside it, which win over the document's own: number,
-- version, mention count, state, owner (a person's JSON, '' for none), updated at (JSON).
local THREAD_FIELDS = {'doc', 'number', 'version', 'mention_count', 'state', 'owner',
                       'updated_at'}
local function thread_fields(key)
  return redis.call('HMGET', key, unpack(THREAD_FIELDS))
end
"""

_INDEX_LIB = """
-- A thread hash's 'waiting' field names the department whose waiting set holds it and 'held'
-- the person whose held set holds it ('' or absent: none). Every waiting thread is also in
-- the set of all waiting threads. Set keys are a head plus the department or person key.
local function reindex(id, number, old_w, new_w, old_h, new_h, w_head, h_head, all_w)
  if old_w ~= new_w then
    if old_w ~= '' then redis.call('ZREM', w_head .. old_w, id) end
    if new_w ~= '' then redis.call('ZADD', w_head .. new_w, number, id) end
    if new_w == '' then redis.call('ZREM', all_w, id)
    elseif old_w == '' then redis.call('ZADD', all_w, number, id) end
  end
  if old_h ~= new_h then
    if old_h ~= '' then redis.call('ZREM', h_head .. old_h, id) end
    if new_h ~= '' then redis.call('ZADD', h_head .. new_h, number, id) end
  end
end
"""

INGEST = (
    _LIB
    + _FIELDS_LIB
    + _INDEX_LIB
    + """
-- KEYS 8..: mention, conversation, thread, thread mentions, all threads,
--           threads in the new thread's state, thread counter, all waiting threads
-- ARGV 7..: expected thread id ('' = none), mention key, mention doc, thread doc, version,
--           mention count, state, first thread number, thread id, waiting, held,
--           waiting head, held head, owner, updated at
local thread_id = ARGV[15]
local known = redis.call('HGET', KEYS[8], 'thread')
if known then return {'duplicate', known} end
local conv = redis.call('GET', KEYS[9]) or ''
if conv ~= ARGV[7] then return {'retry', conv} end
local status
if conv ~= '' then
  if redis.call('EXISTS', KEYS[10]) == 0 then
    return redis.error_reply('conversation maps to missing thread ' .. conv)
  end
  redis.call('HINCRBY', KEYS[10], 'version', 1)
  redis.call('HINCRBY', KEYS[10], 'mention_count', 1)
  status = 'attached'
else
  local number = redis.call('INCR', KEYS[14]) + tonumber(ARGV[14]) - 1
  redis.call('HSET', KEYS[10], 'doc', ARGV[10], 'number', number, 'version', ARGV[11],
             'mention_count', ARGV[12], 'state', ARGV[13], 'waiting', ARGV[16],
             'held', ARGV[17], 'owner', ARGV[20], 'updated_at', ARGV[21])
  reindex(thread_id, number, '', ARGV[16], '', ARGV[17], ARGV[18], ARGV[19], KEYS[15])
  redis.call('ZADD', KEYS[12], number, thread_id)
  redis.call('ZADD', KEYS[13], number, thread_id)
  redis.call('SET', KEYS[9], thread_id)
  status = 'created'
end
redis.call('HSET', KEYS[8], 'doc', ARGV[9], 'thread', thread_id)
redis.call('RPUSH', KEYS[11], ARGV[8])
append_event()
return {status, unpack(thread_fields(KEYS[10]))}
"""
)

COMMIT = (
    _LIB
    + _FIELDS_LIB
    + _INDEX_LIB
    + """
-- KEYS 8..: thread, all waiting threads, active thread per person
-- ARGV 7..: expected version, doc, version, mention count, new state, thread id, waiting,
--           held, waiting head, held head, person now on the thread ('' = none),
--           'threads in state' head, owner, updated at
-- Returns {1} when stored, else {0, THREAD_FIELDS...} as stored now.
local thread_id = ARGV[12]
local cur = redis.call('HMGET', KEYS[8], 'version', 'state', 'number', 'waiting', 'held')
if not cur[1] or tonumber(cur[1]) ~= tonumber(ARGV[7]) then
  return {0, unpack(thread_fields(KEYS[8]))}
end
redis.call('HSET', KEYS[8], 'doc', ARGV[8], 'version', ARGV[9], 'mention_count', ARGV[10],
           'state', ARGV[11], 'waiting', ARGV[13], 'held', ARGV[14], 'owner', ARGV[19],
           'updated_at', ARGV[20])
if cur[2] ~= ARGV[11] then
  if cur[2] then redis.call('ZREM', ARGV[18] .. cur[2], thread_id) end
  redis.call('ZADD', ARGV[18] .. ARGV[11], cur[3], thread_id)
end
reindex(thread_id, cur[3], cur[4] or '', ARGV[13], cur[5] or '', ARGV[14], ARGV[15], ARGV[16],
        KEYS[9])
if ARGV[17] ~= '' then redis.call('HSET', KEYS[10], ARGV[17], thread_id) end
-- The closed index (schema 4), KEYS[11]: a thread entering 'resolved' is scored by the time
-- of this change (the event's, in us); one leaving it (reopened) leaves the index.
if ARGV[11] == 'resolved' then
  if cur[2] ~= 'resolved' then redis.call('ZADD', KEYS[11], ARGV[3], thread_id) end
elseif cur[2] == 'resolved' then
  redis.call('ZREM', KEYS[11], thread_id)
end
append_event()
return {1}
"""
)

INDEX_THREAD = (
    _INDEX_LIB
    + """
-- Schema 3 upgrade of one thread written before the indexes existed.
-- KEYS: thread, all waiting threads; ARGV: thread id, version it was read at, waiting, held,
-- waiting head, held head. 0: already indexed (by a commit or another replica); -1: it changed
-- since it was read (read it again); 1: indexed.
if redis.call('HEXISTS', KEYS[1], 'waiting') == 1 then return 0 end
local cur = redis.call('HMGET', KEYS[1], 'version', 'number')
if not cur[1] then return 0 end
if tonumber(cur[1]) ~= tonumber(ARGV[2]) then return -1 end
redis.call('HSET', KEYS[1], 'waiting', ARGV[3], 'held', ARGV[4])
reindex(ARGV[1], cur[2], '', ARGV[3], '', ARGV[4], ARGV[5], ARGV[6], KEYS[2])
return 1
"""
)

INDEXED = (
    _FIELDS_LIB
    + """
-- The threads an index set names, oldest first: KEYS: the set; ARGV: last rank (-1: all),
-- thread key head. Returns THREAD_FIELDS for each, one after the other.
local out = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[1]))) do
  local t = thread_fields(ARGV[2] .. id)
  if t[1] then
    for i = 1, #THREAD_FIELDS do out[#out + 1] = t[i] end
  end
end
return out
"""
)

ASSIGN = (
    _LIB
    + _FIELDS_LIB
    + _INDEX_LIB
    + """
-- An ownership change the service spelled out (``bot.storage.Assignment``), in one round trip.
-- Run with ``key_table`` in front (no key arguments, so the call carries only what changes).
-- ARGV 7..: owner key, owner, updated at, person now on the thread ('' = none), the moves as
--           'from=to' pairs joined by ';'
-- Applies only when the thread is indexed as held by nobody and its state is a 'from';
-- the document is left as it is (the fields beside it win). Returns {0, THREAD_FIELDS...} when
-- it does not apply, else {1, doc, number, version, mention count, state} (the owner and the
-- time are the caller's own).
local thread_id = ARGV[4]
local key = K.thread .. thread_id
local cur = redis.call('HMGET', key, 'version', 'state', 'number', 'waiting', 'held')
local to = nil
if cur[1] and cur[5] == '' then
  for from, dest in string.gmatch(ARGV[11], '([^=;]+)=([^=;]+)') do
    if from == cur[2] then to = dest end
  end
end
if not to then return {0, unpack(thread_fields(key))} end
redis.call('HSET', key, 'version', tonumber(cur[1]) + 1, 'state', to, 'owner', ARGV[8],
           'updated_at', ARGV[9], 'waiting', '', 'held', ARGV[7])
if cur[2] ~= to then
  redis.call('ZREM', K.threads_in .. cur[2], thread_id)
  redis.call('ZADD', K.threads_in .. to, cur[3], thread_id)
end
reindex(thread_id, cur[3], cur[4] or '', '', '', ARGV[7], K.waiting, K.held, K.waiting_all)
if ARGV[10] ~= '' then redis.call('HSET', K.active, ARGV[10], thread_id) end
append_event_to({K.events, K.thread_events .. thread_id, K.audit, K.event_counter, K.outbox,
                 K.outbox_items, K.outbox_counter}, ARGV)
local kept = redis.call('HMGET', key, 'doc', 'mention_count')
return {1, kept[1], cur[3], tonumber(cur[1]) + 1, kept[2], to}
"""
)

APPEND_EVENT = _LIB + "append_event()\nreturn 1\n"

OUTBOX_CLAIM = """
-- KEYS: outbox zset, outbox items hash; ARGV: lease in ms, now in ms
local now = tonumber(ARGV[2])
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 1)
if #ids == 0 then return false end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ids[1])
return redis.call('HGET', KEYS[2], ids[1])
"""

OUTBOX_ACK = """
-- KEYS: outbox zset, outbox items hash; ARGV: item id
redis.call('ZREM', KEYS[1], ARGV[1])
return redis.call('HDEL', KEYS[2], ARGV[1])
"""

ACQUIRE_LEASE = """
-- KEYS: lease hash {holder, until}; ARGV: holder, until (s), now (s), gc (ms)
local cur = redis.call('HMGET', KEYS[1], 'holder', 'until')
if cur[1] and cur[1] ~= ARGV[1] and tonumber(cur[2]) > tonumber(ARGV[3]) then return 0 end
redis.call('HSET', KEYS[1], 'holder', ARGV[1], 'until', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
"""

RELEASE_LEASE = """
-- KEYS: lease hash; ARGV: holder
if redis.call('HGET', KEYS[1], 'holder') == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

REPLY_BEGIN = """
-- KEYS: reply, pending replies set
-- ARGV: reply key, doc, lease in ms, pending status, failed status, now in ms
local now = tonumber(ARGV[6])
local cur = redis.call('HMGET', KEYS[1], 'doc', 'status', 'lease_until')
if cur[1] then
  local expired = cur[2] == ARGV[4] and tonumber(cur[3]) <= now
  if cur[2] ~= ARGV[5] and not expired then return {cur[1], 0} end
end
redis.call('HSET', KEYS[1], 'doc', ARGV[2], 'status', ARGV[4],
           'lease_until', now + tonumber(ARGV[3]))
redis.call('SADD', KEYS[2], ARGV[1])
return {ARGV[2], 1}
"""

REPLY_FINISH = """
-- KEYS: reply, pending replies set
-- ARGV: reply key, doc it was read as, new doc, new status, pending status
local cur = redis.call('HGET', KEYS[1], 'doc')
if not cur then return -1 end
if cur ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'doc', ARGV[3], 'status', ARGV[4], 'lease_until', 0)
if ARGV[4] == ARGV[5] then
  redis.call('SADD', KEYS[2], ARGV[1])
else
  redis.call('SREM', KEYS[2], ARGV[1])
end
return 1
"""

_KV_LIB = """
-- A KV entry is a hash {value, until}: until in seconds, absent when it never expires.
local function kv_live(key, now)
  local cur = redis.call('HMGET', key, 'value', 'until')
  return cur[1] ~= false and (not cur[2] or tonumber(cur[2]) > now)
end

local function kv_put(key, value, deadline, gc)
  redis.call('DEL', key)
  if deadline == '' then
    redis.call('HSET', key, 'value', value)
  else
    redis.call('HSET', key, 'value', value, 'until', deadline)
    redis.call('PEXPIRE', key, gc)
  end
end
"""

KV_PUT = (
    _KV_LIB
    + """
-- KEYS: entry; ARGV: value, until (s, '' = never), gc (ms)
kv_put(KEYS[1], ARGV[1], ARGV[2], ARGV[3])
return 1
"""
)

KV_PUT_IF_ABSENT = (
    _KV_LIB
    + """
-- KEYS: entry; ARGV: value, until (s, '' = never), gc (ms), now (s)
if kv_live(KEYS[1], tonumber(ARGV[4])) then return 0 end
kv_put(KEYS[1], ARGV[1], ARGV[2], ARGV[3])
return 1
"""
)

MIGRATE_CURSOR = (
    _KV_LIB
    + """
-- KEYS: cursors hash, KV entry; ARGV: cursor name, until (s), gc (ms), now (s)
local value = redis.call('HGET', KEYS[1], ARGV[1])
if not value then return 0 end
if not kv_live(KEYS[2], tonumber(ARGV[4])) then kv_put(KEYS[2], value, ARGV[2], ARGV[3]) end
redis.call('HDEL', KEYS[1], ARGV[1])
return 1
"""
)

MIGRATE_LEASE = (
    _KV_LIB
    + """
-- KEYS: lease, KV entry (the lease again unless moving); ARGV: 'kv' | 'drop' | 'keep',
-- value ('' = the holder), now (s), grace (ms). A schema 1 lease is a string with a PX;
-- 'keep' turns it into a schema 2 lease hash; a lease hash is read the same way.
local mode, now, grace = ARGV[1], tonumber(ARGV[3]), tonumber(ARGV[4])
local kind = redis.call('TYPE', KEYS[1]).ok
local holder, deadline
if kind == 'string' then
  holder, deadline = redis.call('GET', KEYS[1]), now + redis.call('PTTL', KEYS[1]) / 1000
elseif kind == 'hash' and mode ~= 'keep' then
  local cur = redis.call('HMGET', KEYS[1], 'holder', 'until')
  holder, deadline = cur[1], tonumber(cur[2] or now)
else
  return 0
end
redis.call('DEL', KEYS[1])
if deadline <= now then return 1 end
local gc = math.ceil(2000 * (deadline - now)) + grace
if mode == 'keep' then
  redis.call('HSET', KEYS[1], 'holder', holder, 'until', deadline)
  redis.call('PEXPIRE', KEYS[1], gc)
elseif mode == 'kv' and not kv_live(KEYS[2], now) then
  kv_put(KEYS[2], ARGV[2] ~= '' and ARGV[2] or holder, deadline, gc)
end
return 1
"""
)

INDEX_CLOSED = """
-- Schema 4 upgrade of one thread resolved before the closed index existed.
-- KEYS: thread, closed threads set; ARGV: thread id, version it was read at, closing time (us).
-- 0: nothing to do (gone, reopened, or indexed by a commit); -1: it changed since it was read
-- (read it again); 1: indexed.
local cur = redis.call('HMGET', KEYS[1], 'version', 'state')
if not cur[1] then return 0 end
if tonumber(cur[1]) ~= tonumber(ARGV[2]) then return -1 end
if cur[2] ~= 'resolved' then return 0 end
return redis.call('ZADD', KEYS[2], 'NX', ARGV[3], ARGV[1])
"""

ARCHIVE = (
    _INDEX_LIB
    + """
-- Archive one closed thread: the thread, its mentions, its conversation mapping and its card
-- refs go, a tombstone stays; its events (and its list of event ids) are kept.
-- KEYS: thread, thread mentions, thread cards, conversation, all threads, closed threads,
--       archived by id, archived by number, all waiting threads
-- ARGV: thread id, version it was read at, tombstone doc, number, 'threads in state' head,
--       mention head, waiting head, held head
-- 0: no such thread, or not resolved (its stale closed entry is dropped); -1: it changed since
-- it was read (read it again if still due); 1: archived.
local id = ARGV[1]
local cur = redis.call('HMGET', KEYS[1], 'version', 'state', 'waiting', 'held')
if not cur[1] or cur[2] ~= 'resolved' then
  redis.call('ZREM', KEYS[6], id)
  return 0
end
if tonumber(cur[1]) ~= tonumber(ARGV[2]) then return -1 end
for _, key in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do
  redis.call('DEL', ARGV[6] .. key)
end
if redis.call('GET', KEYS[4]) == id then redis.call('DEL', KEYS[4]) end
reindex(id, 0, cur[3] or '', '', cur[4] or '', '', ARGV[7], ARGV[8], KEYS[9])
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
redis.call('ZREM', KEYS[5], id)
redis.call('ZREM', ARGV[5] .. cur[2], id)
redis.call('ZREM', KEYS[6], id)
redis.call('HSET', KEYS[7], id, ARGV[3])
redis.call('HSET', KEYS[8], ARGV[4], ARGV[3])
return 1
"""
)

# The due-time index (``bot.storage.Timers``). KEYS of each script: timers by next takeable
# time, timer docs, timer names. A doc is JSON {due, payload, holder, attempts, generation};
# ``due`` is kept as text (cjson writes numbers with 14 digits, microseconds need 16).

TIMER_SCHEDULE = """
-- ARGV: key, due (us), payload. Returns the new generation.
local old = redis.call('HGET', KEYS[2], ARGV[1])
local generation = 1
if old then generation = cjson.decode(old).generation + 1 end
local doc = {due = ARGV[2], payload = ARGV[3], holder = '', attempts = 0,
             generation = generation}
redis.call('HSET', KEYS[2], ARGV[1], cjson.encode(doc))
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[3], 0, ARGV[1])
return generation
"""

TIMER_CANCEL = """
-- ARGV: key
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
return redis.call('HDEL', KEYS[2], ARGV[1])
"""

TIMER_CANCEL_PREFIX = """
-- ARGV: prefix. No key is UTF-8 text holding the byte 255, so '(' .. prefix .. '\\255' ends
-- the range of every key that starts with prefix.
local low, high = '[' .. ARGV[1], '(' .. ARGV[1] .. '\\255'
local names = redis.call('ZRANGEBYLEX', KEYS[3], low, high)
for _, name in ipairs(names) do
  redis.call('ZREM', KEYS[1], name)
  redis.call('HDEL', KEYS[2], name)
end
redis.call('ZREMRANGEBYLEX', KEYS[3], low, high)
return #names
"""

TIMER_TAKE = """
-- ARGV: now (us), limit, lease end (us), holder.
-- Returns {key, due, payload, attempts, generation} for each timer taken.
local taken = {}
local names = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, name in ipairs(names) do
  local raw = redis.call('HGET', KEYS[2], name)
  if raw then
    local doc = cjson.decode(raw)
    doc.holder = ARGV[4]
    doc.attempts = doc.attempts + 1
    redis.call('HSET', KEYS[2], name, cjson.encode(doc))
    redis.call('ZADD', KEYS[1], ARGV[3], name)
    taken[#taken + 1] = {name, doc.due, doc.payload, doc.attempts, doc.generation}
  else
    redis.call('ZREM', KEYS[1], name)
    redis.call('ZREM', KEYS[3], name)
  end
end
return taken
"""

TIMER_FINISH = """
-- ARGV: key, holder, generation ('' = any). 1: removed; 0: not leased to holder (or another
-- generation, or gone).
local raw = redis.call('HGET', KEYS[2], ARGV[1])
if not raw then return 0 end
local doc = cjson.decode(raw)
if doc.holder == '' or doc.holder ~= ARGV[2] then return 0 end
if ARGV[3] ~= '' and doc.generation ~= tonumber(ARGV[3]) then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return 1
"""
