//! Per-address limits, so that no single IP address can take a listener: connections open at
//! once (and in total), seats held (a seat in its reconnect grace period still counts against
//! the address that joined it), the rate of joins and the rate of failed admin logins. The
//! game listener and the admin listener each keep their own book.
//!
//! Every count is held by a guard ([`ConnectionSlot`], [`SeatClaim`]) that gives it back when
//! dropped, so no path of a connection, a match or a seat can leak one. An address's entry is
//! forgotten once it holds nothing and its join bucket has refilled, so memory follows the
//! addresses active in the last few seconds.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use dashmap::DashMap;
use hyper::StatusCode;
use tickwire_net::Refusal;

use crate::rate_limit::RateLimit;

/// How often idle entries are swept, as a duration.
const SWEEP_EVERY: Duration = Duration::from_secs(10);

/// How long a refused peer is told to wait before it connects again (`Retry-After`), as a
/// duration: about how long it takes a slot to free up under a steady load.
const CONNECTION_RETRY_AFTER: Duration = Duration::from_secs(1);

/// The limits one address is held to, and the listener's total.
#[derive(Clone, Copy, Debug)]
pub struct AddressLimits {
    /// Connections open at once on the listener, from all addresses together.
    pub max_total: usize,
    /// Connections open at once.
    pub max_connections: usize,
    /// Seats held at once, connected or in their grace period.
    pub max_seats: u32,
    /// Joins (new seats and spectators) per second, bursts of two seconds' worth.
    pub joins_per_sec: f64,
    /// Failed admin logins allowed in a burst, in attempts.
    pub auth_failure_burst: u32,
    /// Time for one more failed login to be allowed, as a duration.
    pub auth_failure_refill: Duration,
}

impl AddressLimits {
    /// Limits that only cap connections (`max_total` in all, `max_per_ip` per address) and
    /// failed logins: no seats or joins, as on the admin listener.
    pub fn connections_only(
        max_total: usize,
        max_per_ip: usize,
        auth_failure_burst: u32,
        auth_failure_refill: Duration,
    ) -> Self {
        Self {
            max_total,
            max_connections: max_per_ip,
            max_seats: 0,
            joins_per_sec: 0.0,
            auth_failure_burst,
            auth_failure_refill,
        }
    }
}

/// Why an address was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AddressRefusal {
    /// The listener has its maximum of connections open, from all addresses together.
    #[error("server connection limit reached")]
    Total,
    /// The address has its maximum of connections open.
    #[error("too many connections from this address")]
    Connections,
    /// The address holds its maximum of seats (seats in their grace period count).
    #[error(
        "this address holds too many seats; leave a match or wait for a dropped seat to expire"
    )]
    Seats,
    /// The address joins faster than the join rate allows.
    #[error("joins from this address are too frequent; retry in a second")]
    JoinRate,
    /// The address failed to log in more often than its budget allows.
    #[error("too many failed logins from this address; retry later")]
    AuthFailures {
        /// How long until the address may try again.
        retry_after: Duration,
    },
}

impl AddressRefusal {
    /// The metric label for this refusal.
    pub fn label(self) -> &'static str {
        match self {
            Self::Total => "total",
            Self::Connections => "per_ip",
            Self::Seats => "seats_per_ip",
            Self::JoinRate => "join_rate_per_ip",
            Self::AuthFailures { .. } => "auth_failures_per_ip",
        }
    }

    /// How the network layer answers a refused connection: 503 when the listener is full, 429
    /// when this address is over its share; both ask to retry after a second.
    pub fn refusal(self) -> Refusal {
        let status = match self {
            Self::Total => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::TOO_MANY_REQUESTS,
        };
        let retry_after = match self {
            Self::AuthFailures { retry_after } => retry_after,
            _ => CONNECTION_RETRY_AFTER,
        };
        Refusal::new(status, self.to_string())
            .labelled(self.label())
            .retry_after(retry_after)
    }
}

#[derive(Debug)]
struct Entry {
    connections: usize,
    seats: u32,
    joins: RateLimit,
    auth_failures: RateLimit,
}

impl Entry {
    fn is_idle(&mut self, now: Instant) -> bool {
        self.connections == 0
            && self.seats == 0
            && self.joins.is_full(now)
            && self.auth_failures.is_full(now)
    }
}

/// Every active address with what it holds.
#[derive(Debug)]
pub struct AddressBook {
    limits: AddressLimits,
    entries: DashMap<IpAddr, Entry>,
    /// Connections open on the listener, from every address.
    open: AtomicUsize,
    epoch: Instant,
    /// Milliseconds since `epoch` of the last sweep.
    swept_at_ms: AtomicU64,
}

