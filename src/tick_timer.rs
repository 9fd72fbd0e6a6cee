//! A finer timer for the start of a tick than tokio's.
//!
//! tokio's timer wheel counts whole milliseconds and its workers park in `epoll_wait` with a
//! millisecond timeout, so `sleep_until` fires at the first millisecond boundary after the
//! deadline: up to 1 ms late by design, before any scheduling delay. Ticks instead start from
//! one shared thread that waits on a condition variable (a futex with a nanosecond timeout, so
//! the kernel's hrtimer and its ~50 µs slack decide) until the earliest deadline, then wakes that
//! match's task. Nothing spins: a match costs one thread wake-up per tick, and a process
//! without running matches has a timer thread asleep with nothing to wait for.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// Sleeps until `deadline` with the precise timer, or with tokio's if the timer thread could
/// not be started.
pub(crate) async fn sleep_until(deadline: tokio::time::Instant) {
    match timer() {
        Some(timer) => {
            Sleep {
                timer,
                at: deadline.into_std(),
                registered: None,
            }
            .await
        }
        None => tokio::time::sleep_until(deadline).await,
    }
}

/// The process's timer thread, started on first use; `None` if it could not be spawned.
fn timer() -> Option<&'static Timer> {
    static TIMER: OnceLock<Option<Timer>> = OnceLock::new();
    TIMER
        .get_or_init(|| {
            let shared = Arc::new(Shared::default());
            let thread_shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("tick-timer".into())
                .spawn(move || run(&thread_shared))
                .inspect_err(|e| {
                    tracing::warn!(error = %e, "no tick timer thread: ticks start on tokio's 1 ms timer");
                })
                .ok()
                .map(|_| Timer { shared })
        })
        .as_ref()
}

/// Handle to the timer thread.
struct Timer {
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    queue: Mutex<Queue>,
    /// Signalled when a new earliest deadline is queued.
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // Nothing panics while holding the lock, and the heap stays valid even if it did.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Timer {
    /// Wakes `waker` at `at` (or at once if that has passed).
    fn wake_at(&self, at: Instant, waker: Waker) {
        let earliest = self.shared.lock().push(at, waker);
        if earliest {
            self.shared.changed.notify_one();
        }
    }
}

/// The thread: wake every task that is due, then wait for the next deadline or a new one.
fn run(shared: &Shared) {
    let mut queue = shared.lock();
    loop {
        let (due, wait) = queue.take_due(Instant::now());
        if !due.is_empty() {
            // Woken outside the lock, so a task registering again never waits for us.
            drop(queue);
            due.into_iter().for_each(Waker::wake);
            queue = shared.lock();
            continue;
        }
        queue = match wait {
            Some(wait) => {
                shared
                    .changed
                    .wait_timeout(queue, wait)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0
            }
            None => shared
                .changed
                .wait(queue)
                .unwrap_or_else(PoisonError::into_inner),
        };
    }
}

/// Deadlines waiting to fire, earliest first.
#[derive(Default)]
struct Queue {
    heap: BinaryHeap<Reverse<Entry>>,
    /// Tie-breaker giving equal deadlines a fixed order, in registrations.
    seq: u64,
}

struct Entry {
    at: Instant,
    seq: u64,
    waker: Waker,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

impl Queue {
    /// Queues a wake-up; true if it is now the earliest (the thread must wait less).
    fn push(&mut self, at: Instant, waker: Waker) -> bool {
        self.seq += 1;
        let earliest = self.heap.peek().is_none_or(|Reverse(first)| at < first.at);
        self.heap.push(Reverse(Entry {
            at,
            seq: self.seq,
            waker,
        }));
        earliest
    }

    /// Removes the wake-ups due at `now`, and says how long until the next one (`None`: none).
    fn take_due(&mut self, now: Instant) -> (Vec<Waker>, Option<Duration>) {
        let mut due = Vec::new();
        while let Some(Reverse(first)) = self.heap.peek() {
            if first.at > now {
                return (due, Some(first.at - now));
            }
            if let Some(Reverse(entry)) = self.heap.pop() {
                due.push(entry.waker);
            }
        }
        (due, None)
    }
}

/// Resolves at `at`, woken by the timer thread.
struct Sleep {
    timer: &'static Timer,
    at: Instant,
    /// The waker handed to the thread, so polling again (another branch of a `select!` woke
    /// the task) does not queue the same wake-up twice.
    registered: Option<Waker>,
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if Instant::now() >= this.at {
            return Poll::Ready(());
        }
        if this
            .registered
            .as_ref()
            .is_none_or(|w| !w.will_wake(cx.waker()))
        {
            // A deadline that passes between the check above and this push is woken at once.
            this.timer.wake_at(this.at, cx.waker().clone());
            this.registered = Some(cx.waker().clone());
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    /// A waker that counts its wake-ups.
    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn counter() -> (Arc<Count>, Waker) {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        (Arc::clone(&count), Waker::from(count))
    }

    #[test]
    fn wakes_what_is_due_and_waits_for_the_rest() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut q = Queue::default();
        let (early, early_waker) = counter();
        let (late, late_waker) = counter();
        assert!(q.push(t0 + ms(30), late_waker), "first entry is the earliest");
        assert!(q.push(t0 + ms(10), early_waker.clone()), "an earlier one");
        assert!(!q.push(t0 + ms(20), early_waker), "a later one");

        let (due, wait) = q.take_due(t0);
        assert!(due.is_empty());
        assert_eq!(wait, Some(ms(10)));

        let (due, wait) = q.take_due(t0 + ms(25));
        assert_eq!(due.len(), 2);
        assert_eq!(wait, Some(ms(5)));
        due.into_iter().for_each(Waker::wake);
        assert_eq!(early.0.load(Ordering::SeqCst), 2);
        assert_eq!(late.0.load(Ordering::SeqCst), 0);

        let (due, wait) = q.take_due(t0 + ms(30));
        assert_eq!(due.len(), 1, "due exactly at its deadline");
        assert_eq!(wait, None);
    }

    #[test]
    fn equal_deadlines_keep_registration_order() {
        let t0 = Instant::now();
        let mut q = Queue::default();
        let (_, a) = counter();
        let (_, b) = counter();
        q.push(t0, a.clone());
        assert!(!q.push(t0, b), "not earlier than an equal deadline");
        let (due, _) = q.take_due(t0);
        assert!(due[0].will_wake(&a));
    }

    #[tokio::test]
    async fn a_passed_deadline_is_ready_at_once() {
        sleep_until(tokio::time::Instant::now()).await;
        sleep_until(tokio::time::Instant::now() - Duration::from_millis(5)).await;
    }
}
