//! The Redis side of the cluster: one connection with its own timeouts and reconnects, the
//! key layout, and the Lua scripts that keep every multi-key change atomic.
//!
//! Keys (standalone Redis; the scripts touch keys they compute, so not Redis Cluster):
//!
//! | key | type | what |
//! | --- | --- | --- |
//! | `tw:instances` | zset | instance id → last heartbeat (unix ms); entries whose hash expired are pruned on read |
//! | `tw:inst:{id}` | hash | url, game, region, capacity, load, match_size, players, matches, draining, phase, heartbeat_ms; expires `instance_expiry_ms` after the last heartbeat |
//! | `tw:inst:{id}:cms` | set | cluster match ids placed on the instance |
//! | `tw:cm:{cmid}` | hash | instance, queue, capacity, reserved, players, rating, created_ms; expires with its instance; `cmid` is random below 2^53 |
//! | `tw:open:{queue}` | zset | cluster matches of a queue with free seats |
//! | `tw:rs:{cmid}` | hash | reservation id → `token_hex expiry_ms` (single use) |
//! | `tw:t:{ticket}` | hash | one ticket: state, queue, rating, size, created_ms, then its placement |
//! | `tw:q:{queue}` | zset | waiting tickets by creation time |
//! | `tw:queues` | set | queue names seen |
//! | `tw:sess:{sha1(secret)}` | string | id of the instance that issued a session, for resumes at the wrong instance |
//! | `tw:ip:{ip}` | string | tickets opened from an address in the current window |

use std::future::Future;
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, RedisResult};
use tokio::sync::Mutex;

/// Why a Redis call failed.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// Redis answered with an error, or the connection failed.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// The call (or connecting) took longer than `cluster.redis_timeout_ms`.
    #[error("redis did not answer within {0:?}")]
    Timeout(Duration),
    /// A recent connection attempt failed; calls fail fast until the retry delay passed.
    #[error("redis is unreachable (retrying)")]
    Down,
}

/// How long after a failed connect new calls fail at once instead of connecting again.
const RECONNECT_BACKOFF: Duration = Duration::from_millis(200);

/// A shared Redis connection that reconnects on failure, with every call bounded in time.
#[derive(Debug)]
pub struct Redis {
    client: redis::Client,
    timeout: Duration,
    conn: Mutex<Slot>,
}

#[derive(Debug, Default)]
struct Slot {
    conn: Option<MultiplexedConnection>,
    failed_at: Option<Instant>,
}

impl Redis {
    /// A client for `url`; connects lazily on first use.
    pub fn new(url: &str, timeout: Duration) -> Result<Self, DirectoryError> {
        Ok(Self {
            client: redis::Client::open(url)?,
            timeout,
            conn: Mutex::new(Slot::default()),
        })
    }

    async fn connection(&self) -> Result<MultiplexedConnection, DirectoryError> {
        let mut slot = self.conn.lock().await;
        if let Some(c) = &slot.conn {
            return Ok(c.clone());
        }
        if slot
            .failed_at
            .is_some_and(|t| t.elapsed() < RECONNECT_BACKOFF)
        {
            return Err(DirectoryError::Down);
        }
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(self.timeout)
            .set_response_timeout(self.timeout);
        let result = tokio::time::timeout(
            self.timeout,
            self.client
                .get_multiplexed_async_connection_with_config(&config),
        )
        .await;
        match result {
            Ok(Ok(c)) => {
                slot.conn = Some(c.clone());
                slot.failed_at = None;
                Ok(c)
            }
            Ok(Err(e)) => {
                slot.failed_at = Some(Instant::now());
                Err(e.into())
            }
            Err(_) => {
                slot.failed_at = Some(Instant::now());
                Err(DirectoryError::Timeout(self.timeout))
            }
        }
    }

    async fn forget(&self) {
        let mut slot = self.conn.lock().await;
        slot.conn = None;
        slot.failed_at = Some(Instant::now());
    }

    /// Runs one call on the shared connection within the timeout; a failed connection is
    /// dropped so the next call reconnects.
    pub async fn run<T, F, Fut>(&self, call: F) -> Result<T, DirectoryError>
    where
        F: FnOnce(MultiplexedConnection) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let conn = self.connection().await?;
        match tokio::time::timeout(self.timeout, call(conn)).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                if e.is_io_error() || e.is_connection_dropped() || e.is_timeout() {
                    self.forget().await;
                }
                Err(e.into())
            }
            Err(_) => {
                self.forget().await;
                Err(DirectoryError::Timeout(self.timeout))
            }
        }
    }
}