impl AddressBook {
    /// An empty book enforcing `limits`.
    pub fn new(limits: AddressLimits) -> Arc<Self> {
        Arc::new(Self {
            limits,
            entries: DashMap::new(),
            open: AtomicUsize::new(0),
            epoch: Instant::now(),
            swept_at_ms: AtomicU64::new(0),
        })
    }

    fn entry(&self, ip: IpAddr) -> dashmap::mapref::one::RefMut<'_, IpAddr, Entry> {
        self.entries.entry(ip).or_insert_with(|| Entry {
            connections: 0,
            seats: 0,
            joins: RateLimit::new(self.limits.joins_per_sec),
            auth_failures: RateLimit::with_burst(
                1.0 / self.limits.auth_failure_refill.as_secs_f64().max(1e-3),
                f64::from(self.limits.auth_failure_burst),
            ),
        })
    }

    /// Connections open now on the listener, from every address.
    pub fn connections(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }

    /// Counts one more connection from `ip`, unless the listener or the address has its
    /// maximum open.
    pub fn admit_connection(
        self: &Arc<Self>,
        ip: IpAddr,
    ) -> Result<ConnectionSlot, AddressRefusal> {
        self.sweep(Instant::now());
        if self.open.fetch_add(1, Ordering::AcqRel) >= self.limits.max_total {
            self.open.fetch_sub(1, Ordering::AcqRel);
            return Err(AddressRefusal::Total);
        }
        let mut e = self.entry(ip);
        if e.connections >= self.limits.max_connections {
            drop(e);
            self.open.fetch_sub(1, Ordering::AcqRel);
            self.forget_if_idle(ip, Instant::now());
            return Err(AddressRefusal::Connections);
        }
        e.connections += 1;
        Ok(ConnectionSlot {
            book: self.clone(),
            ip,
        })
    }

    /// Takes one join from `ip`'s rate (spectators: no seat is held).
    pub fn allow_join(&self, ip: IpAddr, now: Instant) -> Result<(), AddressRefusal> {
        let allowed = self.entry(ip).joins.allow(now);
        if allowed {
            Ok(())
        } else {
            Err(AddressRefusal::JoinRate)
        }
    }

    /// Takes one join from `ip`'s rate and one seat from its seat allowance; the seat is held
    /// until the claim is dropped (when the seat is freed: leave, grace expiry or match end).
    pub fn claim_seat(
        self: &Arc<Self>,
        ip: IpAddr,
        now: Instant,
    ) -> Result<SeatClaim, AddressRefusal> {
        let mut e = self.entry(ip);
        if e.seats >= self.limits.max_seats {
            return Err(AddressRefusal::Seats);
        }
        if !e.joins.allow(now) {
            return Err(AddressRefusal::JoinRate);
        }
        e.seats += 1;
        Ok(SeatClaim {
            book: self.clone(),
            ip,
        })
    }

    /// Whether `ip` may try to log in now: refused, with the time until it may, once its failed
    /// logins used up their budget. Checked before the credentials, so that an address over
    /// budget learns nothing from its guesses.
    pub fn check_auth_budget(&self, ip: IpAddr, now: Instant) -> Result<(), AddressRefusal> {
        let mut e = self.entry(ip);
        if e.auth_failures.has_token(now) {
            Ok(())
        } else {
            Err(AddressRefusal::AuthFailures {
                retry_after: e.auth_failures.wait(now),
            })
        }
    }

    /// Takes one failed login from `ip`'s budget.
    pub fn record_auth_failure(&self, ip: IpAddr, now: Instant) {
        self.entry(ip).auth_failures.allow(now);
    }

    /// Seats `ip` holds now.
    pub fn seats_held(&self, ip: IpAddr) -> u32 {
        self.entries.get(&ip).map_or(0, |e| e.seats)
    }

    /// Addresses remembered now (tests, metrics).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no address is remembered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn forget_if_idle(&self, ip: IpAddr, now: Instant) {
        self.entries.remove_if_mut(&ip, |_, e| e.is_idle(now));
    }

    /// Forgets idle addresses whose join bucket has refilled since they were last released.
    fn sweep(&self, now: Instant) {
        let now_ms = u64::try_from(now.saturating_duration_since(self.epoch).as_millis())
            .unwrap_or(u64::MAX);
        let last = self.swept_at_ms.load(Ordering::Relaxed);
        let due = now_ms.saturating_sub(last) >= SWEEP_EVERY.as_millis() as u64;
        if !due
            || self
                .swept_at_ms
                .compare_exchange(last, now_ms, Ordering::AcqRel, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        self.entries.retain(|_, e| !e.is_idle(now));
    }
}

