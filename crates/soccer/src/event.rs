//! Soccer's reliable events, [`SoccerEvent`], and their bytes (the server sends them to
//! clients as an opaque game event).
//!
//! # Bytes
//! Byte 0 is the event's tag; numbers are little-endian; a team is one byte (0 home, 1 away);
//! a player id of 0 stands for none (ids start at 1).
//! - `00 team scorer:u32 home:u32 away:u32` (14 bytes): [`SoccerEvent::Goal`].
//! - `01 player:u32 team` (6 bytes): [`SoccerEvent::TeamChanged`].
//! - `02 team` (2 bytes): [`SoccerEvent::Kickoff`].
//!
//! Any other tag, length or team byte does not decode.

use tickwire_sim::PlayerId;

use crate::Team;

/// Tag of [`SoccerEvent::Goal`].
const GOAL_TAG: u8 = 0;
/// Tag of [`SoccerEvent::TeamChanged`].
const TEAM_TAG: u8 = 1;
/// Tag of [`SoccerEvent::Kickoff`].
const KICKOFF_TAG: u8 = 2;

/// A reliable event of soccer, for every client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SoccerEvent {
    /// A team scored.
    Goal {
        /// The scoring team.
        team: Team,
        /// The player credited: the last to kick the ball, when on the scoring team.
        scorer: Option<PlayerId>,
        /// Home's goals after this one.
        home: u32,
        /// Away's goals after this one.
        away: u32,
    },
    /// A player moved to another team by the choose-team request (a joining player's team is
    /// in its entity's `team` field).
    TeamChanged {
        /// The player.
        player: PlayerId,
        /// Its new team.
        team: Team,
    },
    /// The ball is back on the centre spot and players on their kickoff spots; the pause
    /// starts.
    Kickoff {
        /// The team kicking off (the one that conceded, or home at the start).
        team: Team,
    },
}

impl SoccerEvent {
    /// The event's bytes (see the module docs for the layout).
    pub fn to_bytes(&self) -> Vec<u8> {
        match *self {
            SoccerEvent::Goal {
                team,
                scorer,
                home,
                away,
            } => {
                let mut b = vec![GOAL_TAG, team.code()];
                b.extend_from_slice(&scorer.unwrap_or(0).to_le_bytes());
                b.extend_from_slice(&home.to_le_bytes());
                b.extend_from_slice(&away.to_le_bytes());
                b
            }
            SoccerEvent::TeamChanged { player, team } => {
                let mut b = vec![TEAM_TAG];
                b.extend_from_slice(&player.to_le_bytes());
                b.push(team.code());
                b
            }
            SoccerEvent::Kickoff { team } => vec![KICKOFF_TAG, team.code()],
        }
    }

    /// Decodes an event's bytes; `None` when they are not one. Never panics.
    pub fn from_bytes(bytes: &[u8]) -> Option<SoccerEvent> {
        let u32_at = |b: &[u8]| -> Option<u32> { Some(u32::from_le_bytes(b.try_into().ok()?)) };
        match bytes {
            [GOAL_TAG, team, rest @ ..] if rest.len() == 12 => Some(SoccerEvent::Goal {
                team: Team::from_code(*team)?,
                scorer: Some(u32_at(&rest[0..4])?).filter(|&p| p != 0),
                home: u32_at(&rest[4..8])?,
                away: u32_at(&rest[8..12])?,
            }),
            [TEAM_TAG, p0, p1, p2, p3, team] => Some(SoccerEvent::TeamChanged {
                player: u32::from_le_bytes([*p0, *p1, *p2, *p3]),
                team: Team::from_code(*team)?,
            }),
            [KICKOFF_TAG, team] => Some(SoccerEvent::Kickoff {
                team: Team::from_code(*team)?,
            }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn events_round_trip_through_their_bytes() {
        let events = [
            SoccerEvent::Goal {
                team: Team::Away,
                scorer: Some(7),
                home: 1,
                away: 3,
            },
            SoccerEvent::Goal {
                team: Team::Home,
                scorer: None,
                home: 2,
                away: 0,
            },
            SoccerEvent::TeamChanged {
                player: 0x0102_0304,
                team: Team::Away,
            },
            SoccerEvent::Kickoff { team: Team::Home },
        ];
        for e in events {
            assert_eq!(SoccerEvent::from_bytes(&e.to_bytes()), Some(e), "{e:?}");
        }
        assert_eq!(
            events[0].to_bytes(),
            [0, 1, 7, 0, 0, 0, 1, 0, 0, 0, 3, 0, 0, 0]
        );
        assert_eq!(events[2].to_bytes(), [1, 4, 3, 2, 1, 1]);
        assert_eq!(events[3].to_bytes(), [2, 0]);
    }

    #[test]
    fn other_bytes_do_not_decode() {
        for b in [
            &[][..],
            &[2],
            &[2, 2],
            &[2, 0, 0],
            &[3, 0],
            &[1, 0, 0, 0, 0, 9],
        ] {
            assert_eq!(SoccerEvent::from_bytes(b), None, "{b:?}");
        }
    }

    proptest! {
        #[test]
        fn from_bytes_never_panics_and_what_decodes_round_trips(
            bytes in proptest::collection::vec(any::<u8>(), 0..40)
        ) {
            if let Some(e) = SoccerEvent::from_bytes(&bytes) {
                // A goal without a scorer has one byte pattern; every decoded event re-encodes
                // to the bytes it came from.
                prop_assert_eq!(e.to_bytes(), bytes);
            }
        }
    }
}