/// Unix time in milliseconds of the script's Redis server (one clock for every instance).
const NOW: &str = "local t = redis.call('TIME'); local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n";

/// Heartbeat: upserts the instance hash and refreshes its expiry and its matches' expiry. A
/// placed match no player of which reached the instance within `stale_ms` of its creation
/// leaves the directory and gives its capacity back.
/// ARGV: id, url, game, region, capacity, match_size, players, matches, draining, phase,
/// expiry_ms, local_load, stale_ms, then the cluster match ids the instance hosts.
pub const HEARTBEAT: &str = r#"
local t = redis.call('TIME'); local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local id = ARGV[1]
local key = 'tw:inst:' .. id
local fresh = redis.call('EXISTS', key) == 0
redis.call('HSET', key, 'id', id, 'url', ARGV[2], 'game', ARGV[3], 'region', ARGV[4],
  'capacity', ARGV[5], 'match_size', ARGV[6], 'players', ARGV[7], 'matches', ARGV[8],
  'draining', ARGV[9], 'phase', ARGV[10], 'heartbeat_ms', now)
if fresh then redis.call('HSET', key, 'load', ARGV[12]) end
redis.call('PEXPIRE', key, ARGV[11])
redis.call('ZADD', 'tw:instances', now, id)
local hosted = {}
for i = 14, #ARGV do hosted[ARGV[i]] = true end
local load = tonumber(redis.call('HGET', key, 'load') or '0')
for _, cmid in ipairs(redis.call('SMEMBERS', key .. ':cms')) do
  local ck = 'tw:cm:' .. cmid
  local created = redis.call('HGET', ck, 'created_ms')
  if not created then
    redis.call('SREM', key .. ':cms', cmid)
  elseif hosted[cmid] or now - tonumber(created) <= tonumber(ARGV[13]) then
    redis.call('PEXPIRE', ck, ARGV[11])
  else
    local q = redis.call('HGET', ck, 'queue')
    load = load - tonumber(redis.call('HGET', ck, 'capacity') or '0')
    redis.call('ZREM', 'tw:open:' .. q, cmid)
    redis.call('DEL', ck, 'tw:rs:' .. cmid)
    redis.call('SREM', key .. ':cms', cmid)
  end
end
if load < 0 then load = 0 end
redis.call('HSET', key, 'load', load)
redis.call('PEXPIRE', key .. ':cms', ARGV[11])
return now
"#;

/// Upserts one of the instance's cluster matches (after a Redis restart it is recreated) and
/// recounts its reserved seats as seated players plus unexpired reservations.
/// ARGV: cmid, instance, queue, capacity, rating ('' for none), players, open (0/1),
/// expiry_ms.
pub const MATCH_UPSERT: &str = r#"
local t = redis.call('TIME'); local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cmid = ARGV[1]
local key = 'tw:cm:' .. cmid
local rs = 'tw:rs:' .. cmid
local pending = 0
for _, f in ipairs(redis.call('HKEYS', rs)) do
  local v = redis.call('HGET', rs, f)
  local sp = string.find(v, ' ')
  if tonumber(string.sub(v, sp + 1)) < now then redis.call('HDEL', rs, f) else pending = pending + 1 end
end
if redis.call('EXISTS', key) == 0 then
  redis.call('HSET', key, 'instance', ARGV[2], 'queue', ARGV[3], 'capacity', ARGV[4],
    'rating', ARGV[5], 'created_ms', now)
  redis.call('SADD', 'tw:inst:' .. ARGV[2] .. ':cms', cmid)
end
local reserved = tonumber(ARGV[6]) + pending
local capacity = tonumber(ARGV[4])
redis.call('HSET', key, 'reserved', reserved, 'players', ARGV[6])
redis.call('PEXPIRE', key, ARGV[8])
if ARGV[7] == '1' and reserved < capacity then
  redis.call('ZADD', 'tw:open:' .. ARGV[3], redis.call('HGET', key, 'created_ms'), cmid)
else
  redis.call('ZREM', 'tw:open:' .. ARGV[3], cmid)
end
return reserved
"#;

