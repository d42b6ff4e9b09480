-- The operations: one call of this script is one store operation. Each answers
-- {result, events, changed breakers (name, state pairs; 0 deleted), earliest deadline or '',
--  the log's sequence after it, the script's now}.

local A = {}  -- the op and its arguments
for i = 4, #ARGV do A[i - 3] = ARGV[i] end
local OP = A[1]

local function default_breaker(name)
  if setting('auto_create') ~= '1' then return nil, 'nf_breaker' end
  if redis.call('ZCARD', K_BREAKERS) >= tonumber(setting('max_breakers')) then
    return nil, 'too_many', setting('max_breakers')
  end
  return b_create(name, setting('default_values'), setting('default_json')), nil
end

local function reply(result)
  local changed = {}
  for name, state in pairs(CHANGED) do
    changed[#changed + 1] = name
    changed[#changed + 1] = int(state)
  end
  local due = redis.call('ZRANGE', K_DUE, 0, 0, 'WITHSCORES')
  local seq = redis.call('GET', K_SEQ) or '0'
  return {result, EVENTS, changed, due[2] or '', seq, num(NOW)}
end

-- a batch's breakers and limits, read from Redis once per call: the script runs alone, and
-- every change to a breaker goes through its loaded table (b_finish saves it), so the table
-- stays what Redis holds for the rest of the call
local LOADED, LIMITS = {}, {}

local function loaded(name)
  local b = LOADED[name]
  if not b then
    b = b_load(name)
    LOADED[name] = b
  end
  return b
end

local function limit_of(name)
  local l = LIMITS[name]
  if l == nil then
    l = l_get(name) or false
    LIMITS[name] = l
  end
  return l or nil
end

local function allow_item(breaker, limit, key, cost, token)
  -- code, allowed, verdict, state, retry_after, remaining, permit, alert
  local l
  if limit ~= '' then
    l = limit_of(limit)
    if not l then return {'nf_limit'} end
    if cost > l.cap then return {'cost', int(l.cap)} end
  end
  local state, permit, b = '', '', nil
  if breaker ~= '' then
    b = loaded(breaker)
    if not b then
      local code, most
      b, code, most = default_breaker(breaker)
      if not b then return {code, most} end
      LOADED[breaker] = b
    end
    local allowed, retry
    allowed, state, retry, permit = b_allow(b, token)  -- state a number: an integer reply
    if not allowed then
      b_finish(b)
      return {'ok', 0, 2, state, num(retry), -1, '', 0}
    end
  end
  if not l then
    if b then b_finish(b) end
    return {'ok', 1, 1, state, '0', -1, permit, 0}
  end
  local allowed, remaining, retry, n = l_acquire(l, key, cost)
  if not allowed then
    if b then
      b_release(b, permit)
      b_finish(b)
    end
    if n > 0 then append(5, alert_json(l, key, retry, n)) end
    return {'ok', 0, 3, state, num(retry), remaining, '', n}
  end
  if b then b_finish(b) end
  return {'ok', 1, 1, state, '0', remaining, permit, 0}
end

local function record_item(name, outcome, duration, permit, times)
  local b = loaded(name)
  if not b then return {'nf_breaker'} end
  local state
  for _ = 1, times do state = b_record(b, outcome, duration, permit) end
  b_finish(b)
  return {'ok', int(state)}
end

local function advanced(name)
  local b = b_load(name)
  if not b then return nil end
  b_advance(b)
  b_finish(b)
  return b
end

local function page(key, after, limit)
  local low = after == '' and '-' or '(' .. after
  if limit == '' then return redis.call('ZRANGEBYLEX', key, low, '+') end
  return redis.call('ZRANGEBYLEX', key, low, '+', 'LIMIT', 0, tonumber(limit))
end

local result
if OP == 'allow' then
  result = {}
  for i = 3, 2 + 5 * tonumber(A[2]), 5 do
    result[#result + 1] = allow_item(A[i], A[i + 1], A[i + 2], tonumber(A[i + 3]), A[i + 4])
  end
  if OPEN_MOVED then settle(true) end
elseif OP == 'record' then
  result = {}
  for i = 3, 2 + 5 * tonumber(A[2]), 5 do
    result[#result + 1] = record_item(A[i], tonumber(A[i + 1]), tonumber(A[i + 2]), A[i + 3],
                                      tonumber(A[i + 4]))
  end
  if OPEN_MOVED then settle(true) end
elseif OP == 'load' then
  -- settings, then every breaker's state, advanced
  for i = 2, #A - 1, 2 do redis.call('HSET', K_SETTINGS, A[i], A[i + 1]) end
  redis.call('SET', K_LOGID, setting('new_log_id'), 'NX')
  result = {redis.call('GET', K_LOGID)}
  for _, name in ipairs(redis.call('ZRANGEBYSCORE', K_DUE, '-inf', num(NOW))) do advanced(name) end
  for _, name in ipairs(redis.call('ZRANGE', K_BREAKERS, 0, -1)) do
    CHANGED[name] = tonumber(redis.call('HGET', bkey(name), 'st'))
  end
  settle(true)
elseif OP == 'put_breaker' then
  local b = b_load(A[2])
  if b then
    b_reconfigure(b, A[3], A[4])
  else
    b = b_create(A[2], A[3], A[4])
  end
  b_finish(b)
  result = b_view(b)
  if OPEN_MOVED then settle(true) end
elseif OP == 'get_breaker' then
  local b = advanced(A[2])
  result = b and b_view(b) or 'nf'
  if OPEN_MOVED then settle(true) end
elseif OP == 'list_breakers' then
  result = {}
  for _, name in ipairs(page(K_BREAKERS, A[2], A[3])) do
    result[#result + 1] = b_view(advanced(name))
  end
  if OPEN_MOVED then settle(true) end
elseif OP == 'delete_breaker' then
  local b = b_load(A[2])
  if b then
    b_delete(b)
    append(6, '{"breaker":' .. jstr(b.name) .. ',"last_state":' .. int(b.st) .. '}')
    settle(OPEN_MOVED)
    result = int(b.st)
  else
    result = 'nf'
  end
elseif OP == 'transition' then
  local b = b_load(A[2])
  if not b then
    result = 'nf'
  else
    local to = tonumber(A[3])
    if to ~= CLOSED and to ~= FORCED_OPEN and to ~= DISABLED then
      result = 'bad_state'
    else
      b_transition(b, to)
      b_finish(b)
      result = b_view(b)
      if OPEN_MOVED then settle(true) end
    end
  end
elseif OP == 'advance_due' then
  for _, name in ipairs(redis.call('ZRANGEBYSCORE', K_DUE, '-inf', num(NOW), 'LIMIT', 0,
                                   tonumber(A[2]))) do
    advanced(name)
  end
  if OPEN_MOVED then settle(true) end
  result = 'ok'
elseif OP == 'put_limit' then
  if redis.call('HGET', K_LIMITS, A[2]) ~= A[3] then
    redis.call('HSET', K_LIMITS, A[2], A[3])
    redis.call('HSET', K_LIMITS .. ':epoch', A[2], int(redis.call('INCR', P .. 'limit_epoch')))
    redis.call('ZADD', K_LIMITS .. ':names', 0, A[2])
  end
  result = 'ok'
elseif OP == 'delete_limit' then
  if redis.call('HDEL', K_LIMITS, A[2]) == 1 then
    redis.call('HDEL', K_LIMITS .. ':epoch', A[2])
    redis.call('ZREM', K_LIMITS .. ':names', A[2])
    result = 'ok'
  else
    result = 'nf'
  end
elseif OP == 'limit_status' or OP == 'give_back' then
  local l = l_get(A[2])
  if not l then
    result = 'nf'
  else
    if OP == 'give_back' then l_give_back(l, A[3], tonumber(A[4])) end
    local limited, remaining, retry, reset_at = l_status(l, A[3])
    result = {limited and 1 or 0, remaining, num(retry), num(reset_at)}
  end
elseif OP == 'put_feature' then
  redis.call('HSET', K_FEATURES, A[2], A[3])
  redis.call('ZADD', K_FEATURES .. ':names', 0, A[2])
  settle(true)
  result = 'ok'
elseif OP == 'delete_feature' then
  if redis.call('HDEL', K_FEATURES, A[2]) == 1 then
    redis.call('ZREM', K_FEATURES .. ':names', A[2])
    settle(true)
    result = 'ok'
  else
    result = 'nf'
  end
elseif OP == 'degradation' then
  settle(true)
  result = redis.call('HGET', K_LAST, 'degradation') or NO_DEGRADATION
elseif OP == 'refresh' then
  settle(true)
  -- the log's age limit (its length is kept by XADD's MAXLEN): entries older than max_age go
  local horizon = WALL - tonumber(setting('max_age') or '3600')
  local entries = redis.call('XRANGE', K_LOG, '-', '+', 'COUNT', 256)
  local keep
  for _, e in ipairs(entries) do
    if tonumber(e[2][4]) >= horizon then keep = e[1]; break end
  end
  if not keep and #entries > 0 then
    keep = int(tonumber(string.match(entries[#entries][1], '^(%d+)')) + 1) .. '-0'
  end
  if keep then redis.call('XTRIM', K_LOG, 'MINID', keep) end
  result = 'ok'
elseif OP == 'add_error' then
  local new, json = e_add(A[2], A[3], A[4], A[5], tonumber(A[6]), tonumber(A[7]))
  if new then settle(false) end
  result = {new and 1 or 0, new and '' or json}  -- the caller holds a new record
elseif OP == 'acknowledge' then
  local json = e_acknowledge(A[2])
  if json then settle(false) end
  result = json or 'nf'
elseif OP == 'system_health' then
  for _, name in ipairs(redis.call('ZRANGEBYSCORE', K_DUE, '-inf', num(NOW))) do advanced(name) end
  settle(true)
  local views = {}
  for _, name in ipairs(redis.call('ZRANGE', K_BREAKERS, 0, -1)) do
    if tonumber(redis.call('HGET', bkey(name), 'st')) ~= CLOSED then
      views[#views + 1] = b_view(b_load(name))
    end
  end
  local stats = redis.call('HMGET', K_STATS, 'total', 'critical')
  result = {redis.call('HGET', K_LAST, 'health') or '1', stats[1] or '0', stats[2] or '0',
            redis.call('SCARD', K_OPEN), views}
elseif OP == 'error_summary' then
  local stats = redis.call('HGET', K_STATS, 'total') or '0'
  local recent = {}
  local n = tonumber(A[2])
  if n > 0 then
    local ids = redis.call('LRANGE', K_IDS, -n, -1)
    for i = #ids, 1, -1 do recent[#recent + 1] = redis.call('HGET', K_REC, ids[i]) end
  end
  result = {stats, redis.call('HGETALL', K_COUNTS), recent, num(errors_per_minute(WALL))}
elseif OP == 'notifications' then
  local min, limit, with_acked, after = tonumber(A[2]), tonumber(A[3]), A[4] == '1', A[5]
  local matched, total, older = {}, 0, after == ''
  local ids = redis.call('LRANGE', K_IDS, 0, -1)
  for i = #ids, 1, -1 do
    local json = redis.call('HGET', K_REC, ids[i])
    local severity = tonumber(string.match(json, '"severity":(%d+)'))
    local acked = string.match(json, '"acknowledged":(%a+)') == 'true'
    if (min == 0 or severity >= min) and (with_acked or not acked) then
      total = total + 1
      if older and #matched < limit then matched[#matched + 1] = json end
    end
    older = older or ids[i] == after
  end
  result = {matched, total}
else
  return redis.error_reply('rescp: unknown operation ' .. tostring(OP))
end
return reply(result)