/// One open connection counted against its address; dropping it gives the slot back.
#[derive(Debug)]
pub struct ConnectionSlot {
    book: Arc<AddressBook>,
    ip: IpAddr,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.book.open.fetch_sub(1, Ordering::AcqRel);
        if let Some(mut e) = self.book.entries.get_mut(&self.ip) {
            e.connections = e.connections.saturating_sub(1);
        }
        self.book.forget_if_idle(self.ip, Instant::now());
    }
}

/// One seat counted against the address that joined it; dropping it gives the seat back.
#[derive(Debug)]
pub struct SeatClaim {
    book: Arc<AddressBook>,
    ip: IpAddr,
}

impl Drop for SeatClaim {
    fn drop(&mut self) {
        if let Some(mut e) = self.book.entries.get_mut(&self.ip) {
            e.seats = e.seats.saturating_sub(1);
        }
        self.book.forget_if_idle(self.ip, Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    fn book(max_seats: u32, joins_per_sec: f64) -> Arc<AddressBook> {
        AddressBook::new(AddressLimits {
            max_total: 3,
            max_connections: 2,
            max_seats,
            joins_per_sec,
            auth_failure_burst: 2,
            auth_failure_refill: Duration::from_secs(1),
        })
    }

    const A: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));

    #[test]
    fn seats_count_until_their_claims_drop() {
        let book = book(2, 100.0);
        let t = Instant::now();
        let one = book.claim_seat(A, t).unwrap();
        let _two = book.claim_seat(A, t).unwrap();
        assert_eq!(book.claim_seat(A, t).unwrap_err(), AddressRefusal::Seats);
        assert!(
            book.claim_seat(B, t).is_ok(),
            "another address is unaffected"
        );
        drop(one);
        assert_eq!(book.seats_held(A), 1);
        assert!(book.claim_seat(A, t).is_ok());
    }

    #[test]
    fn joins_are_rate_limited_per_address() {
        let book = book(1000, 5.0);
        let t = Instant::now();
        let claims: Vec<_> = (0..10).map(|_| book.claim_seat(A, t).unwrap()).collect();
        assert_eq!(book.claim_seat(A, t).unwrap_err(), AddressRefusal::JoinRate);
        assert_eq!(book.allow_join(A, t), Err(AddressRefusal::JoinRate));
        assert!(book.allow_join(B, t).is_ok());
        assert!(book.claim_seat(A, t + Duration::from_millis(250)).is_ok());
        drop(claims);
    }

    #[test]
    fn connections_are_capped_and_idle_addresses_forgotten() {
        let book = book(4, 100.0);
        let a1 = book.admit_connection(A).unwrap();
        let a2 = book.admit_connection(A).unwrap();
        assert_eq!(
            book.admit_connection(A).unwrap_err(),
            AddressRefusal::Connections
        );
        drop((a1, a2));
        assert!(book.is_empty(), "an address holding nothing is forgotten");
        // An address whose join bucket is not full yet is remembered (no fresh burst by
        // reconnecting) until it refills.
        let slot = book.admit_connection(A).unwrap();
        book.allow_join(A, Instant::now()).unwrap();
        drop(slot);
        assert_eq!(book.len(), 1);
        book.sweep(Instant::now() + Duration::from_secs(60));
        assert!(book.is_empty());
    }

    #[test]
    fn the_listener_total_is_capped_across_addresses() {
        let book = book(4, 100.0);
        let held = [
            book.admit_connection(A).unwrap(),
            book.admit_connection(A).unwrap(),
            book.admit_connection(B).unwrap(),
        ];
        assert_eq!(book.connections(), 3);
        assert_eq!(book.admit_connection(B).unwrap_err(), AddressRefusal::Total);
        assert_eq!(book.connections(), 3, "a refusal holds nothing");
        drop(held);
        assert_eq!(book.connections(), 0);
        let refusal = AddressRefusal::Total.refusal();
        assert_eq!((refusal.status.as_u16(), refusal.label), (503, "total"));
        let refusal = AddressRefusal::Connections.refusal();
        assert_eq!((refusal.status.as_u16(), refusal.label), (429, "per_ip"));
        assert!(refusal.retry_after.is_some());
    }

    #[test]
    fn failed_logins_are_budgeted_per_address() {
        let book = book(4, 100.0);
        let t = Instant::now();
        for _ in 0..2 {
            book.check_auth_budget(A, t).unwrap();
            book.record_auth_failure(A, t);
        }
        let Err(AddressRefusal::AuthFailures { retry_after }) = book.check_auth_budget(A, t) else {
            panic!("a third failure within the burst is refused");
        };
        assert!(retry_after > Duration::ZERO && retry_after <= Duration::from_secs(1));
        book.check_auth_budget(B, t).unwrap();
        book.check_auth_budget(A, t + Duration::from_secs(1))
            .unwrap();
        book.sweep(t + Duration::from_secs(60));
        assert!(book.is_empty(), "a refilled budget is forgotten");
    }
}
