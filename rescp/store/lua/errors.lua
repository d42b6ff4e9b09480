-- rescp.engine.errorlog, mirrored, and health and degradation judged from Redis state.
-- History: ids oldest first (P err:ids), records as codec JSON (P err:rec), idempotency keys
-- (P err:keys), counters (P err:stats, P err:counts), the errors-per-minute ring of 60 one-second
-- buckets (P err:rate), unacknowledged CRITICAL records in history by time (P err:crit).

local K_IDS, K_REC, K_KEYS = P .. 'err:ids', P .. 'err:rec', P .. 'err:keys'
local K_STATS, K_COUNTS, K_RATE, K_CRIT = P .. 'err:stats', P .. 'err:counts', P .. 'err:rate',
                                          P .. 'err:crit'
local CRITICAL = 4
local RATE_SECONDS = 60

local function evict_oldest()
  local id = redis.call('LPOP', K_IDS)
  local json = redis.call('HGET', K_REC, id)
  redis.call('HDEL', K_REC, id)
  local key = cjson.decode(json).idempotency_key
  if key and key ~= '' and redis.call('HGET', K_KEYS, key) == id then
    redis.call('HDEL', K_KEYS, key)
  end
  local time = redis.call('ZSCORE', K_CRIT, id)
  if time then
    local evicted = tonumber(redis.call('HGET', K_STATS, 'evicted') or '-inf')
    redis.call('HSET', K_STATS, 'evicted', num(math.max(evicted, tonumber(time))))
    redis.call('ZREM', K_CRIT, id)
  end
end

local function e_add(json, id, key, count_key, severity, time)
  -- false and the first record when the idempotency key is known; else true and json
  if key ~= '' then
    local first = redis.call('HGET', K_KEYS, key)
    if first then return false, redis.call('HGET', K_REC, first) end
  end
  redis.call('RPUSH', K_IDS, id)
  redis.call('HSET', K_REC, id, json)
  if key ~= '' then redis.call('HSET', K_KEYS, key, id) end
  redis.call('HINCRBY', K_STATS, 'total', 1)
  redis.call('HINCRBY', K_COUNTS, count_key, 1)
  if severity == CRITICAL then
    redis.call('HINCRBY', K_STATS, 'critical', 1)
    redis.call('ZADD', K_CRIT, num(time), id)
  end
  local second = math.floor(time)
  local slot = int(second % RATE_SECONDS)
  local owner = tonumber(redis.call('HGET', K_RATE, 's' .. slot) or '-1')
  if owner == second then
    redis.call('HINCRBY', K_RATE, 'c' .. slot, 1)
  elseif owner < second then
    redis.call('HSET', K_RATE, 's' .. slot, int(second), 'c' .. slot, 1)
  end
  local limit = tonumber(setting('history') or '1000')
  while redis.call('LLEN', K_IDS) > limit do evict_oldest() end
  append(2, json)
  return true, json
end

local function e_acknowledge(id)
  local json = redis.call('HGET', K_REC, id)
  if not json then return nil end
  local at = string.find(json, ',"acknowledged":false,', 1, true)
  if at then
    json = string.sub(json, 1, at - 1) .. ',"acknowledged":true,'
           .. string.sub(json, at + string.len(',"acknowledged":false,'))
    redis.call('HSET', K_REC, id, json)
    redis.call('ZREM', K_CRIT, id)
  end
  return json
end

local function errors_per_minute(now)
  local newest = math.floor(now)
  local oldest = newest - RATE_SECONDS + 1
  local total = 0
  local ring = redis.call('HGETALL', K_RATE)
  local seconds, counts = {}, {}
  for i = 1, #ring, 2 do
    local f, v = ring[i], tonumber(ring[i + 1])
    if string.sub(f, 1, 1) == 's' then seconds[string.sub(f, 2)] = v
    else counts[string.sub(f, 2)] = v end
  end
  for slot, second in pairs(seconds) do
    if oldest <= second and second <= newest then total = total + (counts[slot] or 0) end
  end
  return total + 0.0
end

local function recent_critical(now)
  local horizon = now - tonumber(setting('critical_window') or '300')
  if tonumber(redis.call('HGET', K_STATS, 'evicted') or '-inf') > horizon then return true end
  redis.call('ZREMRANGEBYSCORE', K_CRIT, '-inf', num(horizon))
  return redis.call('ZCARD', K_CRIT) > 0
end

local function judge_health()
  if recent_critical(WALL) then return 3 end
  local threshold = tonumber(setting('error_rate_threshold') or '10')
  if redis.call('SCARD', K_OPEN) > 0 or errors_per_minute(WALL) > threshold then return 2 end
  return 1
end

local function degradation_json(cap_open, cap_features)
  -- rescp.engine.health.degradation over the stored features; the codec's JSON, lists capped
  local open = redis.call('SMEMBERS', K_OPEN)
  table.sort(open)
  local is_open = {}
  for _, name in ipairs(open) do is_open[name] = true end
  local names = redis.call('HKEYS', K_FEATURES)
  table.sort(names)
  local affected, fallback = {}, false
  for _, name in ipairs(names) do
    local f = cjson.decode(redis.call('HGET', K_FEATURES, name))
    for _, b in ipairs(f.breakers) do
      if is_open[b] then
        local status = f.fallback_available and 'degraded' or 'unavailable'
        fallback = fallback or f.fallback_available
        affected[#affected + 1] = '{"feature":' .. jstr(name) .. ',"status":"' .. status
                                  .. '","message":' .. jstr(f.degraded_message) .. '}'
        break
      end
    end
  end
  local shown_open, shown_features = {}, {}
  for i = 1, math.min(#open, cap_open or #open) do shown_open[i] = jstr(open[i]) end
  for i = 1, math.min(#affected, cap_features or #affected) do shown_features[i] = affected[i] end
  return '{"is_degraded":' .. jbool(#open > 0) .. ',"open_circuits":['
         .. table.concat(shown_open, ',') .. '],"affected_features":['
         .. table.concat(shown_features, ',') .. '],"fallback_available":' .. jbool(fallback)
         .. ',"open_count":' .. int(#open) .. ',"affected_count":' .. int(#affected) .. '}'
end

local NO_DEGRADATION = '{"is_degraded":false,"open_circuits":[],"affected_features":[],'
                       .. '"fallback_available":false,"open_count":0,"affected_count":0}'

local function settle(degradation_too)
  -- append the degradation and the health if they differ from the last appended (CAS in Redis)
  if degradation_too then
    local full = degradation_json(nil, nil)
    local last = redis.call('HGET', K_LAST, 'degradation') or NO_DEGRADATION
    if full ~= last then
      redis.call('HSET', K_LAST, 'degradation', full)
      append(3, degradation_json(tonumber(setting('event_open_circuits')),
                                 tonumber(setting('event_features'))))
    end
  end
  local health = judge_health()
  local last = tonumber(redis.call('HGET', K_LAST, 'health') or '1')
  if health ~= last then
    redis.call('HSET', K_LAST, 'health', int(health))
    append(4, '{"from_health":' .. int(last) .. ',"to_health":' .. int(health) .. '}')
  end
end