/// Removes an ended cluster match and gives its capacity back to its instance.
/// ARGV: cmid, instance.
pub const MATCH_REMOVE: &str = r#"
local key = 'tw:cm:' .. ARGV[1]
local q = redis.call('HGET', key, 'queue')
local cap = redis.call('HGET', key, 'capacity')
if q then redis.call('ZREM', 'tw:open:' .. q, ARGV[1]) end
redis.call('DEL', key, 'tw:rs:' .. ARGV[1])
redis.call('SREM', 'tw:inst:' .. ARGV[2] .. ':cms', ARGV[1])
local ik = 'tw:inst:' .. ARGV[2]
if cap and redis.call('EXISTS', ik) == 1 then
  local load = tonumber(redis.call('HGET', ik, 'load') or '0') - tonumber(cap)
  if load < 0 then load = 0 end
  redis.call('HSET', ik, 'load', load)
end
return 1
"#;

/// Shared Lua that writes a placed ticket: its reservation tokens, then its state.
/// Expects `now`, `cmid`, `inst`, `url`, `ttl` and a ticket id `tid` with `tokens` (a list)
/// and `gap` in scope.
const WRITE_PLACEMENT: &str = r#"
local function place_ticket(tid, tokens, gap, queue)
  local rs = 'tw:rs:' .. cmid
  for i, tok in ipairs(tokens) do
    redis.call('HSET', rs, tid .. ':' .. i, tok .. ' ' .. (now + ttl))
  end
  redis.call('PEXPIRE', rs, ttl * 2)
  redis.call('HSET', 'tw:t:' .. tid, 'state', 'placed', 'cmid', cmid, 'instance', inst,
    'url', url, 'tokens', table.concat(tokens, ','), 'placed_ms', now,
    'expires_ms', now + ttl, 'rating_gap', gap)
  redis.call('ZREM', 'tw:q:' .. queue, tid)
end
"#;

/// Places a group of queued tickets in a new match on one instance, all or none.
/// ARGV: instance, queue, capacity, rating ('' for none), ttl_ms, expiry_ms, n, then n times:
/// ticket, size, comma-separated tokens, rating gap, and last the new cluster match id (random,
/// so ids stay unique across a Redis restart). Returns the cluster match id, or `gone`,
/// `draining`, `full`, `stale` (a ticket is no longer queued) or `taken` (the id exists).
pub fn place_new_script() -> String {
    format!(
        "{NOW}{}{WRITE_PLACEMENT}{}",
        r#"
local inst = ARGV[1]
local queue = ARGV[2]
local capacity = tonumber(ARGV[3])
local ttl = tonumber(ARGV[5])
local n = tonumber(ARGV[7])
local ik = 'tw:inst:' .. inst
local cmid
local url
"#,
        r#"
if redis.call('EXISTS', ik) == 0 then return 'gone' end
if redis.call('HGET', ik, 'draining') == '1' then return 'draining' end
local load = tonumber(redis.call('HGET', ik, 'load') or '0')
if load + capacity > tonumber(redis.call('HGET', ik, 'capacity')) then return 'full' end
local total = 0
for i = 0, n - 1 do
  local tid = ARGV[8 + i * 4]
  if redis.call('HGET', 'tw:t:' .. tid, 'state') ~= 'queued' then return 'stale' end
  total = total + tonumber(ARGV[9 + i * 4])
end
if total > capacity then return 'full' end
url = redis.call('HGET', ik, 'url')
cmid = ARGV[8 + n * 4]
local key = 'tw:cm:' .. cmid
if redis.call('EXISTS', key) == 1 then return 'taken' end
redis.call('HSET', key, 'instance', inst, 'queue', queue, 'capacity', capacity,
  'reserved', total, 'players', 0, 'rating', ARGV[4], 'created_ms', now)
redis.call('PEXPIRE', key, ARGV[6])
redis.call('SADD', ik .. ':cms', cmid)
redis.call('HSET', ik, 'load', load + capacity)
if total < capacity then redis.call('ZADD', 'tw:open:' .. queue, now, cmid) end
for i = 0, n - 1 do
  local tokens = {}
  for tok in string.gmatch(ARGV[10 + i * 4], '[^,]+') do table.insert(tokens, tok) end
  place_ticket(ARGV[8 + i * 4], tokens, ARGV[11 + i * 4], queue)
end
return cmid
"#
    )
}

