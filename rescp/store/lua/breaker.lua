-- rescp.engine.breaker and rescp.engine.window, mirrored: a breaker is a hash P{b:NAME}, its
-- COUNT window a string of one flag byte per call (P{b:NAME}:r, a ring), its TIME window a list
-- of "second calls failures slow" buckets oldest first (P{b:NAME}:w), its trials a hash
-- token -> expiry (P{b:NAME}:t). Field names are short: this is read on every Allow.

local CLOSED, OPEN, HALF_OPEN, FORCED_OPEN, DISABLED = 1, 2, 3, 4, 5
local SUCCESS, FAILURE = 1, 2
local COUNT = 1
local OPEN_CIRCUIT = {[OPEN] = true, [HALF_OPEN] = true, [FORCED_OPEN] = true}
local FIELDS = {'st', 'gen', 'since', 'fc', 'sc', 'lft', 'run', 'xt', 'tsu', 'wc', 'wf', 'wsl',
                'wp', 'ft', 'frt', 'scrt', 'scd', 'wt', 'ws', 'mc', 'rt', 'hp'}
local CONFIG = {'ft', 'frt', 'scrt', 'scd', 'wt', 'ws', 'mc', 'rt', 'hp'}

local function bkey(name)
  return P .. '{b:' .. name .. '}'
end

local function use_config(b, values)
  -- values: the nine numbers of a BreakerConfig, in CONFIG order, as one space-separated string
  local i = 1
  for v in string.gmatch(values, '%S+') do
    b[CONFIG[i]] = tonumber(v)
    i = i + 1
  end
end

local function b_load(name)
  local key = bkey(name)
  local raw = redis.call('HMGET', key, unpack(FIELDS))
  if not raw[1] then return nil end
  local b = {name = name, key = key}
  for i, f in ipairs(FIELDS) do
    if raw[i] and raw[i] ~= '' then b[f] = tonumber(raw[i]) end
  end
  return b
end

