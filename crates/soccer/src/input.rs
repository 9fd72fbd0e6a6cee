//! Soccer's per-tick input, [`SoccerInput`], and its payload.
//!
//! # Payload
//! [`SOCCER_INPUT_BYTES`] bytes, exactly: `move_x` (i8), `move_y` (i8), `aim` (u8, 1/256
//! turns), `buttons` (u8: [`BUTTON_KICK`], [`BUTTON_SPRINT`]; other bits ignored), `power`
//! (u8, kick power 0..=255). Any other length is refused.

use glam::Vec2;
use tickwire_sim::GameInput;

/// Bytes of an input's payload.
pub const SOCCER_INPUT_BYTES: usize = 5;
/// Bit of [`SoccerInput::buttons`] that kicks the ball (when it is within reach).
pub const BUTTON_KICK: u8 = 1;
/// Bit of [`SoccerInput::buttons`] that sprints.
pub const BUTTON_SPRINT: u8 = 2;

/// One player's input for one tick: movement intent, facing, buttons and kick power.
///
/// A kick goes in the direction of `aim` (1/256 turns, 0 along +x, increasing towards +y),
/// not the direction of movement, so a player can run one way and shoot another.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SoccerInput {
    /// Horizontal movement intent, -127 (left) to 127 (right); -128 is treated as -127.
    pub move_x: i8,
    /// Vertical movement intent, -127 (up) to 127 (down); -128 is treated as -127.
    pub move_y: i8,
    /// Facing and kick direction, 1/256 turns, 0 along +x, increasing towards +y.
    pub aim: u8,
    /// Button bits: [`BUTTON_KICK`], [`BUTTON_SPRINT`]; other bits are ignored.
    pub buttons: u8,
    /// Kick power, 0 (a tap that stops the ball) to 255 (full speed).
    pub power: u8,
}

impl SoccerInput {
    /// The payload of this input (see the module docs for the layout).
    pub fn payload(&self) -> [u8; SOCCER_INPUT_BYTES] {
        [
            self.move_x as u8,
            self.move_y as u8,
            self.aim,
            self.buttons,
            self.power,
        ]
    }

    /// Decodes a payload of exactly [`SOCCER_INPUT_BYTES`] bytes; `None` for any other length.
    pub fn from_payload(bytes: &[u8]) -> Option<SoccerInput> {
        let &[x, y, aim, buttons, power] = bytes else {
            return None;
        };
        Some(SoccerInput {
            move_x: x as i8,
            move_y: y as i8,
            aim,
            buttons,
            power,
        })
    }

    /// The movement intent as a vector of length at most 1, with -128 folded to -127.
    pub fn move_vector(&self) -> Vec2 {
        let v = Vec2::new(
            f32::from(self.move_x.max(-127)) / 127.0,
            f32::from(self.move_y.max(-127)) / 127.0,
        );
        let len_sq = v.dot(v);
        if len_sq > 1.0 { v / len_sq.sqrt() } else { v }
    }

    /// Whether the kick button is held.
    pub fn kick(&self) -> bool {
        self.buttons & BUTTON_KICK != 0
    }

    /// Whether the sprint button is held.
    pub fn sprint(&self) -> bool {
        self.buttons & BUTTON_SPRINT != 0
    }
}

impl GameInput for SoccerInput {
    /// Movement, buttons and power are released; the facing stays.
    fn released(&self) -> SoccerInput {
        SoccerInput {
            aim: self.aim,
            ..SoccerInput::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn released_keeps_only_the_aim() {
        let i = SoccerInput {
            move_x: 5,
            move_y: -3,
            aim: 77,
            buttons: BUTTON_KICK | BUTTON_SPRINT,
            power: 200,
        };
        assert_eq!(
            i.released(),
            SoccerInput {
                aim: 77,
                ..SoccerInput::default()
            }
        );
    }

    #[test]
    fn minus_128_is_minus_127_and_diagonals_are_unit() {
        let a = SoccerInput {
            move_x: -128,
            ..SoccerInput::default()
        };
        assert_eq!(a.move_vector(), Vec2::new(-1.0, 0.0));
        let d = SoccerInput {
            move_x: 127,
            move_y: 127,
            ..SoccerInput::default()
        };
        assert!((d.move_vector().length() - 1.0).abs() < 1e-6);
    }

    #[test]
    fn payload_round_trips_and_wrong_lengths_are_refused() {
        let i = SoccerInput {
            move_x: -128,
            move_y: 127,
            aim: 200,
            buttons: 0xff,
            power: 9,
        };
        assert_eq!(i.payload(), [0x80, 0x7f, 200, 0xff, 9]);
        assert_eq!(SoccerInput::from_payload(&i.payload()), Some(i));
        assert_eq!(SoccerInput::from_payload(&[]), None);
        assert_eq!(SoccerInput::from_payload(&[1, 2, 3, 4]), None);
        assert_eq!(SoccerInput::from_payload(&[1, 2, 3, 4, 5, 6]), None);
    }

    proptest! {
        #[test]
        fn from_payload_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let decoded = SoccerInput::from_payload(&bytes);
            prop_assert_eq!(decoded.is_some(), bytes.len() == SOCCER_INPUT_BYTES);
            if let Some(i) = decoded {
                prop_assert_eq!(&i.payload()[..], &bytes[..]);
            }
        }
    }
}
