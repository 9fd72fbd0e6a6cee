//! Every running match by id, and placement of joining players into them.
//!
//! Placement never waits on a match task: a seat is reserved with an atomic compare-and-swap on
//! the match's seat counter, then the join is sent to the match's mailbox.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use dashmap::DashMap;
use tokio::sync::mpsc;

use crate::match_ids::{MatchIdError, MatchIds};
use crate::match_loop::MatchCmd;

pub use crate::match_loop::MatchShared;

/// A running match as the rest of the server sees it.
#[derive(Clone, Debug)]
pub struct MatchHandle {
    /// Shared counters.
    pub shared: Arc<MatchShared>,
    /// The match task's mailbox.
    pub tx: mpsc::Sender<MatchCmd>,
}

/// Why no match could be added.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The server runs its maximum of matches.
    #[error("the server runs its maximum of matches")]
    AtCapacity,
    /// No match id could be allocated (the data directory failed).
    #[error(transparent)]
    Ids(#[from] MatchIdError),
}

/// All running matches.
#[derive(Debug)]
pub struct Registry {
    matches: DashMap<u64, MatchHandle>,
    ids: MatchIds,
    /// Serialises match creation so a burst of joins fills one new match, not many.
    create_lock: std::sync::Mutex<()>,
}

impl Registry {
    /// An empty registry whose new matches take their ids from `ids`.
    pub fn new(ids: MatchIds) -> Self {
        Self {
            matches: DashMap::new(),
            ids,
            create_lock: std::sync::Mutex::new(()),
        }
    }

    /// The match with this id.
    pub fn get(&self, id: u64) -> Option<MatchHandle> {
        self.matches.get(&id).map(|m| m.clone())
    }

    /// Number of running matches.
    pub fn len(&self) -> usize {
        self.matches.len()
    }

    /// True when no match runs.
    pub fn is_empty(&self) -> bool {
        self.matches.is_empty()
    }

    /// Every match, ordered by id.
    pub fn all(&self) -> Vec<MatchHandle> {
        let mut v: Vec<_> = self.matches.iter().map(|m| m.clone()).collect();
        v.sort_by_key(|m| m.shared.id);
        v
    }

    /// Reserves a seat in the open match of `game` with the fewest free seats (so matches fill
    /// up), oldest first among equals.
    pub fn reserve_any(&self, game: &str) -> Option<MatchHandle> {
        let mut candidates: Vec<_> = self
            .matches
            .iter()
            .filter(|m| m.shared.game == game && m.shared.open.load(Ordering::Acquire))
            .map(|m| m.clone())
            .collect();
        candidates.sort_by_key(|m| {
            let free = m
                .shared
                .max_seats
                .saturating_sub(m.shared.seats.load(Ordering::Acquire));
            (free, m.shared.id)
        });
        candidates.into_iter().find(|m| m.shared.try_reserve())
    }

    /// Runs `create` under the creation lock unless a seat can be reserved in an existing match
    /// of `game` meanwhile; `create` returns the new match with one seat already reserved.
    pub fn reserve_or_create<E: From<RegistryError>>(
        &self,
        game: &str,
        max_matches: usize,
        create: impl FnOnce(u64) -> Result<MatchHandle, E>,
    ) -> Result<MatchHandle, E> {
        if let Some(m) = self.reserve_any(game) {
            return Ok(m);
        }
        let _guard = self.create_lock.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(m) = self.reserve_any(game) {
            return Ok(m);
        }
        self.insert_new(max_matches, create)
    }

    /// Creates a match without reserving in existing ones (admin API).
    pub fn create<E: From<RegistryError>>(
        &self,
        max_matches: usize,
        create: impl FnOnce(u64) -> Result<MatchHandle, E>,
    ) -> Result<MatchHandle, E> {
        let _guard = self.create_lock.lock().unwrap_or_else(|e| e.into_inner());
        self.insert_new(max_matches, create)
    }

    /// Allocates an id and inserts the match `create` builds; the caller holds the creation
    /// lock.
    fn insert_new<E: From<RegistryError>>(
        &self,
        max_matches: usize,
        create: impl FnOnce(u64) -> Result<MatchHandle, E>,
    ) -> Result<MatchHandle, E> {
        if self.matches.len() >= max_matches {
            return Err(RegistryError::AtCapacity.into());
        }
        let id = self.ids.next().map_err(RegistryError::from)?;
        let handle = create(id)?;
        self.matches.insert(id, handle.clone());
        Ok(handle)
    }

    /// Removes a match once its task has ended.
    pub fn remove(&self, id: u64) {
        self.matches.remove(&id);
    }
}