local function b_save(b)
  -- numbers go as they are: redis.call writes them as %.17g itself, far cheaper than num()
  local args = {}
  for _, f in ipairs(FIELDS) do
    args[#args + 1] = f
    local v = b[f]
    if v == nil then v = '' end
    args[#args + 1] = v
  end
  redis.call('HSET', b.key, unpack(args))
  b.dirty = false
end

local function slow_limit(b)
  if b.scrt > 0 then return b.scd end
  return math.huge
end

local function rate_rules(b)
  return b.scrt > 0 or b.frt > 0
end

-- the windows

local function w_clear(b)
  redis.call('DEL', b.key .. ':r', b.key .. ':w')
  b.wc, b.wf, b.wsl, b.wp = 0, 0, 0, 0
end

local function w_expire(b, second)
  local oldest_kept = second - b.ws + 1
  local key = b.key .. ':w'
  while true do
    local head = redis.call('LINDEX', key, 0)
    if not head then return end
    local s, c, f, sl = string.match(head, '(%S+) (%S+) (%S+) (%S+)')
    if tonumber(s) >= oldest_kept then return end
    redis.call('LPOP', key)
    b.wc, b.wf, b.wsl = b.wc - tonumber(c), b.wf - tonumber(f), b.wsl - tonumber(sl)
    b.dirty = true
  end
end

local function w_add(b, failed, slow)
  local f = failed and 1 or 0
  local s = slow and 2 or 0
  if b.wt == COUNT then
    local key = b.key .. ':r'
    b.wf, b.wsl = b.wf + f, b.wsl + s / 2
    if b.wc < b.ws then
      redis.call('APPEND', key, string.char(f + s))
      b.wc = b.wc + 1
      return
    end
    local old = string.byte(redis.call('GETRANGE', key, b.wp, b.wp))
    redis.call('SETRANGE', key, b.wp, string.char(f + s))
    b.wf, b.wsl = b.wf - old % 2, b.wsl - math.floor(old / 2)
    b.wp = b.wp + 1
    if b.wp == b.ws then b.wp = 0 end
    return
  end
  local second = math.floor(NOW)
  local key = b.key .. ':w'
  local last = redis.call('LINDEX', key, -1)
  local ls, lc, lf, lsl
  if last then ls, lc, lf, lsl = string.match(last, '(%S+) (%S+) (%S+) (%S+)') end
  if last and tonumber(ls) >= second then
    redis.call('LSET', key, -1, ls .. ' ' .. int(tonumber(lc) + 1) .. ' '
               .. int(tonumber(lf) + f) .. ' ' .. int(tonumber(lsl) + s / 2))
  else
    w_expire(b, second)
    redis.call('RPUSH', key, int(second) .. ' 1 ' .. int(f) .. ' ' .. int(s / 2))
  end
  b.wc, b.wf, b.wsl = b.wc + 1, b.wf + f, b.wsl + s / 2
end

local function w_totals(b)
  if b.wt ~= COUNT then w_expire(b, math.floor(NOW)) end
  return b.wc, b.wf, b.wsl
end

local function percent(part, calls, minimum)
  if calls < minimum then return -1.0 end
  return 100.0 * part / calls
end

-- state changes

local function reset_counts(b)
  b.fc, b.sc, b.run = 0, 0, 0
  w_clear(b)
end

local function transition_json(name, from, to, reason)
  return '[' .. jstr(name) .. ',' .. int(from) .. ',' .. int(to) .. ',' .. jstr(reason) .. ','
         .. num(NOW) .. ']'
end

local function enter(b, to, reason)
  local from = b.st
  b.st, b.gen, b.since = to, b.gen + 1, NOW
  redis.call('DEL', b.key .. ':t')
  b.xt, b.tsu = 0, 0
  if to == CLOSED then reset_counts(b) end
  b.dirty = true
  append(1, transition_json(b.name, from, to, reason))
  CHANGED[b.name] = to
  local moved
  if OPEN_CIRCUIT[to] then
    moved = redis.call('SADD', K_OPEN, b.name)
  else
    moved = redis.call('SREM', K_OPEN, b.name)
  end
  if moved == 1 then OPEN_MOVED = true end
end

local function expire_trials(b)
  local key = b.key .. ':t'
  local trials = redis.call('HGETALL', key)
  if #trials == 0 then return end
  local expired = 0
  for i = 1, #trials, 2 do
    if tonumber(trials[i + 1]) <= NOW then
      redis.call('HDEL', key, trials[i])
      expired = expired + 1
    end
  end
  if expired > 0 then
    b.xt = b.xt + expired
    b.dirty = true
  end
  if b.xt > b.hp then enter(b, OPEN, 'trials_expired') end
end

local function min_trial(b)
  local least
  for _, v in ipairs(redis.call('HVALS', b.key .. ':t')) do
    local e = tonumber(v)
    if not least or e < least then least = e end
  end
  return least
end

local function next_deadline(b)
  if b.st == OPEN then return b.since + b.rt end
  if b.st == HALF_OPEN then return min_trial(b) end
  return nil
end

local function b_finish(b)
  -- save what changed and keep the deadline index in step (only a change of state, or a
  -- half-open trial handed out or given back, moves a deadline)
  if not b.dirty and b.st ~= HALF_OPEN then return end
  if b.dirty then b_save(b) end
  local due = next_deadline(b)
  if due then
    redis.call('ZADD', K_DUE, num(due), b.name)
  else
    redis.call('ZREM', K_DUE, b.name)
  end
end

local function b_create(name, values, json)
  local b = {name = name, key = bkey(name), st = CLOSED, gen = math.floor(NOW * 1e6),
             since = NOW, fc = 0, sc = 0, run = 0, xt = 0, tsu = 0, wc = 0, wf = 0, wsl = 0,
             wp = 0, dirty = true}
  use_config(b, values)
  redis.call('DEL', b.key, b.key .. ':r', b.key .. ':w', b.key .. ':t')
  redis.call('HSET', b.key, 'cfg', json)
  redis.call('ZADD', K_BREAKERS, 0, name)
  CHANGED[name] = CLOSED
  return b
end

-- the engine

local function gen_text(b)
  -- the generation as text, formatted once per generation (a permit carries it)
  if b.gt_of ~= b.gen then b.gt, b.gt_of = int(b.gen), b.gen end
  return b.gt
end

local function b_allow(b, token)
  local st = b.st
  if st == CLOSED or st == DISABLED then return true, st, 0.0, gen_text(b) end
  if st == OPEN then
    local deadline = b.since + b.rt
    if NOW < deadline then return false, OPEN, deadline - NOW, '' end
    enter(b, HALF_OPEN, 'recovery_timeout')
    return b_allow(b, token)
  end
  if st == HALF_OPEN then
    expire_trials(b)
    if b.st ~= HALF_OPEN then return b_allow(b, token) end
    local key = b.key .. ':t'
    if redis.call('HLEN', key) < b.hp then
      redis.call('HSET', key, token, num(NOW + b.rt))
      return true, HALF_OPEN, 0.0, gen_text(b) .. '.' .. token
    end
    return false, HALF_OPEN, min_trial(b) - NOW, ''
  end
  return false, FORCED_OPEN, 0.0, ''
end

local function tripped(b)
  if b.ft > 0 and b.run >= b.ft then return 'consecutive_failures' end
  if not rate_rules(b) then return nil end
  local calls, failures, slow = w_totals(b)
  if b.frt > 0 and percent(failures, calls, b.mc) >= b.frt then return 'failure_rate' end
  if b.scrt > 0 and percent(slow, calls, b.mc) >= b.scrt then return 'slow_call_rate' end
  return nil
end

local function count(b, outcome, slow)
  if outcome == SUCCESS then
    b.sc, b.run = b.sc + 1, 0
    w_add(b, false, slow)
    b.dirty = true
    if not rate_rules(b) then return b.st end
  elseif outcome == FAILURE then
    b.fc, b.lft, b.run = b.fc + 1, NOW, b.run + 1
    w_add(b, true, slow)
    b.dirty = true
  else
    return b.st
  end
  if b.st == CLOSED then
    local reason = tripped(b)
    if reason then enter(b, OPEN, reason) end
  end
  return b.st
end

local function tally(b, outcome)
  if outcome == FAILURE then
    b.fc, b.lft, b.dirty = b.fc + 1, NOW, true
  elseif outcome == SUCCESS then
    b.sc, b.dirty = b.sc + 1, true
  end
end

local function finish_trial(b, outcome)
  if outcome == SUCCESS then
    b.sc, b.tsu, b.dirty = b.sc + 1, b.tsu + 1, true
    if b.tsu >= b.hp then enter(b, CLOSED, 'trials_succeeded') end
  elseif outcome == FAILURE then
    b.fc, b.lft, b.dirty = b.fc + 1, NOW, true
    enter(b, OPEN, 'trial_failed')
  end
  return b.st
end

local function b_record(b, outcome, duration, permit)
  if (b.st == CLOSED or b.st == DISABLED) and (permit == '' or permit == gen_text(b)) then
    return count(b, outcome, duration > slow_limit(b))
  end
  local generation, trial = string.match(permit, '^(%d+)%.(.+)$')
  if trial and tonumber(generation) == b.gen then
    expire_trials(b)
    if tonumber(generation) == b.gen and redis.call('HDEL', b.key .. ':t', trial) == 1 then
      return finish_trial(b, outcome)
    end
  end
  tally(b, outcome)
  return b.st
end

local function b_release(b, permit)
  local generation, trial = string.match(permit, '^(%d+)%.(.+)$')
  if trial and tonumber(generation) == b.gen then redis.call('HDEL', b.key .. ':t', trial) end
end

local function b_advance(b)
  if b.st == OPEN then
    if NOW >= b.since + b.rt then enter(b, HALF_OPEN, 'recovery_timeout') end
  elseif b.st == HALF_OPEN then
    expire_trials(b)
  end
end

local function b_transition(b, to)
  if to == b.st then
    if to == CLOSED then
      reset_counts(b)
      b.dirty = true
    end
    return
  end
  enter(b, to, 'manual')
end

local function b_reconfigure(b, values, json)
  local wt, ws = b.wt, b.ws
  use_config(b, values)
  if b.wt ~= wt or b.ws ~= ws then w_clear(b) end
  redis.call('HSET', b.key, 'cfg', json)
  b.dirty = true
end

local function b_view(b)
  -- name, config, state, failures, successes, last failure, since, failure and slow-call rates
  local calls, failures, slow = w_totals(b)
  if b.dirty then b_save(b) end  -- a TIME window may have dropped buckets
  return {b.name, redis.call('HGET', b.key, 'cfg'), int(b.st), int(b.fc), int(b.sc),
          b.lft and num(b.lft) or '', num(b.since), num(percent(failures, calls, b.mc)),
          num(percent(slow, calls, b.mc))}
end

local function b_delete(b)
  redis.call('DEL', b.key, b.key .. ':r', b.key .. ':w', b.key .. ':t')
  redis.call('ZREM', K_BREAKERS, b.name)
  redis.call('ZREM', K_DUE, b.name)
  if redis.call('SREM', K_OPEN, b.name) == 1 then OPEN_MOVED = true end
  CHANGED[b.name] = 0
end
