//! Replays: every match writes the calls it makes into its simulation (joins, leaves, link
//! changes, inputs, requests, ends) tick by tick, with periodic state hashes, to `replays/{id}.bin`.
//! Because the simulation is deterministic, re-running the calls reproduces every hash.
//!
//! # Durability
//! A replay file is created with `create_new`, so an existing file is never truncated. The magic
//! and header are fsynced at creation, and the records written since are flushed and fsynced
//! every `server.replay_flush_interval_ms`, so a process killed mid-match leaves a prefix that
//! [`verify`] re-simulates up to its last complete record before reporting it truncated.
//!
//! # File format
//! The 8-byte magic [`MAGIC`], then records: a `u32` little-endian payload length, the
//! payload's CRC-32 (`u32` little-endian), and the payload, a [`Record`] encoded by
//! `tickwire_proto::codec::encode_record`. The first record is [`Record::Header`]. A record is
//! written per tick, so memory stays bounded by one tick's calls.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tickwire_proto::codec;
use tickwire_proto::msg::{ChatLine, EndReason, Input, PlayerResult, RequestRefusal};
use tickwire_sim::{
    Answer, Game, InputOutcome, JoinError, Match, MatchConfig, PlayerId, Refused, RequestConfig,
    RequestConfigError, StepReport,
};
use tracing::warn;

use crate::games::{Games, HostedGame};

/// The first bytes of every replay file.
pub const MAGIC: &[u8; 8] = b"TWRPLAY3";
/// Directory of the replay files inside the data directory.
pub const REPLAYS_DIR: &str = "replays";
/// Extension of a replay file, named `{match id}.bin`.
const REPLAY_EXT: &str = "bin";
/// Bytes of records buffered in memory between flushes (a flush also happens on the period).
const WRITE_BUFFER_BYTES: usize = 64 * 1024;

/// The replay file of match `id` under `data_dir`.
pub fn replay_path(data_dir: &Path, id: u64) -> PathBuf {
    data_dir
        .join(REPLAYS_DIR)
        .join(format!("{id}.{REPLAY_EXT}"))
}

/// The highest match id that has a replay file under `data_dir` (0 when none); files that are
/// not named like a replay are ignored.
pub fn highest_replay_id(data_dir: &Path) -> std::io::Result<u64> {
    let dir = data_dir.join(REPLAYS_DIR);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut highest = 0;
    for entry in entries {
        let path = entry?.path();
        if path.extension().and_then(|e| e.to_str()) != Some(REPLAY_EXT) {
            continue;
        }
        if let Some(id) = path
            .file_stem()
            .and_then(|s| s.to_str())
            .and_then(|s| s.parse::<u64>().ok())
        {
            highest = highest.max(id);
        }
    }
    Ok(highest)
}

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
        /// The input as received (its payload decoded as an input of the game).
        input: Input,
    },
    /// `end(reason)`.
    End {
        /// Why.
        reason: EndReason,
    },
    /// A chat line the match accepted and delivered. Chat does not change the state, so
    /// verifying checks only that each line falls on the tick it was recorded at, in order.
    Chat {
        /// The line as delivered.
        line: ChatLine,
    },
    /// `set_request_config(config)`, before the first step.
    RequestLimits {
        /// The limits.
        config: RequestConfig,
    },
    /// `push_request(player, id, payload)`, with the refusal it got at once (`None`: queued).
    Request {
        /// The sender.
        player: PlayerId,
        /// The client's id for it.
        id: u32,
        /// The payload as received.
        payload: Vec<u8>,
        /// The refusal sent at once, if any.
        refused: Option<RequestRefusal>,
    },
    /// The game's answer to a request, made by the step before this record's calls; verifying
    /// re-simulates it and compares.
    Answer {
        /// The sender.
        player: PlayerId,
        /// The client's id for it.
        id: u32,
        /// The reply payload or the game's refusal.
        result: Result<Vec<u8>, RequestRefusal>,
    },
}

