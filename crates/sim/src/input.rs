//! Per-player input queues: ordering, de-duplication and flood limits for untrusted inputs.

use std::collections::VecDeque;

use crate::game::GameInput;

/// What [`crate::Match::push_input`] did with an input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InputOutcome {
    /// Queued; it will be applied on a coming tick.
    Queued,
    /// Its sequence number is not newer than the last received one (a duplicate or a reordered
    /// packet); ignored.
    Stale,
    /// Its sequence number jumps implausibly far ahead; ignored.
    Rejected,
    /// The player's queue is full; ignored (the client sends faster than the tick rate).
    Dropped,
    /// No player with that id is in the match.
    UnknownPlayer,
}

impl InputOutcome {
    /// Every outcome.
    pub const ALL: [InputOutcome; 5] = [
        Self::Queued,
        Self::Stale,
        Self::Rejected,
        Self::Dropped,
        Self::UnknownPlayer,
    ];

    /// The outcome as a snake_case metric label value.
    pub fn label(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Stale => "stale",
            Self::Rejected => "rejected",
            Self::Dropped => "queue_full",
            Self::UnknownPlayer => "unknown_player",
        }
    }
}

/// One player's pending inputs plus what the simulation applies when none is pending.
#[derive(Clone, Debug, Default)]
pub(crate) struct InputQueue<I> {
    /// Inputs received but not yet applied with their sequence numbers, oldest first,
    /// sequence numbers ascending.
    queue: VecDeque<(u32, I)>,
    /// Highest sequence number accepted so far (0: none).
    last_received: u32,
    /// The input applied on the last tick, repeated while the queue is empty.
    last_applied: I,
    /// Set by a reconnect: the next input is accepted whatever its sequence number (a restarted
    /// client may begin again at 1, a resumed one may continue far ahead).
    resync: bool,
}

impl<I: GameInput> InputQueue<I> {
    /// Files `input` (sequence number `seq`) under the queue rules; the caller counts the
    /// refusals.
    pub(crate) fn push(&mut self, seq: u32, input: I, cap: usize, max_jump: u32) -> InputOutcome {
        if seq == 0 {
            // 0 means "no input yet" in the frame header, so it is never a real input.
            return InputOutcome::Stale;
        }
        if !self.resync {
            if seq <= self.last_received {
                return InputOutcome::Stale;
            }
            if seq - self.last_received > max_jump {
                return InputOutcome::Rejected;
            }
        }
        if self.queue.len() >= cap {
            return InputOutcome::Dropped;
        }
        self.resync = false;
        self.last_received = seq;
        self.queue.push_back((seq, input));
        InputOutcome::Queued
    }

    /// The input for this tick: the oldest queued one with its sequence number, else the last
    /// applied one again with `None`.
    ///
    /// Repeating in full, buttons included, is what clients expect when a packet is late:
    /// a held button stays held, and the game's own limits (a fire cooldown) still hold.
    pub(crate) fn next(&mut self) -> (I, Option<u32>) {
        match self.queue.pop_front() {
            Some((seq, input)) => {
                self.last_applied = input;
                (input, Some(seq))
            }
            None => (self.last_applied, None),
        }
    }

    /// Forgets pending inputs and releases the repeated input ([`GameInput::released`]), for
    /// a disconnected player: nothing it sent before or while away is applied.
    pub(crate) fn disconnect(&mut self) {
        self.queue.clear();
        self.last_applied = self.last_applied.released();
    }

    /// Accepts any sequence number on the first input after a reconnect.
    pub(crate) fn reconnect(&mut self) {
        self.resync = true;
    }

    /// Inputs waiting to be applied.
    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A test input: a held button and a facing that survives a disconnect.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    struct Held {
        button: bool,
        facing: u8,
    }

    impl GameInput for Held {
        fn released(&self) -> Held {
            Held {
                button: false,
                facing: self.facing,
            }
        }
    }

    fn input(seq: u32) -> (u32, Held) {
        (
            seq,
            Held {
                button: true,
                facing: seq as u8,
            },
        )
    }

    fn push(q: &mut InputQueue<Held>, (seq, i): (u32, Held)) -> InputOutcome {
        q.push(seq, i, 4, 10)
    }

    #[test]
    fn rules() {
        let mut q = InputQueue::default();
        assert_eq!(push(&mut q, input(0)), InputOutcome::Stale);
        assert_eq!(push(&mut q, input(11)), InputOutcome::Rejected);
        assert_eq!(push(&mut q, input(10)), InputOutcome::Queued);
        assert_eq!(push(&mut q, input(10)), InputOutcome::Stale);
        assert_eq!(push(&mut q, input(9)), InputOutcome::Stale);
        for s in 11..14 {
            assert_eq!(push(&mut q, input(s)), InputOutcome::Queued);
        }
        assert_eq!(push(&mut q, input(14)), InputOutcome::Dropped);
        // A dropped input was not received: its resend is accepted once there is room.
        assert_eq!(q.next(), (input(10).1, Some(10)));
        assert_eq!(push(&mut q, input(14)), InputOutcome::Queued);
        assert_eq!(q.len(), 4);
        // An empty queue repeats the last input applied.
        for s in 11..15 {
            assert_eq!(q.next(), (input(s).1, Some(s)));
        }
        assert_eq!(q.next(), (input(14).1, None));
        q.disconnect();
        assert_eq!(q.len(), 0);
        // After a disconnect the repeated input is released, keeping what persists.
        let released = Held {
            button: false,
            facing: 14,
        };
        assert_eq!(q.next(), (released, None));
        q.reconnect();
        // After a reconnect any sequence number is accepted once.
        assert_eq!(push(&mut q, input(1)), InputOutcome::Queued);
        assert_eq!(push(&mut q, input(1)), InputOutcome::Stale);
    }
}
