//! The matchmaker: tickets in queues, a rating window that widens with waiting time, and
//! placement of tickets in open matches (backfill) or in new matches on the instance with
//! the most free capacity.
//!
//! Every instance runs the matchmaking pass; they may race, and the Lua scripts of
//! [`super::directory`] settle every race inside Redis (a ticket is placed once, a match never
//! gets more reservations than seats), so the loser's attempt comes back `stale` or `full` and
//! the next pass looks again.
//!
//! Queue names are `game|mode|region`. A ticket with a rating only goes with rated tickets
//! whose rating is within both tickets' windows of the group's first (oldest) ticket; a
//! ticket without one only goes with unrated tickets. A party is one ticket: its players land
//! in one match or not at all.

use std::collections::HashMap;
use std::sync::Weak;
use std::time::Duration;

use serde::Serialize;
use tracing::debug;

use super::directory::DirectoryError;
use super::{Cluster, random_hex};
use crate::telemetry::family;

/// The reason a ticket that waited `cluster.ticket_timeout_ms` ends with.
pub const TIMED_OUT_REASON: &str =
    "no match could be found within cluster.ticket_timeout_ms; matchmake again";
/// The reason a cancelled ticket ends with.
pub const CANCELLED_REASON: &str = "cancelled by the client";

/// One live instance as `GET /cluster` shows it.
#[derive(Clone, Debug, Serialize)]
pub struct InstanceView {
    /// Instance id.
    pub id: String,
    /// Its public WebSocket URL.
    pub url: String,
    /// Game it hosts.
    pub game: String,
    /// Region it serves.
    pub region: String,
    /// Seats it takes in total, in players.
    pub capacity: u32,
    /// Seats of the cluster matches placed on it, in players.
    pub load: u32,
    /// Seats per match, in players.
    pub match_size: u32,
    /// Players seated there.
    pub players: u32,
    /// Matches it runs (cluster matches and others).
    pub match_count: u32,
    /// True while it drains: no placements.
    pub draining: bool,
    /// `ready` or `draining`.
    pub phase: String,
    /// Milliseconds since its last heartbeat.
    pub heartbeat_age_ms: u64,
    /// Its cluster matches.
    pub matches: Vec<ClusterMatchView>,
}

/// One cluster match as `GET /cluster` shows it.
#[derive(Clone, Debug, Serialize)]
pub struct ClusterMatchView {
    /// Cluster match id (what a reservation names).
    pub id: u64,
    /// Queue it was placed from.
    pub queue: String,
    /// Seats, in players.
    pub capacity: u32,
    /// Seats taken or reserved, in players.
    pub reserved: u32,
    /// Players seated.
    pub players: u32,
    /// Its rating (the first ticket's), if rated.
    pub rating: Option<f64>,
}

/// One queue as `GET /cluster` shows it.
#[derive(Clone, Debug, Serialize)]
pub struct QueueView {
    /// `game|mode|region`.
    pub queue: String,
    /// Tickets waiting.
    pub tickets: u32,
    /// Players waiting (parties count all their members).
    pub players: u32,
    /// Milliseconds the oldest ticket has waited.
    pub oldest_wait_ms: u64,
    /// Mean milliseconds the waiting tickets have waited.
    pub mean_wait_ms: u64,
}

/// A waiting ticket as the pass sees it.
#[derive(Clone, Debug)]
struct Waiting {
    id: String,
    rating: Option<f64>,
    size: u32,
    created_ms: u64,
}

/// An open cluster match as the pass sees it.
#[derive(Clone, Debug)]
struct Open {
    cmid: u64,
    instance: String,
    capacity: u32,
    reserved: u32,
    rating: Option<f64>,
}

fn parse<T: std::str::FromStr>(m: &HashMap<String, String>, k: &str) -> Option<T> {
    m.get(k).and_then(|v| v.parse().ok())
}

