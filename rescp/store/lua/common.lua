-- rescp: what every operation shares. The files of rescp/store/lua are joined into one script
-- (loaded once, called by SHA): common, breaker, ratelimit, errors, then ops, which dispatches.
-- ARGV: 1 key prefix, 2 time override ("" = Redis TIME), 3 wall offset, 4 op, 5.. the op's.
-- Numbers cross as %.17g text: Redis would truncate a Lua number to an integer.

local P = ARGV[1]
local function redis_time()
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1e6
end
local NOW
if ARGV[2] ~= '' then
  NOW = tonumber(ARGV[2])
else
  NOW = redis_time()
end
local REDIS_NOW  -- Redis's own clock, which expiries follow: NOW unless a test drives time
local function redis_now()
  if not REDIS_NOW then REDIS_NOW = ARGV[2] == '' and NOW or redis_time() end
  return REDIS_NOW
end
local WALL = NOW + tonumber(ARGV[3])

local K_SEQ, K_LOG, K_LOGID = P .. 'seq', P .. 'log', P .. 'log_id'
local K_SETTINGS, K_DUE, K_OPEN = P .. 'settings', P .. 'deadlines', P .. 'open'
local K_BREAKERS, K_LIMITS, K_FEATURES = P .. 'breakers', P .. 'limits', P .. 'features'
local K_LAST = P .. 'last'  -- the health and degradation last appended (compare-and-set)

if ARGV[4] ~= 'load' and redis.call('EXISTS', K_SETTINGS) == 0 then
  -- Redis lost its data (restarted without persistence, flushed): the store must load again
  return redis.error_reply('RESCPLOAD the store is not loaded in this Redis')
end

local function num(x)
  return string.format('%.17g', x)
end

local function int(x)
  return string.format('%d', x)
end

local function jstr(s)
  return cjson.encode(s)
end

local function jbool(b)
  return b and 'true' or 'false'
end

local function setting(field)
  return redis.call('HGET', K_SETTINGS, field)
end

-- events appended by this call, returned to the caller as seq, type, time, payload
local EVENTS = {}
local CHANGED = {}  -- breaker -> state ('0' deleted), for Applied.states
local OPEN_MOVED = false

local function append(etype, payload)
  local seq = redis.call('INCR', K_SEQ)
  local max = setting('max_events') or '10000'
  redis.call('XADD', K_LOG, 'MAXLEN', '~', max, int(seq) .. '-0', 'sequence', int(seq),
             'time', num(WALL), 'type', int(etype), 'payload', payload)
  EVENTS[#EVENTS + 1] = {int(seq), int(etype), num(WALL), payload}
end

-- float steps, as Python's math.nextafter / math.ulp (struct packs the IEEE bits)
local function bits_step(x, up)
  if x ~= x then return x end
  if x == 0 then
    local tiny = struct.unpack('>d', string.char(0, 0, 0, 0, 0, 0, 0, 1))
    return up and tiny or -tiny
  end
  local bytes = {string.byte(struct.pack('>d', x), 1, 8)}
  local grow = (x > 0) == up  -- away from zero: the magnitude's bits + 1
  local i = 8
  if grow then
    while bytes[i] == 255 do bytes[i] = 0; i = i - 1 end
    bytes[i] = bytes[i] + 1
  else
    while bytes[i] == 0 do bytes[i] = 255; i = i - 1 end
    bytes[i] = bytes[i] - 1
  end
  return (struct.unpack('>d', string.char(unpack(bytes))))
end

local function nextup(x)
  return bits_step(x, true)
end

local function ulp(x)
  x = math.abs(x)
  return nextup(x) - x
end

-- rescp.engine.ratelimit._boundary: the first float above lo at which monotone ready holds
local function boundary(ready, lo, guess)
  local hi = math.max(lo, guess)
  local step = ulp(hi)
  while not ready(hi) do
    lo, hi, step = hi, hi + step, step * 2
  end
  while hi - step > lo and ready(hi - step) do
    hi, step = hi - step, step * 2
  end
  lo = math.max(lo, hi - step)
  while true do
    local mid = lo + (hi - lo) / 2
    if not (mid > lo and mid < hi) then break end
    if ready(mid) then hi = mid else lo = mid end
  end
  return hi
end

-- rescp.engine.ratelimit._delay: a step d with now + d >= at, the smallest when it overshoots
local function delay(now, at)
  local d = at - now
  while now + d < at do d = nextup(d) end
  if now + d > at and d > 0 then
    d = boundary(function(step) return now + step >= at end, 0.0, d)
  end
  return d
end
