//! Replays: every match writes the calls it makes into its simulation (joins, leaves, link
//! changes, inputs, ends) tick by tick, with periodic state hashes, to `replays/{id}.bin`.
//! Because the simulation is deterministic, re-running the calls reproduces every hash.
//!
//! # File format
//! The 8-byte magic `TWRPLAY1`, then records: a `u32` little-endian payload length, the
//! payload's CRC-32 (`u32` little-endian), and the payload, a [`Record`] encoded by
//! `tickwire_proto::codec::encode_record`. The first record is [`Record::Header`]. A record is
//! written per tick, so memory stays bounded by one tick's calls.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tickwire_proto::codec;
use tickwire_proto::msg::{EndReason, Input, PlayerResult};
use tickwire_sim::{GameConfig, InputOutcome, JoinError, MapDef, Match, PlayerId, StepReport};
use tracing::warn;

/// The first bytes of every replay file.
pub const MAGIC: &[u8; 8] = b"TWRPLAY1";

/// One call the server made into the simulation between two steps.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Call {
    /// `add_player(name)` returned `player`.
    Join {
        /// Requested name.
        name: String,
        /// Player id the simulation assigned.
        player: PlayerId,
    },
    /// `remove_player(player)`.
    Leave {
        /// The player.
        player: PlayerId,
    },
    /// `set_connected(player, connected)`.
    Connected {
        /// The player.
        player: PlayerId,
        /// New link state.
        connected: bool,
    },
    /// `push_input(player, input)`.
    Input {
        /// The player.
        player: PlayerId,
        /// The input as received.
        input: Input,
    },
    /// `end(reason)`.
    End {
        /// Why.
        reason: EndReason,
    },
}

/// One record of a replay file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Record {
    /// Everything needed to rebuild the match.
    Header {
        /// Match id.
        match_id: u64,
        /// Simulation seed.
        seed: u64,
        /// Unix time the match started, milliseconds.
        started_at_ms: u64,
        /// Map name.
        map_name: String,
        /// The rules.
        game: GameConfig,
        /// The map.
        map: MapDef,
    },
    /// Calls, then one step; `hash` is the state hash after the step, when recorded.
    Tick {
        /// Calls made before the step.
        calls: Vec<Call>,
        /// State hash after the step.
        hash: Option<u64>,
    },
    /// Calls after the last step (the end), with the final state hash.
    Final {
        /// Calls made after the last step.
        calls: Vec<Call>,
        /// Final tick.
        tick: u32,
        /// Final state hash.
        hash: u64,
    },
}

/// A replay that could not be read or did not reproduce.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The file could not be read.
    #[error("cannot read replay: {0}")]
    Io(#[from] std::io::Error),
    /// The file does not start with the replay magic.
    #[error("not a tickwire replay (bad magic)")]
    BadMagic,
    /// A record's checksum or encoding is wrong.
    #[error("corrupt record at byte {offset} (after tick {tick}): {reason}")]
    Corrupt {
        /// Byte offset of the record.
        offset: u64,
        /// Last tick replayed before it.
        tick: u32,
        /// What is wrong.
        reason: String,
    },
    /// The file ends inside a record or before the end of the match.
    #[error("replay is truncated after tick {tick}")]
    Truncated {
        /// Last tick replayed.
        tick: u32,
    },
    /// The first record is not a header, or the header does not build a match.
    #[error("bad replay header: {0}")]
    BadHeader(String),
    /// Re-simulation diverged from the recording.
    #[error("mismatch at tick {tick}: {what}")]
    Mismatch {
        /// The tick where it diverged.
        tick: u32,
        /// What differed.
        what: String,
    },
}

/// Writes one match's replay incrementally.
#[derive(Debug)]
pub struct ReplayWriter {
    file: BufWriter<File>,
    path: PathBuf,
    buf: Vec<u8>,
}