/// One record of a replay file.
// The header is one record per file and a tick record is short-lived, so the size difference
// costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
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
        /// The game's registered name.
        game_name: String,
        /// Hash of the game's replication schema when it was recorded.
        schema_hash: u32,
        /// Map name.
        map_name: String,
        /// The engine's rules.
        game: MatchConfig,
        /// The game's setup of the match ([`HostedGame::Setup`]; arena: its rules and map) as
        /// JSON, which only the recorded game reads.
        setup: String,
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
    /// The file ends inside a record or before the end of the match (a crash or `kill -9`):
    /// everything up to the last complete record was re-simulated and its hashes matched.
    #[error(
        "replay is truncated after tick {tick} (the prefix re-simulated, {hashes_checked} state hashes matched)"
    )]
    Truncated {
        /// Last tick re-simulated.
        tick: u32,
        /// State hashes checked (and matched) in the prefix.
        hashes_checked: u32,
    },
    /// Bytes follow the final record: the file was appended to or two writers shared it.
    #[error("unexpected bytes after the final record, at byte {offset}")]
    TrailingBytes {
        /// Byte offset where the extra bytes begin.
        offset: u64,
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
    /// Creates `path`, which must not exist yet (an existing replay is never truncated: the
    /// error is then [`std::io::ErrorKind::AlreadyExists`]), and makes the magic and the header
    /// durable before returning.
    pub fn create(path: PathBuf, header: &Record) -> std::io::Result<Self> {
        let dir = path.parent().map(Path::to_owned);
        if let Some(dir) = &dir {
            std::fs::create_dir_all(dir)?;
        }
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)?;
        let mut w = Self {
            file: BufWriter::with_capacity(WRITE_BUFFER_BYTES, file),
            path,
            buf: Vec::new(),
        };
        w.file.write_all(MAGIC)?;
        w.write(header)?;
        w.sync()?;
        // The new directory entry must survive a crash too, or the fsynced bytes are lost.
        if let Some(dir) = &dir {
            crate::match_ids::sync_dir(dir)?;
        }
        Ok(w)
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record (buffered: durable after the next [`ReplayWriter::sync`]).
    pub fn write(&mut self, record: &Record) -> std::io::Result<()> {
        self.buf.clear();
        codec::encode_record(record, &mut self.buf).map_err(std::io::Error::other)?;
        let len = u32::try_from(self.buf.len()).map_err(std::io::Error::other)?;
        self.file.write_all(&len.to_le_bytes())?;
        self.file
            .write_all(&crc32fast::hash(&self.buf).to_le_bytes())?;
        self.file.write_all(&self.buf)
    }

    /// Flushes the buffer and fsyncs the file's data.
    pub fn sync(&mut self) -> std::io::Result<()> {
        self.file.flush()?;
        self.file.get_ref().sync_data()
    }

    /// Flushes and fsyncs the file.
    pub fn finish(mut self) -> std::io::Result<PathBuf> {
        self.sync()?;
        Ok(self.path)
    }
}

/// A [`Match`] whose every state-changing call is recorded into a replay.
pub struct RecordedMatch<G: HostedGame> {
    sim: Match<G>,
    writer: Option<ReplayWriter>,
    calls: Vec<Call>,
    hash_every: u32,
    flush_every: Duration,
    synced_at: Instant,
}

impl<G: HostedGame> RecordedMatch<G> {
    /// Wraps `sim`; with `writer` `None` nothing is recorded. A state hash is recorded every
    /// `hash_every` ticks; [`RecordedMatch::flush_due`] turns true `flush_every` after the last
    /// fsync.
    pub fn new(
        sim: Match<G>,
        writer: Option<ReplayWriter>,
        hash_every: u32,
        flush_every: Duration,
    ) -> Self {
        Self {
            sim,
            writer,
            calls: Vec::new(),
            hash_every: hash_every.max(1),
            flush_every,
            synced_at: Instant::now(),
        }
    }

    /// True when records are buffered for longer than the flush period: the caller should run
    /// [`RecordedMatch::flush`], off the tick's hot path (it fsyncs).
    pub fn flush_due(&self) -> bool {
        self.writer.is_some() && self.synced_at.elapsed() >= self.flush_every
    }

