//! Match ids that are unique for the life of a data directory, across restarts and crashes.
//!
//! The file [`MATCH_IDS_FILE`] in the data directory holds one decimal number: the next id not
//! yet leased. Ids are handed out from leased blocks of [`LEASE_BLOCK`]; a new block is made
//! durable (written to a temporary file, fsynced, renamed over the old one, directory fsynced)
//! before any id from it is used. A crash therefore only skips the unused rest of a block; an id
//! is never handed out twice. At start the counter is also raised past every id already found in
//! the data directory (results and replay files), so a lost or restored-from-backup counter file
//! cannot bring old ids back either.
//!
//! One server process owns a data directory at a time. A cluster can later give each instance a
//! disjoint id range (for example `instance << 48` as its floor, with a per-instance ceiling) by
//! passing that floor to [`MatchIds::open`]; the persisted counter stays per data directory.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// File name of the persisted "next unleased id" counter inside the data directory.
pub const MATCH_IDS_FILE: &str = "match_ids";
/// Ids leased per durable counter update: a crash skips at most this many ids.
pub const LEASE_BLOCK: u64 = 64;
/// The smallest match id ever handed out.
pub const FIRST_ID: u64 = 1;

/// Serialises leases of every allocator in this process, so that two servers sharing a data
/// directory in one process (tests do) never read the same counter value.
static LEASES: Mutex<()> = Mutex::new(());

/// Why a match id could not be allocated.
#[derive(Debug, thiserror::Error)]
pub enum MatchIdError {
    /// The counter file or its directory could not be read, written or fsynced.
    #[error("match id counter {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The counter file holds something other than a decimal number.
    #[error("match id counter {path} is corrupt (holds {content:?}); refusing to guess")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What it holds (at most 64 bytes of it).
        content: String,
    },
    /// Every id up to `u64::MAX` has been leased.
    #[error("match ids are exhausted")]
    Exhausted,
}

/// The allocator: ids leased from the counter file, handed out in increasing order.
#[derive(Debug)]
pub struct MatchIds {
    dir: PathBuf,
    path: PathBuf,
    block: Mutex<Block>,
}

/// The ids `next..end` are leased and not yet handed out.
#[derive(Debug)]
struct Block {
    next: u64,
    end: u64,
}

impl MatchIds {
    /// Opens the counter in `dir` (creating both) and leases a first block, so that an
    /// unusable data directory fails here, at start. No id below `floor` is handed out.
    pub fn open(dir: &Path, floor: u64) -> Result<Self, MatchIdError> {
        std::fs::create_dir_all(dir).map_err(|source| MatchIdError::Io {
            path: dir.to_owned(),
            source,
        })?;
        let floor = floor.max(FIRST_ID);
        let ids = Self {
            dir: dir.to_owned(),
            path: dir.join(MATCH_IDS_FILE),
            block: Mutex::new(Block {
                next: floor,
                end: floor,
            }),
        };
        {
            let mut block = ids.block.lock().unwrap_or_else(|e| e.into_inner());
            ids.lease(&mut block)?;
        }
        Ok(ids)
    }

    /// The counter file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The next id. Usually answers from memory; once per [`LEASE_BLOCK`] ids it writes and
    /// fsyncs the counter file first.
    pub fn next(&self) -> Result<u64, MatchIdError> {
        let mut block = self.block.lock().unwrap_or_else(|e| e.into_inner());
        if block.next >= block.end {
            self.lease(&mut block)?;
        }
        let id = block.next;
        block.next += 1;
        Ok(id)
    }

    /// Leases a new block starting at the larger of the persisted counter and `block.next`.
    fn lease(&self, block: &mut Block) -> Result<(), MatchIdError> {
        let _only_lease = LEASES.lock().unwrap_or_else(|e| e.into_inner());
        // Re-read every time: another allocator on this directory may have leased meanwhile.
        let start = self.read()?.unwrap_or(FIRST_ID).max(block.next);
        let end = start
            .checked_add(LEASE_BLOCK)
            .ok_or(MatchIdError::Exhausted)?;
        self.persist(end)?;
        *block = Block { next: start, end };
        Ok(())
    }

    fn read(&self) -> Result<Option<u64>, MatchIdError> {
        let bytes = match std::fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(MatchIdError::Io {
                    path: self.path.clone(),
                    source,
                });
            }
        };
        let text = String::from_utf8_lossy(&bytes);
        text.trim()
            .parse::<u64>()
            .map(Some)
            .map_err(|_| MatchIdError::Corrupt {
                path: self.path.clone(),
                content: text.chars().take(64).collect(),
            })
    }

    /// Makes `next_unleased` durable: temp file, fsync, rename, directory fsync. A crash at any
    /// point leaves either the old or the new counter, never a torn one.
    fn persist(&self, next_unleased: u64) -> Result<(), MatchIdError> {
        let tmp = self.path.with_extension("tmp");
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| MatchIdError::Io { path, source }
        };
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(io(&tmp))?;
        file.write_all(format!("{next_unleased}\n").as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(io(&tmp))?;
        drop(file);
        std::fs::rename(&tmp, &self.path).map_err(io(&self.path))?;
        sync_dir(&self.dir).map_err(io(&self.dir))
    }
}

/// Fsyncs a directory, making renames and new entries in it durable.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("tw-ids-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn ids_increase_across_reopen_and_never_repeat() {
        let d = dir("reopen");
        let ids = MatchIds::open(&d, 0).unwrap();
        let first: Vec<u64> = (0..3).map(|_| ids.next().unwrap()).collect();
        assert_eq!(first, vec![1, 2, 3]);
        drop(ids);
        // A "crash" after three ids: the rest of the block is skipped, nothing is reused.
        let ids = MatchIds::open(&d, 0).unwrap();
        let again = ids.next().unwrap();
        assert_eq!(again, FIRST_ID + LEASE_BLOCK);
        // Crossing a block boundary leases the next block.
        let many: Vec<u64> = (0..LEASE_BLOCK + 1).map(|_| ids.next().unwrap()).collect();
        assert!(many.windows(2).all(|w| w[1] == w[0] + 1), "{many:?}");
        let persisted: u64 = std::fs::read_to_string(ids.path())
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(persisted > *many.last().unwrap());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn the_floor_wins_over_a_lost_or_old_counter() {
        let d = dir("floor");
        let ids = MatchIds::open(&d, 500).unwrap();
        assert_eq!(ids.next().unwrap(), 500);
        drop(ids);
        std::fs::write(d.join(MATCH_IDS_FILE), "7\n").unwrap();
        let ids = MatchIds::open(&d, 900).unwrap();
        assert_eq!(ids.next().unwrap(), 900);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn two_allocators_on_one_directory_hand_out_disjoint_ids() {
        let d = dir("shared");
        let a = MatchIds::open(&d, 0).unwrap();
        let b = MatchIds::open(&d, 0).unwrap();
        let mut all: Vec<u64> = (0..2 * LEASE_BLOCK + 3)
            .flat_map(|_| [a.next().unwrap(), b.next().unwrap()])
            .collect();
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_corrupt_counter_is_an_error_naming_the_file() {
        let d = dir("corrupt");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join(MATCH_IDS_FILE), "twelve").unwrap();
        let err = MatchIds::open(&d, 0).unwrap_err().to_string();
        assert!(
            err.contains(MATCH_IDS_FILE) && err.contains("twelve"),
            "{err}"
        );
        std::fs::remove_dir_all(&d).unwrap();
    }
}