/// Places one queued ticket in an open match with room, atomically (the last seat goes to
/// exactly one caller). ARGV: cmid, ticket, size, comma-separated tokens, rating gap, ttl_ms.
/// Returns `ok`, or `gone` (match or instance gone or draining), `full` or `stale`.
pub fn backfill_script() -> String {
    format!(
        "{NOW}{}{WRITE_PLACEMENT}{}",
        r#"
local cmid = ARGV[1]
local ttl = tonumber(ARGV[6])
local key = 'tw:cm:' .. cmid
local inst = redis.call('HGET', key, 'instance')
local url
"#,
        r#"
if not inst then return 'gone' end
local queue = redis.call('HGET', key, 'queue')
local ik = 'tw:inst:' .. inst
if redis.call('EXISTS', ik) == 0 or redis.call('HGET', ik, 'draining') == '1' then
  redis.call('ZREM', 'tw:open:' .. queue, cmid)
  return 'gone'
end
if redis.call('HGET', 'tw:t:' .. ARGV[2], 'state') ~= 'queued' then return 'stale' end
local reserved = tonumber(redis.call('HGET', key, 'reserved'))
local capacity = tonumber(redis.call('HGET', key, 'capacity'))
local size = tonumber(ARGV[3])
if reserved + size > capacity then return 'full' end
reserved = reserved + size
redis.call('HSET', key, 'reserved', reserved)
if reserved >= capacity then redis.call('ZREM', 'tw:open:' .. queue, cmid) end
url = redis.call('HGET', ik, 'url')
local tokens = {}
for tok in string.gmatch(ARGV[4], '[^,]+') do table.insert(tokens, tok) end
place_ticket(ARGV[2], tokens, ARGV[5], queue)
return 'ok'
"#
    )
}

/// Uses one reservation: deletes the field only if it still holds the value the caller
/// matched (so a token works once, whoever races for it); a token presented to another
/// instance than its match's is refused and stays usable. ARGV: cmid, field, value,
/// instance. Returns `{capacity, queue, rating}`, or `used`, `expired` or `elsewhere`.
pub const CONSUME: &str = r#"
local t = redis.call('TIME'); local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rs = 'tw:rs:' .. ARGV[1]
if redis.call('HGET', rs, ARGV[2]) ~= ARGV[3] then return 'used' end
local key = 'tw:cm:' .. ARGV[1]
if redis.call('HGET', key, 'instance') ~= ARGV[4] then return 'elsewhere' end
redis.call('HDEL', rs, ARGV[2])
local sp = string.find(ARGV[3], ' ')
if tonumber(string.sub(ARGV[3], sp + 1)) < now then return 'expired' end
return {redis.call('HGET', key, 'capacity'), redis.call('HGET', key, 'queue'),
  redis.call('HGET', key, 'rating')}
"#;

/// Ends a queued ticket (cancelled or timed out); a ticket no longer queued is left as it is.
/// ARGV: ticket, new state, reason. Returns `{changed (0/1), state afterwards}` (state ''
/// when unknown).
pub const FINISH_TICKET: &str = r#"
local key = 'tw:t:' .. ARGV[1]
local state = redis.call('HGET', key, 'state')
if not state then return {0, ''} end
if state ~= 'queued' then return {0, state} end
redis.call('HSET', key, 'state', ARGV[2], 'reason', ARGV[3])
redis.call('ZREM', 'tw:q:' .. redis.call('HGET', key, 'queue'), ARGV[1])
return {1, ARGV[2]}
"#;

/// Opens a ticket if its queue and its address have room, stamped with Redis's clock.
/// ARGV: ticket, queue, rating, size, names (JSON), ticket key ttl_ms, ip, max per ip, ip
/// window ms, max queue len. Returns `ok`, `ip_limit` or `queue_full`.
pub const OPEN_TICKET: &str = r#"
local t = redis.call('TIME'); local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ipk = 'tw:ip:' .. ARGV[7]
local n = redis.call('INCR', ipk)
if n == 1 then redis.call('PEXPIRE', ipk, ARGV[9]) end
if n > tonumber(ARGV[8]) then return 'ip_limit' end
local qk = 'tw:q:' .. ARGV[2]
if redis.call('ZCARD', qk) >= tonumber(ARGV[10]) then return 'queue_full' end
local key = 'tw:t:' .. ARGV[1]
redis.call('HSET', key, 'state', 'queued', 'queue', ARGV[2], 'rating', ARGV[3],
  'size', ARGV[4], 'names', ARGV[5], 'created_ms', now)
redis.call('PEXPIRE', key, ARGV[6])
redis.call('ZADD', qk, now, ARGV[1])
redis.call('SADD', 'tw:queues', ARGV[2])
return 'ok'
"#;
