//! The ring of recent snapshots that delta baselines are taken from.

use std::collections::VecDeque;

use tickwire_proto::schema::rows::EntityRow;

/// The last `cap` snapshots, one per consecutive tick, oldest first.
#[derive(Clone, Debug)]
pub(crate) struct History {
    /// Snapshots kept at most.
    cap: usize,
    /// `(tick, snapshot)`, ticks consecutive and ascending.
    ring: VecDeque<(u32, Vec<EntityRow>)>,
}

impl History {
    /// A history holding only the empty snapshot of tick 0.
    pub(crate) fn new(cap: usize) -> History {
        let cap = cap.max(1);
        let mut ring = VecDeque::with_capacity(cap);
        ring.push_back((0, Vec::new()));
        History { cap, ring }
    }

    /// A buffer for the next snapshot: the evicted oldest one when the ring is full, so the
    /// steady state reuses its allocations (including the rows' value vectors).
    pub(crate) fn take_buffer(&mut self) -> Vec<EntityRow> {
        if self.ring.len() >= self.cap {
            self.ring.pop_front().map(|(_, v)| v).unwrap_or_default()
        } else {
            Vec::new()
        }
    }

    /// Appends the snapshot of `tick` (the tick after the newest).
    pub(crate) fn push(&mut self, tick: u32, snapshot: Vec<EntityRow>) {
        if self.ring.len() >= self.cap {
            self.ring.pop_front();
        }
        self.ring.push_back((tick, snapshot));
    }

    /// The newest snapshot.
    pub(crate) fn newest(&self) -> &[EntityRow] {
        self.ring.back().map_or(&[], |(_, s)| s.as_slice())
    }

    /// The snapshot of `tick`, if still held.
    pub(crate) fn get(&self, tick: u32) -> Option<&[EntityRow]> {
        let (first, _) = self.ring.front()?;
        let idx = usize::try_from(tick.checked_sub(*first)?).ok()?;
        let (t, s) = self.ring.get(idx)?;
        // Ticks are consecutive, so this always holds; checked anyway rather than trusted.
        (*t == tick).then_some(s.as_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_cap_ticks() {
        let mut h = History::new(3);
        assert_eq!(h.get(0), Some(&[][..]));
        for t in 1..=5 {
            let buf = h.take_buffer();
            h.push(t, buf);
        }
        assert_eq!(h.get(2), None);
        assert!(h.get(3).is_some() && h.get(5).is_some());
        assert_eq!(h.get(6), None);
    }
}