    /// Flushes and fsyncs the records written so far, so a crash keeps them; a failure abandons
    /// the recording (the file keeps its verifiable prefix).
    pub fn flush(&mut self) {
        self.synced_at = Instant::now();
        if let Some(w) = &mut self.writer {
            if let Err(e) = w.sync() {
                warn!(path = %w.path.display(), error = %e, "replay flush failed; recording stopped");
                self.writer = None;
            }
        }
    }

    /// The simulation, for reading.
    pub fn sim(&self) -> &Match<G> {
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

    /// Records and performs `set_request_config` (before the first step, so a replay applies
    /// the same limits).
    pub fn set_request_config(&mut self, config: RequestConfig) -> Result<(), RequestConfigError> {
        self.sim.set_request_config(config.clone())?;
        self.record(Call::RequestLimits { config });
        Ok(())
    }

    /// Records and performs `push_request`, with the refusal it got at once.
    pub fn push_request(
        &mut self,
        player: PlayerId,
        id: u32,
        payload: &[u8],
    ) -> Result<(), Refused> {
        let outcome = self.sim.push_request(player, id, payload);
        self.record(Call::Request {
            player,
            id,
            payload: payload.to_vec(),
            refused: outcome.as_ref().err().map(|r| r.refusal.clone()),
        });
        outcome
    }

    /// Decodes the input's payload as the game's input, then records and performs
    /// `push_input`; `None` (nothing recorded) when the payload is not an input of the game.
    pub fn push_input(&mut self, player: PlayerId, input: Input) -> Option<InputOutcome> {
        let decoded = G::decode_input(input.payload.as_bytes())?;
        self.record(Call::Input { player, input });
        Some(self.sim.push_input(player, input.seq, decoded))
    }

    /// Performs `step` and writes this tick's record.
    pub fn step(&mut self) -> StepReport<G::Event> {
        let report = self.sim.step();
        if self.writer.is_some() {
            let hash = (report.tick % self.hash_every == 0).then(|| self.sim.state_hash());
            let record = Record::Tick {
                calls: std::mem::take(&mut self.calls),
                hash,
            };
            self.write(&record);
            // Made by this step, so filed with the next record's calls (and checked there).
            self.calls
                .extend(report.answers.iter().map(|a: &Answer| Call::Answer {
                    player: a.player,
                    id: a.id,
                    result: a.result.clone(),
                }));
        }
        report
    }

    /// Records a delivered chat line (it makes no call into the simulation).
    pub fn record_chat(&mut self, line: &ChatLine) {
        self.record(Call::Chat { line: line.clone() });
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
    /// Chat lines replayed, each at its recorded tick and in order.
    pub chat_lines: u32,
    /// Requests replayed, each refused or queued as recorded.
    pub requests: u32,
    /// Answers to requests re-simulated, each equal to the recorded one.
    pub answers: u32,
    /// Final results.
    pub results: Vec<PlayerResult>,
}

/// Reads the records of a replay file one by one, tracking the byte offset.
pub(crate) struct RecordReader {
    reader: BufReader<File>,
    offset: u64,
}

impl RecordReader {
    /// Opens `path` and checks the magic.
    fn open(path: &Path) -> Result<Self, ReplayError> {
        let mut reader = BufReader::new(File::open(path)?);
        let mut magic = [0u8; 8];
        reader
            .read_exact(&mut magic)
            .map_err(|_| ReplayError::BadMagic)?;
        if &magic != MAGIC {
            return Err(ReplayError::BadMagic);
        }
        Ok(Self {
            reader,
            offset: MAGIC.len() as u64,
        })
    }

    /// The next complete record; `Ok(None)` at the end of the file or inside a record that the
    /// file ends in (a torn tail). `tick` names the position in corruption errors.
    fn next(&mut self, tick: u32) -> Result<Option<Record>, ReplayError> {
        let mut head = [0u8; 8];
        if read_full(&mut self.reader, &mut head)? != head.len() {
            return Ok(None);
        }
        let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        let offset = self.offset;
        let corrupt = |reason: String| ReplayError::Corrupt {
            offset,
            tick,
            reason,
        };
        if len > codec::RECORD_LIMIT {
            return Err(corrupt(format!("record length {len} exceeds the limit")));
        }
        let mut payload = vec![0u8; len];
        if read_full(&mut self.reader, &mut payload)? != len {
            return Ok(None);
        }
        if crc32fast::hash(&payload) != crc {
            return Err(corrupt("checksum mismatch".into()));
        }
        let record = codec::decode_record(&payload).map_err(|e| corrupt(e.to_string()))?;
        self.offset += 8 + len as u64;
        Ok(Some(record))
    }

    /// True when no byte follows the records read so far.
    fn at_end(&mut self) -> Result<bool, ReplayError> {
        let mut byte = [0u8; 1];
        Ok(read_full(&mut self.reader, &mut byte)? == 0)
    }
}

/// Re-simulates a replay file, checking every recorded hash; the first difference, corrupt
/// byte or truncation is an error naming the tick. A file that ends early (a crash) is
/// re-simulated and hash-checked up to its last complete record first, then reported as
/// [`ReplayError::Truncated`] at that tick; bytes after the final record are
/// [`ReplayError::TrailingBytes`].
pub fn verify(path: &Path, games: &Games) -> Result<ReplayOutcome, ReplayError> {
    let mut records = RecordReader::open(path)?;
    let header = match records.next(0)? {
        Some(header) => header,
        None => {
            return Err(ReplayError::Truncated {
                tick: 0,
                hashes_checked: 0,
            });
        }
    };
    let Record::Header {
        match_id,
        seed,
        game_name,
        schema_hash,
        map_name,
        game,
        setup,
        ..
    } = header
    else {
        return Err(ReplayError::BadHeader(
            "first record is not a header".into(),
        ));
    };
    let Some(hosted) = games.get(Some(&game_name)) else {
        return Err(ReplayError::BadHeader(format!(
            "recorded game {game_name:?} is not registered in this binary (it hosts {})",
            games.names()
        )));
    };
    let ours = hosted.schema().hash();
    if schema_hash != ours {
        return Err(ReplayError::BadHeader(format!(
            "recorded with {game_name} schema {schema_hash:08x}, this binary's is {ours:08x}"
        )));
    }
    let header = HeaderInfo {
        match_id,
        seed,
        map_name,
        game,
        setup,
    };
    hosted.verify(header, records)
}

/// What a replay's header says, once its game is known.
pub(crate) struct HeaderInfo {
    match_id: u64,
    seed: u64,
    map_name: String,
    game: MatchConfig,
    setup: String,
}

/// [`verify`] for a replay of `G`, its header read.
pub(crate) fn verify_game<G: HostedGame>(
    header: HeaderInfo,
    mut records: RecordReader,
) -> Result<ReplayOutcome, ReplayError> {
    let HeaderInfo {
        match_id,
        seed,
        map_name,
        game,
        setup,
    } = header;
    let setup: G::Setup = serde_json::from_str(&setup)
        .map_err(|e| ReplayError::BadHeader(format!("the game's setup: {e}")))?;
    let built = G::create(&game, &setup, seed).map_err(ReplayError::BadHeader)?;
    let mut sim = Match::new(game, built).map_err(|e| ReplayError::BadHeader(e.to_string()))?;
    let mut hashes_checked = 0;
    let mut chat = ChatCheck::default();
    let mut requests = RequestCheck::default();
    loop {
        let tick = sim.tick();
        let record_offset = records.offset;
        match records.next(tick)? {
            None => {
                return Err(ReplayError::Truncated {
                    tick,
                    hashes_checked,
                });
            }
            Some(Record::Header { .. }) => {
                return Err(ReplayError::Corrupt {
                    offset: record_offset,
                    tick,
                    reason: "second header".into(),
                });
            }
            Some(Record::Tick { calls, hash }) => {
                apply_calls(&mut sim, &calls, &mut chat, &mut requests)?;
                requests.all_answered(tick)?;
                let report = sim.step();
                requests.pending.extend(report.answers);
                if let Some(hash) = hash {
                    check_hash(&sim, sim.tick(), hash)?;
                    hashes_checked += 1;
                }
            }
            Some(Record::Final { calls, tick, hash }) => {
                apply_calls(&mut sim, &calls, &mut chat, &mut requests)?;
                requests.all_answered(tick)?;
                check_hash(&sim, tick, hash)?;
                hashes_checked += 1;
                if !records.at_end()? {
                    return Err(ReplayError::TrailingBytes {
                        offset: records.offset,
                    });
                }
                return Ok(ReplayOutcome {
                    match_id,
                    map_name,
                    ticks: sim.tick(),
                    hashes_checked,
                    chat_lines: chat.lines,
                    requests: requests.requests,
                    answers: requests.answers,
                    results: G::player_results(&sim.results()),
                });
            }
        }
    }
}

fn check_hash<G: Game>(sim: &Match<G>, tick: u32, hash: u64) -> Result<(), ReplayError> {
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

/// What verifying has seen of the chat so far.
#[derive(Default)]
struct ChatCheck {
    /// Lines seen.
    lines: u32,
    /// Sequence number of the last line seen (0: none).
    last_seq: u32,
}

/// What verifying has seen of the requests so far.
#[derive(Default)]
struct RequestCheck {
    /// Requests replayed.
    requests: u32,
    /// Answers compared.
    answers: u32,
    /// Answers the last step made that the recording has not shown yet.
    pending: VecDeque<Answer>,
}

impl RequestCheck {
    /// Fails when the last step answered a request that the recording does not have.
    fn all_answered(&self, tick: u32) -> Result<(), ReplayError> {
        match self.pending.front() {
            None => Ok(()),
            Some(a) => Err(ReplayError::Mismatch {
                tick,
                what: format!(
                    "request {} of player {} was answered, the recording has no answer",
                    a.id, a.player
                ),
            }),
        }
    }
}

fn apply_calls<G: HostedGame>(
    sim: &mut Match<G>,
    calls: &[Call],
    chat: &mut ChatCheck,
    requests: &mut RequestCheck,
) -> Result<(), ReplayError> {
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
                // Only decodable inputs are recorded, so one that is not is a corrupt replay.
                let Some(decoded) = G::decode_input(input.payload.as_bytes()) else {
                    return Err(ReplayError::Mismatch {
                        tick: sim.tick(),
                        what: format!("recorded input {input:?} is not an input of the game"),
                    });
                };
                sim.push_input(*player, input.seq, decoded);
            }
            Call::End { reason } => sim.end(*reason),
            Call::Chat { line } => {
                if line.tick != sim.tick() || line.seq != chat.last_seq.wrapping_add(1) {
                    return Err(ReplayError::Mismatch {
                        tick: sim.tick(),
                        what: format!(
                            "chat line {} of tick {} after line {}",
                            line.seq, line.tick, chat.last_seq
                        ),
                    });
                }
                chat.last_seq = line.seq;
                chat.lines += 1;
            }
            Call::RequestLimits { config } => {
                sim.set_request_config(config.clone())
                    .map_err(|e| ReplayError::Mismatch {
                        tick: sim.tick(),
                        what: format!("recorded request limits are invalid: {e}"),
                    })?;
            }
            Call::Request {
                player,
                id,
                payload,
                refused,
            } => {
                let got = sim
                    .push_request(*player, *id, payload)
                    .err()
                    .map(|r| r.refusal);
                if &got != refused {
                    return Err(ReplayError::Mismatch {
                        tick: sim.tick(),
                        what: format!(
                            "request {id} of player {player} got {got:?}, recorded {refused:?}"
                        ),
                    });
                }
                requests.requests += 1;
            }
            Call::Answer { player, id, result } => {
                let expected = Answer {
                    player: *player,
                    id: *id,
                    result: result.clone(),
                };
                let got = requests.pending.pop_front();
                if got.as_ref() != Some(&expected) {
                    return Err(ReplayError::Mismatch {
                        tick: sim.tick(),
                        what: format!("answer {got:?}, recorded {expected:?}"),
                    });
                }
                requests.answers += 1;
            }
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

#[cfg(test)]
mod tests {
    use tickwire_arena::{ArenaConfig, MapDef, new_match};

    use super::*;

    #[test]
    fn a_recorded_input_is_its_seq_ack_and_game_payload() {
        let input = tickwire_arena::ArenaInput {
            move_x: 127,
            move_y: -127,
            aim: 64,
            buttons: 1,
        }
        .message(300, 299);
        let call = Call::Input { player: 1, input };
        let mut bytes = Vec::new();
        codec::encode_record(&call, &mut bytes).unwrap();
        // Variant 3, player 1, seq, ack, then the payload's length and arena's four bytes.
        assert_eq!(
            bytes,
            [
                3, 1, 0xfb, 0x2c, 0x01, 0xfb, 0x2b, 0x01, 4, 0x7f, 0x81, 0x40, 0x01
            ]
        );
        assert_eq!(codec::decode_record::<Call>(&bytes), Ok(call));
    }

    #[test]
    fn an_input_that_is_not_the_games_is_neither_recorded_nor_applied() {
        let sim = new_match(
            MatchConfig::default(),
            ArenaConfig::default(),
            MapDef::open_arena(1000, 1000),
            1,
        )
        .unwrap();
        let mut m = RecordedMatch::new(sim, None, 1, Duration::from_secs(1));
        let p = m.add_player("ann").unwrap();
        let three = Input {
            seq: 1,
            ack: 0,
            payload: [1, 2, 3].into(),
        };
        assert_eq!(m.push_input(p, three), None);
        assert_eq!(m.sim().queued_inputs(p), 0);
        let four = Input {
            payload: [1, 2, 3, 4].into(),
            ..three
        };
        assert_eq!(m.push_input(p, four), Some(InputOutcome::Queued));
    }

    /// The games of the default configuration.
    fn games() -> Games {
        crate::games::builtin(&crate::Config::default()).unwrap()
    }

    /// Arena's setup on `map` with its default rules, as a header records it.
    fn setup_json(map: &MapDef) -> String {
        serde_json::to_string(&crate::games::arena::ArenaSetup {
            arena: ArenaConfig::default(),
            map: map.clone(),
        })
        .unwrap()
    }

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("tw-replay-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    /// Records a two-player match of `ticks` ticks with inputs into `path`; returns the file's
    /// bytes.
    fn record(path: &Path, ticks: u32) -> Vec<u8> {
        let game = MatchConfig::default();
        let map = MapDef::open_arena(1000, 1000);
        let header = Record::Header {
            match_id: 1,
            seed: 42,
            started_at_ms: 0,
            game_name: "arena".into(),
            schema_hash: tickwire_arena::schema::schema_hash(),
            map_name: "open-arena".into(),
            game: game.clone(),
            setup: setup_json(&map),
        };
        let writer = ReplayWriter::create(path.to_owned(), &header).unwrap();
        let sim = new_match(game, ArenaConfig::default(), map, 42).unwrap();
        let mut m = RecordedMatch::new(sim, Some(writer), 10, Duration::from_secs(3600));
        let a = m.add_player("ann").unwrap();
        let b = m.add_player("bob").unwrap();
        for i in 0..ticks {
            for (p, dx) in [(a, 90i8), (b, -90)] {
                let input = tickwire_arena::ArenaInput {
                    move_x: dx,
                    move_y: (i % 5) as i8 * 20,
                    aim: (i * 7) as u8,
                    buttons: (i % 2) as u8,
                };
                m.push_input(p, input.message(i + 1, i));
            }
            m.step();
        }
        m.end(EndReason::Admin);
        m.finish().unwrap();
        std::fs::read(path).unwrap()
    }

    #[test]
    fn a_replay_of_another_game_or_schema_is_refused_by_name() {
        let d = dir("foreign");
        for (name, hash, want) in [
            (
                "chess",
                tickwire_arena::schema::schema_hash(),
                "\"chess\" is not registered",
            ),
            ("arena", 0, "schema 00000000"),
        ] {
            let path = d.join(format!("{name}-{hash}.bin"));
            let header = Record::Header {
                match_id: 1,
                seed: 7,
                started_at_ms: 0,
                game_name: name.into(),
                schema_hash: hash,
                map_name: "open-arena".into(),
                game: MatchConfig::default(),
                setup: setup_json(&MapDef::open_arena(1000, 1000)),
            };
            drop(ReplayWriter::create(path.clone(), &header).unwrap());
            match verify(&path, &games()) {
                Err(ReplayError::BadHeader(m)) => assert!(m.contains(want), "{m}"),
                other => panic!("{other:?}"),
            }
        }
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_whole_replay_verifies_and_appended_bytes_are_rejected() {
        let d = dir("trailing");
        let path = d.join("1.bin");
        let bytes = record(&path, 60);
        let outcome = verify(&path, &games()).unwrap();
        assert_eq!((outcome.ticks, outcome.hashes_checked), (60, 7));
        let mut longer = bytes.clone();
        longer.extend_from_slice(b"junk");
        std::fs::write(&path, &longer).unwrap();
        match verify(&path, &games()) {
            Err(ReplayError::TrailingBytes { offset }) => assert_eq!(offset, bytes.len() as u64),
            other => panic!("{other:?}"),
        }
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_cut_replay_is_resimulated_up_to_its_last_complete_record() {
        let d = dir("cut");
        let path = d.join("1.bin");
        let bytes = record(&path, 60);
        let cut = d.join("cut.bin");
        // Every cut point: never a panic, never success, always the prefix re-simulated.
        let mut best = (0, 0);
        for len in 0..bytes.len() {
            std::fs::write(&cut, &bytes[..len]).unwrap();
            match verify(&cut, &games()) {
                Err(ReplayError::BadMagic) => assert!(len < MAGIC.len()),
                Err(ReplayError::Truncated {
                    tick,
                    hashes_checked,
                }) => {
                    assert!(tick >= best.0 && hashes_checked >= best.1, "at {len}");
                    assert_eq!(hashes_checked, tick / 10, "at {len}: every hash checked");
                    best = (tick, hashes_checked);
                }
                other => panic!("cut at {len}: {other:?}"),
            }
        }
        // Cut inside the final record: all 60 ticks were re-simulated and their 6 hashes checked.
        assert_eq!(best, (60, 6));
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn an_existing_replay_is_never_truncated() {
        let d = dir("exists");
        let path = d.join("1.bin");
        let bytes = record(&path, 5);
        let header = Record::Tick {
            calls: Vec::new(),
            hash: None,
        };
        let err = ReplayWriter::create(path.clone(), &header).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&path).unwrap(), bytes);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn the_magic_and_header_reach_the_file_at_creation() {
        let d = dir("created");
        let path = d.join("1.bin");
        let header = Record::Header {
            match_id: 1,
            seed: 7,
            started_at_ms: 0,
            game_name: "arena".into(),
            schema_hash: tickwire_arena::schema::schema_hash(),
            map_name: "open-arena".into(),
            game: MatchConfig::default(),
            setup: setup_json(&MapDef::open_arena(1000, 1000)),
        };
        let writer = ReplayWriter::create(path.clone(), &header).unwrap();
        // Still open and never flushed by the caller, as after a `kill -9` right at the start.
        assert!(matches!(
            verify(&path, &games()),
            Err(ReplayError::Truncated {
                tick: 0,
                hashes_checked: 0
            })
        ));
        drop(writer);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn the_highest_replay_id_ignores_other_files() {
        let d = dir("highest");
        assert_eq!(highest_replay_id(&d).unwrap(), 0);
        let replays = d.join(REPLAYS_DIR);
        std::fs::create_dir_all(&replays).unwrap();
        for name in ["3.bin", "12.bin", "99.tmp", "x.bin", "7.bin"] {
            std::fs::write(replays.join(name), b"").unwrap();
        }
        assert_eq!(highest_replay_id(&d).unwrap(), 12);
        assert_eq!(replay_path(&d, 12), replays.join("12.bin"));
        std::fs::remove_dir_all(&d).unwrap();
    }
}
