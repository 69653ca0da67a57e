package redis

import goredis "github.com/redis/go-redis/v9"

// Every script takes one key and, as ARGV[1], the time in microseconds since the Unix epoch
// or "" to read Redis' own clock (TIME): all replicas then agree on time. Times are whole
// microseconds so Lua's doubles hold them exactly. A test clock (non-empty ARGV[1]) pads the
// keys' TTLs by an hour, since Redis expires keys on its own clock, not on the test's.
const prelude = `
local now
local pad = 0
if ARGV[1] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
else
  now = tonumber(ARGV[1])
  pad = 3600000
end
local function ms(us) return math.ceil(us / 1000) + pad end
local function int(x) return string.format('%.0f', x) end
`

// GCRAScript is the rate decision. KEYS[1] holds the theoretical arrival time (µs);
// ARGV[2] is the emission interval and ARGV[3] the burst tolerance (Count intervals), both
// µs. It returns {allowed, remaining, reset_after_us, retry_after_us}. A refused event
// writes nothing.
const GCRAScript = prelude + `
local t = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or 0)
if tat < now then tat = now end
local nxt = tat + t
local diff = now - (nxt - burst)
if diff < 0 then
  return {0, 0, tat - now, -diff}
end
redis.call('SET', KEYS[1], int(nxt), 'PX', ms(nxt - now))
return {1, math.floor(diff / t), nxt - now, 0}
`

// retryLua computes, for a sorted set of n guesses inside the window, how long until fewer
// than max remain: until the entry at rank n-max leaves.
const retryLua = `
local function retry(k, n, max, w, cut)
  if n == 0 then return 0 end
  local i = n - math.max(max, 1)
  if i < 0 then i = 0 end
  local e = redis.call('ZRANGEBYSCORE', k, '(' .. int(cut), '+inf', 'WITHSCORES', 'LIMIT', i, 1)
  local r = tonumber(e[2]) + w - now
  if r < 0 then r = 0 end
  return r
end
`

// attemptScript: KEYS[1] is a sorted set guess → time (µs); ARGV[2] the guess, ARGV[3] max,
// ARGV[4] the window (µs). Returns {allowed, failures, retry_after_us, added}.
var attemptScript = goredis.NewScript(prelude + retryLua + `
local k = KEYS[1]
local g = ARGV[2]
local max = tonumber(ARGV[3])
local w = tonumber(ARGV[4])
local cut = now - w
redis.call('ZREMRANGEBYSCORE', k, '-inf', int(cut))
local n = redis.call('ZCARD', k)
if redis.call('ZSCORE', k, g) then return {1, n, 0, 0} end
if n >= max then return {0, n, retry(k, n, max, w, cut), 0} end
redis.call('ZADD', k, int(now), g)
redis.call('PEXPIRE', k, ms(w))
return {1, n + 1, 0, 1}
`)

// peekScript reads the log without writing: ARGV[2] max, ARGV[3] window (µs).
var peekScript = goredis.NewScript(prelude + retryLua + `
local k = KEYS[1]
local max = tonumber(ARGV[2])
local w = tonumber(ARGV[3])
local cut = now - w
local n = redis.call('ZCOUNT', k, '(' .. int(cut), '+inf')
if n < max then return {1, n, 0} end
return {0, n, retry(k, n, max, w, cut)}
`)

// hitScript: KEYS[1] is a list of "time:count" entries, oldest first; ARGV[2] the window
// (µs), ARGV[3] "1" to add an event ("0" only counts and writes nothing), ARGV[4] the number
// of entries kept exact before events in the same 1/ARGV[4] of the window are merged into the
// newest entry (the memory store's HitsExact). Returns the count.
var hitScript = goredis.NewScript(prelude + `
local k = KEYS[1]
local w = tonumber(ARGV[2])
local add = ARGV[3] == '1'
local exact = tonumber(ARGV[4])
local cut = now - w
if add then
  while true do
    local h = redis.call('LINDEX', k, 0)
    if not h then break end
    if tonumber(string.match(h, '^(%-?%d+)')) > cut then break end
    redis.call('LPOP', k)
  end
  local n = redis.call('LLEN', k)
  local merged = false
  if n >= exact then
    local slot = math.max(math.floor(w / exact), 1)
    local at, c = string.match(redis.call('LINDEX', k, -1), '^(%-?%d+):(%d+)$')
    at = tonumber(at)
    if math.floor(at / slot) == math.floor(now / slot) then
      redis.call('LSET', k, -1, int(math.max(at, now)) .. ':' .. (tonumber(c) + 1))
      merged = true
    end
  end
  if not merged then redis.call('RPUSH', k, int(now) .. ':1') end
  redis.call('PEXPIRE', k, ms(w))
end
local sum = 0
for _, h in ipairs(redis.call('LRANGE', k, 0, -1)) do
  local at, c = string.match(h, '^(%-?%d+):(%d+)$')
  if tonumber(at) > cut then sum = sum + tonumber(c) end
end
return sum
`)

// spendScript: KEYS[1] holds the time (µs) the id stops being spent; ARGV[2] the ttl (µs).
// Returns 1 the first time, 0 while spent.
var spendScript = goredis.NewScript(prelude + `
local exp = tonumber(redis.call('GET', KEYS[1]) or 0)
if exp > now then return 0 end
local ttl = tonumber(ARGV[2])
redis.call('SET', KEYS[1], int(now + ttl), 'PX', ms(ttl))
return 1
`)

var gcraScript = goredis.NewScript(GCRAScript)