fn rating_of(v: Option<&String>) -> Option<f64> {
    v.and_then(|s| s.parse::<f64>().ok())
        .filter(|r| r.is_finite())
}

/// Redis's clock, unix milliseconds (every instance measures waiting times by it).
async fn redis_now(cluster: &Cluster) -> Result<u64, DirectoryError> {
    let (secs, micros): (u64, u64) = cluster
        .redis
        .run(|mut c| async move { redis::cmd("TIME").query_async(&mut c).await })
        .await?;
    Ok(secs * 1000 + micros / 1000)
}

/// Every live instance, pruning ones whose hash expired; with their matches if `matches`.
async fn instances(
    cluster: &Cluster,
    now: u64,
    matches: bool,
) -> Result<Vec<InstanceView>, DirectoryError> {
    let ids: Vec<String> = cluster
        .redis
        .run(|mut c| async move {
            redis::cmd("ZRANGE")
                .arg("tw:instances")
                .arg(0)
                .arg(-1)
                .query_async(&mut c)
                .await
        })
        .await?;
    let mut out = Vec::new();
    for id in ids {
        let key = format!("tw:inst:{id}");
        let h: HashMap<String, String> = cluster
            .redis
            .run(|mut c| async move { redis::cmd("HGETALL").arg(key).query_async(&mut c).await })
            .await?;
        if h.is_empty() {
            let gone = id.clone();
            cluster
                .redis
                .run(|mut c| async move {
                    redis::cmd("ZREM")
                        .arg("tw:instances")
                        .arg(gone)
                        .query_async::<()>(&mut c)
                        .await
                })
                .await?;
            continue;
        }
        let mut view = InstanceView {
            id: id.clone(),
            url: h.get("url").cloned().unwrap_or_default(),
            game: h.get("game").cloned().unwrap_or_default(),
            region: h.get("region").cloned().unwrap_or_default(),
            capacity: parse(&h, "capacity").unwrap_or(0),
            load: parse(&h, "load").unwrap_or(0),
            match_size: parse(&h, "match_size").unwrap_or(0),
            players: parse(&h, "players").unwrap_or(0),
            match_count: parse(&h, "matches").unwrap_or(0),
            draining: h.get("draining").is_some_and(|d| d == "1"),
            phase: h.get("phase").cloned().unwrap_or_default(),
            heartbeat_age_ms: now.saturating_sub(parse(&h, "heartbeat_ms").unwrap_or(now)),
            matches: Vec::new(),
        };
        if matches {
            let key = format!("tw:inst:{id}:cms");
            let cms: Vec<u64> =
                cluster
                    .redis
                    .run(|mut c| async move {
                        redis::cmd("SMEMBERS").arg(key).query_async(&mut c).await
                    })
                    .await?;
            for cmid in cms {
                if let Some(m) = cluster_match(cluster, cmid).await? {
                    view.matches.push(ClusterMatchView {
                        id: cmid,
                        queue: m.1,
                        capacity: m.0.capacity,
                        reserved: m.0.reserved,
                        players: m.2,
                        rating: m.0.rating,
                    });
                }
            }
            view.matches.sort_by_key(|m| m.id);
        }
        out.push(view);
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

/// One cluster match: its open facts, queue and seated players.
async fn cluster_match(
    cluster: &Cluster,
    cmid: u64,
) -> Result<Option<(Open, String, u32)>, DirectoryError> {
    let key = format!("tw:cm:{cmid}");
    let h: HashMap<String, String> = cluster
        .redis
        .run(|mut c| async move { redis::cmd("HGETALL").arg(key).query_async(&mut c).await })
        .await?;
    if h.is_empty() {
        return Ok(None);
    }
    let open = Open {
        cmid,
        instance: h.get("instance").cloned().unwrap_or_default(),
        capacity: parse(&h, "capacity").unwrap_or(0),
        reserved: parse(&h, "reserved").unwrap_or(0),
        rating: rating_of(h.get("rating")),
    };
    Ok(Some((
        open,
        h.get("queue").cloned().unwrap_or_default(),
        parse(&h, "players").unwrap_or(0),
    )))
}

/// Every live instance with its cluster matches (`GET /cluster`).
pub(super) async fn directory(cluster: &Cluster) -> Result<Vec<InstanceView>, DirectoryError> {
    let now = redis_now(cluster).await?;
    instances(cluster, now, true).await
}

/// The queue names seen.
async fn queue_names(cluster: &Cluster) -> Result<Vec<String>, DirectoryError> {
    let mut names: Vec<String> = cluster
        .redis
        .run(|mut c| async move {
            redis::cmd("SMEMBERS")
                .arg("tw:queues")
                .query_async(&mut c)
                .await
        })
        .await?;
    names.sort();
    Ok(names)
}

/// The waiting tickets of `queue`, oldest first; tickets whose hash expired are dropped.
async fn waiting(cluster: &Cluster, queue: &str) -> Result<Vec<Waiting>, DirectoryError> {
    let qk = format!("tw:q:{queue}");
    let ids: Vec<String> = cluster
        .redis
        .run(|mut c| {
            let qk = qk.clone();
            async move {
                redis::cmd("ZRANGE")
                    .arg(qk)
                    .arg(0)
                    .arg(-1)
                    .query_async(&mut c)
                    .await
            }
        })
        .await?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut pipe = redis::pipe();
    for id in &ids {
        pipe.cmd("HMGET")
            .arg(format!("tw:t:{id}"))
            .arg("state")
            .arg("rating")
            .arg("size")
            .arg("created_ms");
    }
    let rows: Vec<Vec<Option<String>>> = cluster
        .redis
        .run(|mut c| async move { pipe.query_async(&mut c).await })
        .await?;
    let mut out = Vec::new();
    let mut gone = Vec::new();
    for (id, row) in ids.into_iter().zip(rows) {
        let state = row.first().cloned().flatten();
        match state.as_deref() {
            Some("queued") => out.push(Waiting {
                rating: rating_of(row.get(1).and_then(|r| r.as_ref())),
                size: row
                    .get(2)
                    .and_then(|v| v.as_deref())
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(1),
                created_ms: row
                    .get(3)
                    .and_then(|v| v.as_deref())
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0),
                id,
            }),
            _ => gone.push(id),
        }
    }
    if !gone.is_empty() {
        cluster
            .redis
            .run(|mut c| async move {
                redis::cmd("ZREM")
                    .arg(qk)
                    .arg(gone)
                    .query_async::<()>(&mut c)
                    .await
            })
            .await?;
    }
    Ok(out)
}

/// Every queue with its waiting tickets and times (`GET /cluster`).
pub(super) async fn queue_views(cluster: &Cluster) -> Result<Vec<QueueView>, DirectoryError> {
    let now = redis_now(cluster).await?;
    let mut out = Vec::new();
    for queue in queue_names(cluster).await? {
        let w = waiting(cluster, &queue).await?;
        let waits: Vec<u64> = w.iter().map(|t| now.saturating_sub(t.created_ms)).collect();
        out.push(QueueView {
            queue,
            tickets: w.len() as u32,
            players: w.iter().map(|t| t.size).sum(),
            oldest_wait_ms: waits.iter().copied().max().unwrap_or(0),
            mean_wait_ms: if waits.is_empty() {
                0
            } else {
                waits.iter().sum::<u64>() / waits.len() as u64
            },
        });
    }
    Ok(out)
}

/// The matchmaking loop: one pass every `cluster.matchmaker_interval_ms` while the cluster
/// and its server live (none while the server drains).
pub(super) async fn run(weak: Weak<Cluster>) {
    loop {
        let period = {
            let Some(cluster) = weak.upgrade() else {
                return;
            };
            let Some(state) = cluster.state.upgrade() else {
                return;
            };
            if !state.is_draining() {
                let r = pass(&cluster).await;
                if let Err(e) = cluster.note(r) {
                    debug!(error = %e, "matchmaking pass failed");
                }
            }
            Duration::from_millis(cluster.cfg.matchmaker_interval_ms)
        };
        tokio::time::sleep(period).await;
    }
}

/// The rating window of a ticket that has waited since `created_ms`, in rating points.
fn window(cluster: &Cluster, t: &Waiting, now: u64) -> f64 {
    let waited = now.saturating_sub(t.created_ms) as f64 / 1000.0;
    cluster.cfg.rating_window + cluster.cfg.rating_window_widen_per_sec * waited
}

/// The rating gap of `t` against a match (or group) rated `anchor`, if they may go together.
fn gap(
    cluster: &Cluster,
    t: &Waiting,
    anchor: Option<f64>,
    anchor_window: f64,
    now: u64,
) -> Option<f64> {
    match (t.rating, anchor) {
        (None, None) => Some(0.0),
        (Some(r), Some(a)) => {
            let g = (r - a).abs();
            (g <= window(cluster, t, now).min(anchor_window)).then_some(g)
        }
        _ => None,
    }
}

/// Fresh reservation tokens for a ticket of `size` players, comma-separated hex.
fn tokens(size: u32) -> String {
    (0..size)
        .map(|_| random_hex())
        .collect::<Vec<_>>()
        .join(",")
}

/// Records a placement in the metrics: counted, and its latency from the ticket's creation.
fn placed(t: &Waiting, now: u64) {
    metrics::counter!(family::MM_TICKETS_PLACED.name).increment(1);
    let secs = now.saturating_sub(t.created_ms) as f64 / 1000.0;
    metrics::histogram!(family::MM_PLACEMENT_LATENCY.name).record(secs);
}

/// A random cluster match id below 2^53 (exact in JSON numbers), never 0.
fn new_cmid() -> u64 {
    let bytes = crate::session_token::new_secret();
    let mut b = [0u8; 8];
    b.copy_from_slice(&bytes[..8]);
    (u64::from_le_bytes(b) & ((1 << 53) - 1)).max(1)
}

/// One matchmaking pass over every queue.
async fn pass(cluster: &Cluster) -> Result<(), DirectoryError> {
    let now = redis_now(cluster).await?;
    let insts = instances(cluster, now, false).await?;
    let mut queued_total = 0u64;
    for queue in queue_names(cluster).await? {
        let tickets = waiting(cluster, &queue).await?;
        let mut left = Vec::new();
        for t in tickets {
            if now.saturating_sub(t.created_ms) > cluster.cfg.ticket_timeout_ms {
                let script = &cluster.scripts.finish;
                let id = t.id.clone();
                let (changed, _): (i64, String) = cluster
                    .redis
                    .run(|mut c| async move {
                        script
                            .arg(id)
                            .arg("timed_out")
                            .arg(TIMED_OUT_REASON)
                            .invoke_async(&mut c)
                            .await
                    })
                    .await?;
                if changed == 1 {
                    metrics::counter!(family::MM_TICKETS_TIMED_OUT.name).increment(1);
                }
            } else {
                left.push(t);
            }
        }
        let mut parts = queue.splitn(3, '|');
        let game = parts.next().unwrap_or("");
        let _mode = parts.next();
        let region = parts.next().unwrap_or("");
        let eligible: Vec<&InstanceView> = insts
            .iter()
            .filter(|i| !i.draining && i.game == game && i.region == region)
            .collect();
        let left = backfill(cluster, &queue, left, &eligible, now).await?;
        let left = place_new(cluster, &queue, left, &eligible, now).await?;
        queued_total += left.len() as u64;
    }
    metrics::gauge!(family::MM_TICKETS_QUEUED.name).set(queued_total as f64);
    Ok(())
}

/// Places what fits of `tickets` in the queue's open matches (fullest first); returns the
/// rest.
async fn backfill(
    cluster: &Cluster,
    queue: &str,
    tickets: Vec<Waiting>,
    eligible: &[&InstanceView],
    now: u64,
) -> Result<Vec<Waiting>, DirectoryError> {
    if tickets.is_empty() {
        return Ok(tickets);
    }
    let ok = format!("tw:open:{queue}");
    let cmids: Vec<u64> = cluster
        .redis
        .run(|mut c| async move {
            redis::cmd("ZRANGE")
                .arg(ok)
                .arg(0)
                .arg(-1)
                .query_async(&mut c)
                .await
        })
        .await?;
    let mut open = Vec::new();
    for cmid in cmids {
        if let Some((m, _, _)) = cluster_match(cluster, cmid).await? {
            if eligible.iter().any(|i| i.id == m.instance) {
                open.push(m);
            }
        }
    }
    if open.is_empty() {
        return Ok(tickets);
    }
    let mut left = Vec::new();
    for t in tickets {
        // Joining a running match only needs the ticket's own window to accept its rating.
        let mut fits: Vec<(usize, f64)> = open
            .iter()
            .enumerate()
            .filter(|(_, m)| m.reserved + t.size <= m.capacity)
            .filter_map(|(i, m)| {
                gap(cluster, &t, m.rating, window(cluster, &t, now), now).map(|g| (i, g))
            })
            .collect();
        fits.sort_by_key(|(i, _)| (open[*i].capacity - open[*i].reserved, open[*i].cmid));
        let Some(&(i, g)) = fits.first() else {
            left.push(t);
            continue;
        };
        let script = &cluster.scripts.backfill;
        let cmid = open[i].cmid;
        let answer: String = cluster
            .redis
            .run(|mut c| {
                let id = t.id.clone();
                async move {
                    script
                        .arg(cmid)
                        .arg(id)
                        .arg(t.size)
                        .arg(tokens(t.size))
                        .arg(format!("{g:.1}"))
                        .arg(cluster.cfg.reservation_ttl_ms)
                        .invoke_async(&mut c)
                        .await
                }
            })
            .await?;
        match answer.as_str() {
            "ok" => {
                open[i].reserved += t.size;
                placed(&t, now);
            }
            "stale" => {}
            _ => {
                // Full or gone meanwhile: it is not a candidate any more this pass.
                open[i].reserved = open[i].capacity;
                left.push(t);
            }
        }
    }
    Ok(left)
}

/// Groups `tickets` into new matches on the instance with the most free capacity; returns the
/// tickets that stay queued.
async fn place_new(
    cluster: &Cluster,
    queue: &str,
    mut tickets: Vec<Waiting>,
    eligible: &[&InstanceView],
    now: u64,
) -> Result<Vec<Waiting>, DirectoryError> {
    let mut free: Vec<(String, u32, u32)> = eligible
        .iter()
        .map(|i| {
            (
                i.id.clone(),
                i.capacity.saturating_sub(i.load),
                i.match_size,
            )
        })
        .collect();
    let mut left = Vec::new();
    while !tickets.is_empty() {
        // Most free capacity first; the id breaks ties so every instance's pass agrees.
        free.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let Some(best) = free.iter_mut().find(|(_, f, size)| *size > 0 && f >= size) else {
            left.append(&mut tickets);
            break;
        };
        let capacity = best.2;
        let anchor = tickets.remove(0);
        let anchor_window = window(cluster, &anchor, now);
        let mut group = vec![(anchor.clone(), 0.0)];
        let mut total = anchor.size;
        let mut rest = Vec::new();
        for t in tickets.drain(..) {
            match gap(cluster, &t, anchor.rating, anchor_window, now) {
                Some(g) if total + t.size <= capacity => {
                    total += t.size;
                    group.push((t, g));
                }
                _ => rest.push(t),
            }
        }
        tickets = rest;
        if total < cluster.cfg.match_min_players || anchor.size > capacity {
            left.extend(group.into_iter().map(|(t, _)| t));
            continue;
        }
        let script = &cluster.scripts.place_new;
        let rating = anchor.rating.map(|r| r.to_string()).unwrap_or_default();
        let inst = best.0.clone();
        let cmid = new_cmid();
        let answer: String = cluster
            .redis
            .run(|mut c| {
                let group = &group;
                async move {
                    let mut inv = script.arg(&inst);
                    inv.arg(queue)
                        .arg(capacity)
                        .arg(&rating)
                        .arg(cluster.cfg.reservation_ttl_ms)
                        .arg(cluster.cfg.instance_expiry_ms)
                        .arg(group.len());
                    for (t, g) in group {
                        inv.arg(&t.id)
                            .arg(t.size)
                            .arg(tokens(t.size))
                            .arg(format!("{g:.1}"));
                    }
                    inv.arg(cmid);
                    inv.invoke_async(&mut c).await
                }
            })
            .await?;
        if answer.parse::<u64>().is_ok() {
            best.1 = best.1.saturating_sub(capacity);
            for (t, _) in &group {
                placed(t, now);
            }
            debug!(queue, cmid, instance = %best.0, tickets = group.len(), players = total, "new cluster match placed");
        } else if answer == "stale" {
            // Another instance's pass placed some of them; the next pass sorts out the rest.
        } else {
            // Gone, draining or full meanwhile: not a candidate this pass.
            best.1 = 0;
            left.extend(group.into_iter().map(|(t, _)| t));
        }
    }
    Ok(left)
}

/// Opens a ticket; `Ok(Err(word))` is a refusal (`ip_limit`, `queue_full`).
pub(super) async fn open_ticket(
    cluster: &Cluster,
    queue: &str,
    rating: Option<f64>,
    names: &[String],
    ip: &str,
) -> Result<Result<String, String>, DirectoryError> {
    let id = random_hex();
    let script = &cluster.scripts.open;
    let cfg = &cluster.cfg;
    let names_json = serde_json::to_string(names).unwrap_or_else(|_| "[]".into());
    let keep_ms = cfg.ticket_timeout_ms + cfg.reservation_ttl_ms + 60_000;
    let answer: String = cluster
        .redis
        .run(|mut c| {
            let id = id.clone();
            async move {
                script
                    .arg(id)
                    .arg(queue)
                    .arg(rating.map(|r| r.to_string()).unwrap_or_default())
                    .arg(names.len())
                    .arg(names_json)
                    .arg(keep_ms)
                    .arg(ip)
                    .arg(cfg.max_tickets_per_ip)
                    .arg(cfg.ticket_timeout_ms)
                    .arg(cfg.max_queue_len)
                    .invoke_async(&mut c)
                    .await
            }
        })
        .await?;
    if answer == "ok" {
        metrics::counter!(family::MM_TICKETS_OPENED.name).increment(1);
        Ok(Ok(id))
    } else {
        Ok(Err(answer))
    }
}

/// A ticket's hash (empty when unknown or expired).
pub(super) async fn ticket(
    cluster: &Cluster,
    id: &str,
) -> Result<HashMap<String, String>, DirectoryError> {
    let key = format!("tw:t:{id}");
    cluster
        .redis
        .run(|mut c| async move { redis::cmd("HGETALL").arg(key).query_async(&mut c).await })
        .await
}

/// Cancels a queued ticket; returns whether this call cancelled it and its state afterwards
/// ('' when unknown).
pub(super) async fn cancel(cluster: &Cluster, id: &str) -> Result<(bool, String), DirectoryError> {
    let script = &cluster.scripts.finish;
    let (changed, state): (i64, String) = cluster
        .redis
        .run(|mut c| async move {
            script
                .arg(id)
                .arg("cancelled")
                .arg(CANCELLED_REASON)
                .invoke_async(&mut c)
                .await
        })
        .await?;
    if changed == 1 {
        metrics::counter!(family::MM_TICKETS_CANCELLED.name).increment(1);
    }
    Ok((changed == 1, state))
}
