//! Durable match results: one JSON line per ended match in `results.jsonl`, appended and
//! fsynced before clients hear that the match ended.
//!
//! A crash can only tear the line being written; readers skip a last line that does not parse,
//! and every earlier line stays intact because the file is only ever appended to.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use tickwire_proto::msg::EndReason;

/// File name of the results log inside the data directory.
pub const RESULTS_FILE: &str = "results.jsonl";

/// The results log could not be opened or appended to; the message names the path.
#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    /// The data directory or the log could not be created, opened or repaired.
    #[error("cannot open results log {path}: {source}")]
    Open {
        /// The directory or file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A record could not be written or fsynced (a full disk, an I/O error).
    #[error("cannot append to results log {path}: {source}")]
    Append {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// One match's final record, as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchRecord {
    /// The match id.
    pub match_id: u64,
    /// The game's registered name (empty in lines written before games had names).
    #[serde(default)]
    pub game: String,
    /// Map name.
    pub map: String,
    /// Why it ended (`Aborted` when its simulation failed).
    pub reason: String,
    /// Unix time the match started, milliseconds.
    pub started_at_ms: u64,
    /// Unix time the match ended, milliseconds.
    pub ended_at_ms: u64,
    /// Ticks simulated.
    pub ticks: u32,
    /// Simulation rate, Hz.
    pub tick_rate: u16,
    /// The game's own results, as the game serialises them (arena: its players with their
    /// scores, best first).
    pub results: serde_json::Value,
}

/// The stored name of an end reason.
pub fn reason_name(reason: EndReason) -> &'static str {
    match reason {
        EndReason::TimeLimit => "time_limit",
        EndReason::ScoreLimit => "score_limit",
        EndReason::Admin => "admin",
        EndReason::Shutdown => "shutdown",
        EndReason::Abandoned => "abandoned",
        EndReason::Aborted => "aborted",
    }
}

/// The append-only results log.
#[derive(Debug)]
pub struct ResultsLog {
    path: PathBuf,
    file: Mutex<File>,
}

impl ResultsLog {
    /// Opens (creating) `results.jsonl` in `dir`, creating `dir` too.
    pub fn open(dir: &Path) -> Result<Self, ResultsError> {
        std::fs::create_dir_all(dir).map_err(|source| ResultsError::Open {
            path: dir.to_owned(),
            source,
        })?;
        let path = dir.join(RESULTS_FILE);
        let opened = OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(&path)
            .and_then(|mut file| {
                // A crash mid-write leaves a torn last line without its newline: end it, so the
                // next record starts on a line of its own and the torn one is skipped on read.
                if ends_torn(&mut file)? {
                    file.write_all(b"\n")?;
                    file.sync_data()?;
                }
                Ok(file)
            });
        match opened {
            Ok(file) => Ok(Self {
                path,
                file: Mutex::new(file),
            }),
            Err(source) => Err(ResultsError::Open { path, source }),
        }
    }

    /// The log's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one record as a single write and fsyncs it.
    pub fn append(&self, record: &MatchRecord) -> Result<(), ResultsError> {
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        serde_json::to_vec(record)
            .map_err(std::io::Error::other)
            .and_then(|mut line| {
                line.push(b'\n');
                file.write_all(&line)?;
                file.sync_data()
            })
            .map_err(|source| ResultsError::Append {
                path: self.path.clone(),
                source,
            })
    }

    /// The highest match id of a complete record in the log (0 when none). Reads the whole
    /// file: it runs once, at start.
    pub fn highest_match_id(&self) -> Result<u64, ResultsError> {
        let (records, _) = read_results(&self.path).map_err(|source| ResultsError::Open {
            path: self.path.clone(),
            source,
        })?;
        Ok(records.iter().map(|r| r.match_id).max().unwrap_or(0))
    }
}

/// Reads every complete record of a results log, skipping torn or corrupt lines; returns the
/// records and the number of lines skipped.
pub fn read_results(path: &Path) -> std::io::Result<(Vec<MatchRecord>, usize)> {
    let file = File::open(path)?;
    let mut records = Vec::new();
    let mut skipped = 0;
    for line in BufReader::new(file).split(b'\n') {
        let line = line?;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<MatchRecord>(&line) {
            Ok(r) => records.push(r),
            Err(_) => skipped += 1,
        }
    }
    Ok((records, skipped))
}

fn ends_torn(file: &mut File) -> std::io::Result<bool> {
    use std::io::{Read, Seek, SeekFrom};
    if file.metadata()?.len() == 0 {
        return Ok(false);
    }
    file.seek(SeekFrom::End(-1))?;
    let mut last = [0u8; 1];
    file.read_exact(&mut last)?;
    Ok(last[0] != b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: u64) -> MatchRecord {
        MatchRecord {
            match_id: id,
            map: "arena".into(),
            reason: "admin".into(),
            started_at_ms: 1,
            ended_at_ms: 2,
            ticks: 3,
            tick_rate: 30,
            game: "arena".into(),
            results: serde_json::json!([
                {"player_id": 1, "name": "ann", "score": 2, "kills": 2, "deaths": 0}
            ]),
        }
    }

    #[test]
    fn torn_lines_are_skipped_and_earlier_lines_survive() {
        let dir = std::env::temp_dir().join(format!("tw-results-{}", std::process::id()));
        let log = ResultsLog::open(&dir).unwrap();
        log.append(&record(1)).unwrap();
        // Simulate a crash mid-write: half a line with no newline.
        let full = serde_json::to_string(&record(2)).unwrap();
        OpenOptions::new()
            .append(true)
            .open(log.path())
            .unwrap()
            .write_all(&full.as_bytes()[..full.len() / 2])
            .unwrap();
        let (recs, skipped) = read_results(log.path()).unwrap();
        assert_eq!((recs.len(), skipped), (1, 1));
        // After a restart the next append is still readable.
        drop(log);
        let log = ResultsLog::open(&dir).unwrap();
        log.append(&record(3)).unwrap();
        let (recs, skipped) = read_results(log.path()).unwrap();
        assert_eq!(
            recs.iter().map(|r| r.match_id).collect::<Vec<_>>(),
            vec![1, 3]
        );
        assert_eq!(skipped, 1);
        assert_eq!(log.highest_match_id().unwrap(), 3);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_unusable_directory_is_an_error_naming_the_path() {
        let file = std::env::temp_dir().join(format!("tw-results-file-{}", std::process::id()));
        std::fs::write(&file, b"a regular file").unwrap();
        let err = ResultsLog::open(&file.join("data"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&file.join("data").display().to_string()),
            "{err}"
        );
        std::fs::remove_file(&file).unwrap();
    }
}
