-- rescp.engine.ratelimit, mirrored: a limit's config is codec JSON in the hash P limits, with
-- an epoch (P limits:epoch) that a changed config bumps, so its keys start fresh as the Python
-- limiter's do. A key is the hash P{l:NAME:EPOCH:KEY} (alert throttle, and the bucket's tokens
-- and last, or the sliding window's live cost and the time of its newest entry) beside the
-- list ...:e of "time cost" entries oldest first; both expire (PEXPIRE) once the key is fresh,
-- which is when Python may evict it, give or take a second: the hash's ex says when they will
-- (Redis's clock), so a busy key renews its expiry once a second, not on every request.

local TOKEN_BUCKET = 2

local function l_get(name)
  local json = redis.call('HGET', K_LIMITS, name)
  if not json then return nil end
  local c = cjson.decode(json)
  local epoch = redis.call('HGET', K_LIMITS .. ':epoch', name)
  return {name = name, cap = c.max_requests, window = c.window, alg = c.algorithm,
          base = P .. '{l:' .. name .. ':' .. epoch .. ':'}
end

local function k_load(l, key)
  local hkey = l.base .. key .. '}'
  local raw = redis.call('HMGET', hkey, 'tokens', 'last', 'live', 'al', 'rf', 'nw', 'ex')
  local k = {hkey = hkey, ekey = hkey .. ':e', key = key}
  k.exists = raw[2] ~= false or raw[3] ~= false
  k.tokens, k.last = tonumber(raw[1] or '0'), tonumber(raw[2] or '0')
  k.live = tonumber(raw[3] or '0')
  k.al = raw[4] and raw[4] ~= '' and tonumber(raw[4]) or nil
  k.rf = tonumber(raw[5] or '0')
  k.nw = raw[6] and tonumber(raw[6]) or nil  -- none in a key saved before it was kept
  k.ex = raw[7] and tonumber(raw[7]) or nil
  return k
end

local function entry(e)
  local t, c = string.match(e, '(%S+) (%S+)')
  return tonumber(t), tonumber(c)
end

local function newest_of(k)
  -- the time of the window's newest entry (0 when there is none), read from the list only for
  -- a key that does not hold it yet
  if k.nw == nil then
    local last = redis.call('LINDEX', k.ekey, -1)
    k.nw = last and entry(last) or 0.0
  end
  return k.nw
end

local NOW_TEXT
local function entry_text(t, cost)
  -- "time cost"; NOW, the time of almost every entry, is formatted once per call
  local text
  if t == NOW then
    NOW_TEXT = NOW_TEXT or num(NOW)
    text = NOW_TEXT
  else
    text = num(t)
  end
  return text .. (cost == 1 and ' 1' or ' ' .. int(cost))
end

local function k_save(l, k)
  -- the state, and its expiry: when it will equal a fresh key's (window and throttle idle).
  -- Numbers go to redis.call as they are (it writes %.17g itself, far cheaper than num())
  local idle
  if l.alg == TOKEN_BUCKET then
    idle = k.last + l.window
  else
    idle = newest_of(k) + l.window
  end
  if k.al then idle = math.max(idle, k.al + l.window) end
  -- a second's grace: Redis expires by its own clock, which a test may not be driving
  local ms = math.max(math.ceil((idle - NOW) * 1000), 0) + 1000
  local renew = not k.ex or k.ex < redis_now() + ms / 1000
  if renew then  -- with a second's slack, so the next second's saves need not
    ms = ms + 1000
    k.ex = redis_now() + ms / 1000
  end
  if l.alg == TOKEN_BUCKET then
    redis.call('HSET', k.hkey, 'tokens', k.tokens, 'last', k.last, 'al', k.al or '',
               'rf', k.rf, 'ex', k.ex)
  else
    redis.call('HSET', k.hkey, 'live', k.live, 'al', k.al or '', 'rf', k.rf, 'nw', k.nw,
               'ex', k.ex)
  end
  if renew then  -- after the writes, which may have made either key anew
    redis.call('PEXPIRE', k.hkey, ms)
    redis.call('PEXPIRE', k.ekey, ms)
  end
end

local function alert(l, k)
  k.rf = k.rf + 1
  if k.al and k.al + l.window > NOW then return 0 end
  local n = k.rf
  k.rf, k.al = 0, NOW
  return n
end

-- the token bucket

local function level(l, tokens, last, now)
  local elapsed = now - last
  if elapsed >= l.window then return l.cap + 0.0 end
  if elapsed <= 0.0 then return tokens end
  return math.min(l.cap + 0.0, tokens + elapsed * l.cap / l.window)
end

local function reaches(l, k, need)
  local guess = k.last + (need - k.tokens) * l.window / l.cap
  return boundary(function(t) return level(l, k.tokens, k.last, t) >= need end, NOW, guess)
end

-- the sliding window

local function drop_expired(l, k)
  while true do
    local head = redis.call('LINDEX', k.ekey, 0)
    if not head then return end
    local t, c = entry(head)
    if t + l.window > NOW then return end
    redis.call('LPOP', k.ekey)
    k.live = k.live - c
  end
end

local function leave_time(entries, start, excess)
  -- the time of the entry whose expiry frees `excess` cost, counting from index `start`
  local acc = 0
  for i = start, #entries do
    local t, c = entry(entries[i])
    acc = acc + c
    if acc >= excess then return t end
  end
  return nil
end

-- acquire, status, give back

local function l_acquire(l, key, cost)
  -- allowed, remaining, retry_after, alert
  local k = k_load(l, key)
  if not k.exists then
    if l.alg == TOKEN_BUCKET then
      k.tokens, k.last = l.cap - cost + 0.0, NOW
    else
      redis.call('DEL', k.ekey)
      redis.call('RPUSH', k.ekey, entry_text(NOW, cost))
      k.live, k.nw = cost, NOW
    end
    k.al, k.rf, k.ex = nil, 0, nil  -- new keys: no expiry yet
    k_save(l, k)
    return true, l.cap - cost, 0.0, 0
  end
  if l.alg == TOKEN_BUCKET then
    local lv = level(l, k.tokens, k.last, NOW)
    if lv >= cost then
      k.tokens, k.last = lv - cost, math.max(k.last, NOW)
      k_save(l, k)
      return true, math.floor(k.tokens), 0.0, 0
    end
    local at = reaches(l, k, cost)
    local n = alert(l, k)
    k_save(l, k)
    return false, math.floor(lv), delay(NOW, at), n
  end
  drop_expired(l, k)
  local live = k.live
  if live + cost <= l.cap then
    local t = math.max(NOW, newest_of(k))  -- the clock may have stepped back
    redis.call('RPUSH', k.ekey, entry_text(t, cost))
    if live == 0 then k.ex = nil end  -- the list had emptied (so Redis dropped it): a new one
    k.live, k.nw = live + cost, t
    k_save(l, k)
    return true, l.cap - live - cost, 0.0, 0
  end
  local excess = live + cost - l.cap
  local at = leave_time(redis.call('LRANGE', k.ekey, 0, excess - 1), 1, excess) + l.window
  local n = alert(l, k)
  k_save(l, k)
  return false, l.cap - live, delay(NOW, at), n
end

local function limited(d, reset_at)
  return true, 0, d, math.max(reset_at, NOW + d)
end

local function l_status(l, key)
  -- is_limited, remaining, retry_after, reset_at: a cost-1 look that takes nothing
  local k = k_load(l, key)
  if not k.exists then return false, l.cap, 0.0, NOW end
  if l.alg == TOKEN_BUCKET then
    local lv = level(l, k.tokens, k.last, NOW)
    local reset_at = NOW
    if lv < l.cap then reset_at = reaches(l, k, l.cap) end
    if lv >= 1 then return false, math.floor(lv), 0.0, reset_at end
    return limited(delay(NOW, reaches(l, k, 1)), reset_at)
  end
  local entries = redis.call('LRANGE', k.ekey, 0, -1)
  local start, live = #entries + 1, 0
  for i = 1, #entries do
    local t, c = entry(entries[i])
    if t + l.window > NOW then
      if start > i then start = i end
      live = live + c
    end
  end
  if live == 0 then return false, l.cap, 0.0, NOW end
  local reset_at = NOW + delay(NOW, entry(entries[#entries]) + l.window)
  if live < l.cap then return false, l.cap - live, 0.0, reset_at end
  local at = leave_time(entries, start, live + 1 - l.cap) + l.window
  return limited(delay(NOW, at), reset_at)
end

local function l_give_back(l, key, tokens)
  local k = k_load(l, key)
  if not k.exists then return end
  if l.alg == TOKEN_BUCKET then
    k.tokens = math.min(l.cap + 0.0, level(l, k.tokens, k.last, NOW) + tokens)
    k.last = math.max(k.last, NOW)
    k_save(l, k)
    return
  end
  drop_expired(l, k)
  while tokens > 0 do
    local newest = redis.call('LINDEX', k.ekey, -1)
    if not newest then break end
    local t, c = entry(newest)
    if c > tokens then
      redis.call('LSET', k.ekey, -1, entry_text(t, c - tokens))
      k.live = k.live - tokens
      break
    end
    redis.call('RPOP', k.ekey)
    k.live, k.nw = k.live - c, nil  -- the newest is another now
    tokens = tokens - c
  end
  k_save(l, k)
end

local function alert_json(l, key, retry_after, refused)
  return '{"limit":' .. jstr(l.name) .. ',"key":' .. jstr(key) .. ',"retry_after":'
         .. num(retry_after) .. ',"refused":' .. int(refused) .. '}'
end
