//! Per-player input queues: ordering, de-duplication and flood limits for untrusted inputs.

use std::collections::VecDeque;

use tickwire_proto::msg::Input;

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
pub(crate) struct InputQueue {
    /// Inputs received but not yet applied, oldest first, sequence numbers ascending.
    queue: VecDeque<Input>,
    /// Highest sequence number accepted so far (0: none).
    last_received: u32,
    /// The input applied on the last tick, repeated while the queue is empty.
    last_applied: Input,
    /// Set by a reconnect: the next input is accepted whatever its sequence number (a restarted
    /// client may begin again at 1, a resumed one may continue far ahead).
    resync: bool,
}

impl InputQueue {
    /// Files `input` under the queue rules; the caller counts the refusals.
    pub(crate) fn push(&mut self, input: Input, cap: usize, max_jump: u32) -> InputOutcome {
        if input.seq == 0 {
            // 0 means "no input yet" in the frame header, so it is never a real input.
            return InputOutcome::Stale;
        }
        if !self.resync {
            if input.seq <= self.last_received {
                return InputOutcome::Stale;
            }
            if input.seq - self.last_received > max_jump {
                return InputOutcome::Rejected;
            }
        }
        if self.queue.len() >= cap {
            return InputOutcome::Dropped;
        }
        self.resync = false;
        self.last_received = input.seq;
        self.queue.push_back(input);
        InputOutcome::Queued
    }

    /// The input for this tick: the oldest queued one (with `true`), else the last applied one
    /// again (with `false`).
    ///
    /// Repeating in full, fire button included, is what clients expect when a packet is late:
    /// a held button stays held, and the fire cooldown still limits the rate.
    pub(crate) fn next(&mut self) -> (Input, bool) {
        match self.queue.pop_front() {
            Some(input) => {
                self.last_applied = input;
                (input, true)
            }
            None => (self.last_applied, false),
        }
    }

    /// Forgets pending inputs and the repeated input (keeping its aim), for a disconnected
    /// player: nothing it sent before or while away is applied.
    pub(crate) fn disconnect(&mut self) {
        self.queue.clear();
        self.last_applied = Input {
            aim: self.last_applied.aim,
            ..Input::default()
        };
    }

    /// Accepts any sequence number on the first input after a reconnect.
    pub(crate) fn reconnect(&mut self) {
        self.resync = true;
    }

    /// Inputs waiting to be applied.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(seq: u32) -> Input {
        Input {
            seq,
            ..Input::default()
        }
    }

    #[test]
    fn rules() {
        let mut q = InputQueue::default();
        assert_eq!(q.push(input(0), 4, 10), InputOutcome::Stale);
        assert_eq!(q.push(input(11), 4, 10), InputOutcome::Rejected);
        assert_eq!(q.push(input(10), 4, 10), InputOutcome::Queued);
        assert_eq!(q.push(input(10), 4, 10), InputOutcome::Stale);
        assert_eq!(q.push(input(9), 4, 10), InputOutcome::Stale);
        for s in 11..14 {
            assert_eq!(q.push(input(s), 4, 10), InputOutcome::Queued);
        }
        assert_eq!(q.push(input(14), 4, 10), InputOutcome::Dropped);
        // A dropped input was not received: its resend is accepted once there is room.
        assert_eq!(q.next(), (input(10), true));
        assert_eq!(q.push(input(14), 4, 10), InputOutcome::Queued);
        assert_eq!(q.len(), 4);
        q.disconnect();
        assert_eq!(q.len(), 0);
        assert_eq!(q.next(), (Input::default(), false));
        q.reconnect();
        // After a reconnect any sequence number is accepted once.
        assert_eq!(q.push(input(1), 4, 10), InputOutcome::Queued);
        assert_eq!(q.push(input(1), 4, 10), InputOutcome::Stale);
    }
}