impl ReplayWriter {
    /// Creates `path` and writes the magic and the header.
    pub fn create(path: PathBuf, header: &Record) -> std::io::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut file = BufWriter::with_capacity(64 * 1024, File::create(&path)?);
        file.write_all(MAGIC)?;
        let mut w = Self {
            file,
            path,
            buf: Vec::new(),
        };
        w.write(header)?;
        Ok(w)
    }

    /// Appends one record.
    pub fn write(&mut self, record: &Record) -> std::io::Result<()> {
        self.buf.clear();
        codec::encode_record(record, &mut self.buf).map_err(std::io::Error::other)?;
        let len = u32::try_from(self.buf.len()).map_err(std::io::Error::other)?;
        self.file.write_all(&len.to_le_bytes())?;
        self.file
            .write_all(&crc32fast::hash(&self.buf).to_le_bytes())?;
        self.file.write_all(&self.buf)
    }

    /// Flushes and fsyncs the file.
    pub fn finish(mut self) -> std::io::Result<PathBuf> {
        self.file.flush()?;
        self.file.get_ref().sync_data()?;
        Ok(self.path)
    }
}

/// A [`Match`] whose every state-changing call is recorded into a replay.
pub struct RecordedMatch {
    sim: Match,
    writer: Option<ReplayWriter>,
    calls: Vec<Call>,
    hash_every: u32,
}

impl RecordedMatch {
    /// Wraps `sim`; with `writer` `None` nothing is recorded.
    pub fn new(sim: Match, writer: Option<ReplayWriter>, hash_every: u32) -> Self {
        Self {
            sim,
            writer,
            calls: Vec::new(),
            hash_every: hash_every.max(1),
        }
    }

    /// The simulation, for reading.
    pub fn sim(&self) -> &Match {
        &self.sim
    }

    fn record(&mut self, call: Call) {
        if self.writer.is_some() {
            self.calls.push(call);
        }
    }

    /// Records and performs `add_player`.
    pub fn add_player(&mut self, name: &str) -> Result<PlayerId, JoinError> {
        let player = self.sim.add_player(name)?;
        self.record(Call::Join {
            name: name.to_owned(),
            player,
        });
        Ok(player)
    }

    /// Records and performs `remove_player`.
    pub fn remove_player(&mut self, player: PlayerId) -> bool {
        self.record(Call::Leave { player });
        self.sim.remove_player(player)
    }

    /// Records and performs `set_connected`.
    pub fn set_connected(&mut self, player: PlayerId, connected: bool) {
        self.record(Call::Connected { player, connected });
        self.sim.set_connected(player, connected);
    }

    /// Records and performs `push_input`.
    pub fn push_input(&mut self, player: PlayerId, input: Input) -> InputOutcome {
        self.record(Call::Input { player, input });
        self.sim.push_input(player, input)
    }

    /// Performs `step` and writes this tick's record.
    pub fn step(&mut self) -> StepReport {
        let report = self.sim.step();
        if self.writer.is_some() {
            let hash = (report.tick % self.hash_every == 0).then(|| self.sim.state_hash());
            let record = Record::Tick {
                calls: std::mem::take(&mut self.calls),
                hash,
            };
            self.write(&record);
        }
        report
    }

    /// Records and performs `end`.
    pub fn end(&mut self, reason: EndReason) {
        self.record(Call::End { reason });
        self.sim.end(reason);
    }

    /// Writes the final record, then flushes and fsyncs the replay.
    pub fn finish(&mut self) -> Option<PathBuf> {
        let record = Record::Final {
            calls: std::mem::take(&mut self.calls),
            tick: self.sim.tick(),
            hash: self.sim.state_hash(),
        };
        self.write(&record);
        let writer = self.writer.take()?;
        match writer.finish() {
            Ok(path) => Some(path),
            Err(e) => {
                warn!(error = %e, "cannot finish replay");
                None
            }
        }
    }

    fn write(&mut self, record: &Record) {
        if let Some(w) = &mut self.writer {
            if let Err(e) = w.write(record) {
                // A full disk must not stop the match; the replay is abandoned instead.
                warn!(path = %w.path.display(), error = %e, "replay write failed; recording stopped");
                self.writer = None;
            }
        }
    }
}

/// What a replay reproduced.
#[derive(Debug)]
pub struct ReplayOutcome {
    /// Match id.
    pub match_id: u64,
    /// Map name.
    pub map_name: String,
    /// Ticks re-simulated.
    pub ticks: u32,
    /// State hashes checked.
    pub hashes_checked: u32,
    /// Final results.
    pub results: Vec<PlayerResult>,
}

