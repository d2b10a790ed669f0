"""Lua scripts behind every multi-key atomic step of the Redis store.

Key order for each script is fixed by ``RedisStore``; time always comes from the Redis
server (``TIME``), so replicas with skewed clocks agree on leases and outbox visibility.
"""

from __future__ import annotations

_LIB = """
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Every script that writes an event gets the 7 event keys first (events hash, thread events
-- list, audit zset, event counter, outbox zset, outbox items hash, outbox counter) and the
-- 5 event arguments first (event id, event doc, event time in us, thread id, notify 1/0).
local function append_event()
  local event_id, thread_id = ARGV[1], ARGV[4]
  redis.call('HSET', KEYS[1], event_id, ARGV[2])
  redis.call('RPUSH', KEYS[2], event_id)
  local seq = redis.call('INCR', KEYS[4])
  redis.call('ZADD', KEYS[3], ARGV[3], string.format('%012d:%s', seq, event_id))
  if ARGV[5] == '1' then
    local id = string.format('%012d', redis.call('INCR', KEYS[7]))
    local item = cjson.encode({id = id, thread_id = thread_id, event_id = event_id})
    redis.call('HSET', KEYS[6], id, item)
    redis.call('ZADD', KEYS[5], now_ms(), id)
  end
end
"""

INGEST = (
    _LIB
    + """
-- KEYS 8..: mention, conversation, thread, thread mentions, all threads,
--           threads in the new thread's state, thread counter
-- ARGV 6..: expected thread id ('' = none), mention key, mention doc, thread doc, version,
--           mention count, state, first thread number, thread id
local thread_id = ARGV[14]
local known = redis.call('HGET', KEYS[8], 'thread')
if known then return {'duplicate', known} end
local conv = redis.call('GET', KEYS[9]) or ''
if conv ~= ARGV[6] then return {'retry', conv} end
local status
if conv ~= '' then
  if redis.call('EXISTS', KEYS[10]) == 0 then
    return redis.error_reply('conversation maps to missing thread ' .. conv)
  end
  redis.call('HINCRBY', KEYS[10], 'version', 1)
  redis.call('HINCRBY', KEYS[10], 'mention_count', 1)
  status = 'attached'
else
  local number = redis.call('INCR', KEYS[14]) + tonumber(ARGV[13]) - 1
  redis.call('HSET', KEYS[10], 'doc', ARGV[9], 'number', number, 'version', ARGV[10],
             'mention_count', ARGV[11], 'state', ARGV[12])
  redis.call('ZADD', KEYS[12], number, thread_id)
  redis.call('ZADD', KEYS[13], number, thread_id)
  redis.call('SET', KEYS[9], thread_id)
  status = 'created'
end
redis.call('HSET', KEYS[8], 'doc', ARGV[8], 'thread', thread_id)
redis.call('RPUSH', KEYS[11], ARGV[7])
append_event()
local t = redis.call('HMGET', KEYS[10], 'doc', 'number', 'version', 'mention_count')
return {status, t[1], t[2], t[3], t[4]}
"""
)

COMMIT = (
    _LIB
    + """
-- KEYS 8..: thread, then one 'threads in state' key per state
-- ARGV 6..: expected version, doc, version, mention count, new state, thread id,
--           then the state names
local thread_id = ARGV[11]
local cur = redis.call('HMGET', KEYS[8], 'version', 'state', 'number')
if not cur[1] or tonumber(cur[1]) ~= tonumber(ARGV[6]) then return 0 end
redis.call('HSET', KEYS[8], 'doc', ARGV[7], 'version', ARGV[8], 'mention_count', ARGV[9],
           'state', ARGV[10])
if cur[2] ~= ARGV[10] then
  for i = 12, #ARGV do
    if ARGV[i] == cur[2] then redis.call('ZREM', KEYS[i - 3], thread_id) end
    if ARGV[i] == ARGV[10] then redis.call('ZADD', KEYS[i - 3], cur[3], thread_id) end
  end
end
append_event()
return 1
"""
)

APPEND_EVENT = _LIB + "append_event()\nreturn 1\n"

OUTBOX_CLAIM = (
    _LIB
    + """
-- KEYS: outbox zset, outbox items hash; ARGV: lease in ms
local now = now_ms()
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 1)
if #ids == 0 then return false end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[1]), ids[1])
return redis.call('HGET', KEYS[2], ids[1])
"""
)

OUTBOX_ACK = """
-- KEYS: outbox zset, outbox items hash; ARGV: item id
redis.call('ZREM', KEYS[1], ARGV[1])
return redis.call('HDEL', KEYS[2], ARGV[1])
"""

ACQUIRE_LEASE = """
-- KEYS: lease; ARGV: holder, ttl in ms
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""

RELEASE_LEASE = """
-- KEYS: lease; ARGV: holder
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

REPLY_BEGIN = (
    _LIB
    + """
-- KEYS: reply, pending replies set
-- ARGV: reply key, doc, lease in ms, pending status, failed status
local now = now_ms()
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
)

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