/// Re-simulates a replay file, checking every recorded hash; the first difference, corrupt
/// byte or truncation is an error naming the tick.
pub fn verify(path: &Path) -> Result<ReplayOutcome, ReplayError> {
    let mut reader = BufReader::new(File::open(path)?);
    let mut magic = [0u8; 8];
    reader
        .read_exact(&mut magic)
        .map_err(|_| ReplayError::BadMagic)?;
    if &magic != MAGIC {
        return Err(ReplayError::BadMagic);
    }
    let mut offset = MAGIC.len() as u64;
    let mut next = |tick: u32| -> Result<Option<Record>, ReplayError> {
        let mut head = [0u8; 8];
        match read_full(&mut reader, &mut head)? {
            0 => return Ok(None),
            8 => {}
            _ => return Err(ReplayError::Truncated { tick }),
        }
        let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        let corrupt = |reason: String| ReplayError::Corrupt {
            offset,
            tick,
            reason,
        };
        if len > codec::RECORD_LIMIT {
            return Err(corrupt(format!("record length {len} exceeds the limit")));
        }
        let mut payload = vec![0u8; len];
        if read_full(&mut reader, &mut payload)? != len {
            return Err(ReplayError::Truncated { tick });
        }
        if crc32fast::hash(&payload) != crc {
            return Err(corrupt("checksum mismatch".into()));
        }
        let record = codec::decode_record(&payload).map_err(|e| corrupt(e.to_string()))?;
        offset += 8 + len as u64;
        Ok(Some(record))
    };
    let Some(Record::Header {
        match_id,
        seed,
        map_name,
        game,
        map,
        ..
    }) = next(0)?
    else {
        return Err(ReplayError::BadHeader(
            "first record is not a header".into(),
        ));
    };
    let mut sim = Match::new(game, map, seed).map_err(|e| ReplayError::BadHeader(e.to_string()))?;
    let mut hashes_checked = 0;
    loop {
        let tick = sim.tick();
        match next(tick)? {
            None => return Err(ReplayError::Truncated { tick }),
            Some(Record::Header { .. }) => {
                return Err(ReplayError::Corrupt {
                    offset: 0,
                    tick,
                    reason: "second header".into(),
                });
            }
            Some(Record::Tick { calls, hash }) => {
                apply_calls(&mut sim, &calls)?;
                sim.step();
                if let Some(hash) = hash {
                    check_hash(&sim, sim.tick(), hash)?;
                    hashes_checked += 1;
                }
            }
            Some(Record::Final { calls, tick, hash }) => {
                apply_calls(&mut sim, &calls)?;
                check_hash(&sim, tick, hash)?;
                hashes_checked += 1;
                return Ok(ReplayOutcome {
                    match_id,
                    map_name,
                    ticks: sim.tick(),
                    hashes_checked,
                    results: sim.results(),
                });
            }
        }
    }
}

fn check_hash(sim: &Match, tick: u32, hash: u64) -> Result<(), ReplayError> {
    if sim.tick() != tick {
        return Err(ReplayError::Mismatch {
            tick: sim.tick(),
            what: format!("recording ended at tick {tick}"),
        });
    }
    let actual = sim.state_hash();
    if actual != hash {
        return Err(ReplayError::Mismatch {
            tick,
            what: format!("state hash {actual:016x}, recorded {hash:016x}"),
        });
    }
    Ok(())
}

fn apply_calls(sim: &mut Match, calls: &[Call]) -> Result<(), ReplayError> {
    for call in calls {
        match call {
            Call::Join { name, player } => {
                let got = sim.add_player(name).ok();
                if got != Some(*player) {
                    return Err(ReplayError::Mismatch {
                        tick: sim.tick(),
                        what: format!("join of {name:?} gave {got:?}, recorded player {player}"),
                    });
                }
            }
            Call::Leave { player } => {
                sim.remove_player(*player);
            }
            Call::Connected { player, connected } => sim.set_connected(*player, *connected),
            Call::Input { player, input } => {
                sim.push_input(*player, *input);
            }
            Call::End { reason } => sim.end(*reason),
        }
    }
    Ok(())
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}
