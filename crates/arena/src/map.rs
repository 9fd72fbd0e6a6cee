//! The static map: arena size, walls and spawn points.

use serde::{Deserialize, Serialize};
use tickwire_proto::msg::{MapInfo, WallRect};

/// Largest accepted arena side, world units.
pub const MAX_MAP_SIZE: u32 = 100_000;
/// Most walls a map may have; every projectile is tested against every wall.
pub const MAX_WALLS: usize = 1024;
/// Most spawn points a map may have.
pub const MAX_SPAWNS: usize = 4096;
/// Name of [`MapDef::open_arena`]'s maps, as the Welcome reports it and as a match is created
/// with (`POST /matches {"map": "open-arena"}`).
pub const OPEN_ARENA_NAME: &str = "open-arena";
/// Name of [`MapDef::big_arena`]'s maps, as the Welcome reports it and as a match is created with.
pub const BIG_ARENA_NAME: &str = "big-map";

/// A map definition as loaded from a TOML file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MapDef {
    /// Map name shown to clients.
    pub name: String,
    /// Arena width, world units (1..=100_000).
    pub width: u32,
    /// Arena height, world units (1..=100_000).
    pub height: u32,
    /// Side of one cell of the spatial grid, world units (1..=max(width, height)).
    pub cell_size: u32,
    /// Solid axis-aligned walls, world units; each lies inside the arena.
    pub walls: Vec<WallRect>,
    /// Spawn points `[x, y]`, world units; at least one, inside the arena and outside walls.
    pub spawns: Vec<[f32; 2]>,
}

/// Why a [`MapDef`] was refused.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum MapError {
    /// Width or height is 0 or larger than [`MAX_MAP_SIZE`].
    #[error("map size {width}x{height} is outside 1..={MAX_MAP_SIZE}")]
    Size {
        /// The refused width, world units.
        width: u32,
        /// The refused height, world units.
        height: u32,
    },
    /// The cell size is 0 or larger than the arena.
    #[error("cell_size {0} must be within 1..=max(width, height)")]
    CellSize(u32),
    /// More than [`MAX_WALLS`] walls.
    #[error("{0} walls exceed the limit of {MAX_WALLS}")]
    TooManyWalls(usize),
    /// More than [`MAX_SPAWNS`] spawn points.
    #[error("{0} spawn points exceed the limit of {MAX_SPAWNS}")]
    TooManySpawns(usize),
    /// A wall has no area or reaches outside the arena.
    #[error("wall {index} ({wall:?}) is empty or outside the arena")]
    BadWall {
        /// Index of the wall in `walls`.
        index: usize,
        /// The wall.
        wall: WallRect,
    },
    /// The map has no spawn point.
    #[error("the map has no spawn point")]
    NoSpawns,
    /// A spawn point is not finite or lies outside the arena.
    #[error("spawn {index} ({x}, {y}) is not finite or outside the arena")]
    BadSpawn {
        /// Index of the spawn in `spawns`.
        index: usize,
        /// X, world units.
        x: f32,
        /// Y, world units.
        y: f32,
    },
    /// A spawn point lies inside (or on the edge of) a wall.
    #[error("spawn {index} lies inside wall {wall}")]
    SpawnInWall {
        /// Index of the spawn in `spawns`.
        index: usize,
        /// Index of the wall in `walls`.
        wall: usize,
    },
}

impl MapDef {
    /// Checks the map is usable: sane size, walls inside the arena, at least one spawn, every
    /// spawn finite, inside the arena and outside every wall.
    pub fn validate(&self) -> Result<(), MapError> {
        let size_ok = |v: u32| (1..=MAX_MAP_SIZE).contains(&v);
        if !size_ok(self.width) || !size_ok(self.height) {
            return Err(MapError::Size {
                width: self.width,
                height: self.height,
            });
        }
        if self.cell_size == 0 || self.cell_size > self.width.max(self.height) {
            return Err(MapError::CellSize(self.cell_size));
        }
        if self.walls.len() > MAX_WALLS {
            return Err(MapError::TooManyWalls(self.walls.len()));
        }
        if self.spawns.len() > MAX_SPAWNS {
            return Err(MapError::TooManySpawns(self.spawns.len()));
        }
        for (index, wall) in self.walls.iter().enumerate() {
            // i64 so that hostile values near i32::MAX cannot overflow the sums.
            let (x, y, w, h) = (
                i64::from(wall.x),
                i64::from(wall.y),
                i64::from(wall.w),
                i64::from(wall.h),
            );
            let inside = x >= 0
                && y >= 0
                && w > 0
                && h > 0
                && x + w <= i64::from(self.width)
                && y + h <= i64::from(self.height);
            if !inside {
                return Err(MapError::BadWall { index, wall: *wall });
            }
        }
        if self.spawns.is_empty() {
            return Err(MapError::NoSpawns);
        }
        for (index, &[x, y]) in self.spawns.iter().enumerate() {
            let inside = x.is_finite()
                && y.is_finite()
                && x >= 0.0
                && y >= 0.0
                && x <= self.width as f32
                && y <= self.height as f32;
            if !inside {
                return Err(MapError::BadSpawn { index, x, y });
            }
            if let Some(wall) = self.walls.iter().position(|w| {
                x >= w.x as f32
                    && x <= (w.x + w.w) as f32
                    && y >= w.y as f32
                    && y <= (w.y + w.h) as f32
            }) {
                return Err(MapError::SpawnInWall { index, wall });
            }
        }
        Ok(())
    }

    /// The part of the map clients need, for the Welcome.
    pub fn info(&self) -> MapInfo {
        MapInfo {
            name: self.name.clone(),
            width: self.width,
            height: self.height,
            walls: self.walls.clone(),
        }
    }

    /// A wall-less arena of `width` x `height` world units, named [`OPEN_ARENA_NAME`], with a grid of spawn points (one per
    /// 250 units of side, 2 to 16 per axis) and a cell size of 100 units (or the arena side when
    /// smaller).
    pub fn open_arena(width: u32, height: u32) -> MapDef {
        let per_axis = |side: u32| (side / 250).clamp(2, 16);
        let (nx, ny) = (per_axis(width), per_axis(height));
        let mut spawns = Vec::with_capacity((nx * ny) as usize);
        for j in 0..ny {
            for i in 0..nx {
                let x = (i as f32 + 0.5) * width as f32 / nx as f32;
                let y = (j as f32 + 0.5) * height as f32 / ny as f32;
                spawns.push([x, y]);
            }
        }
        MapDef {
            name: OPEN_ARENA_NAME.to_owned(),
            width,
            height,
            cell_size: 100.min(width.max(height)).max(1),
            walls: Vec::new(),
            spawns,
        }
    }

    /// A wall-less square arena for `players` players at a uniform density such that each sees
    /// about `visible` others within `view_radius` world units (ignoring the edges, where they
    /// see fewer): side = √(players·π·view_radius² / visible), at least 2·`view_radius` and at
    /// most [`MAX_MAP_SIZE`]. Spawn points form a uniform grid of about one per player (at most
    /// [`MAX_SPAWNS`]); the cell size is half the view radius, so a radius query visits about
    /// 25 cells. Used by the "big-map" load scenario.
    pub fn big_arena(players: u32, visible: u32, view_radius: f32) -> MapDef {
        let r = if view_radius.is_finite() {
            f64::from(view_radius.max(1.0))
        } else {
            1.0
        };
        let area =
            f64::from(players.max(1)) * std::f64::consts::PI * r * r / f64::from(visible.max(1));
        let side = area
            .sqrt()
            .max(2.0 * r)
            .clamp(1.0, f64::from(MAX_MAP_SIZE))
            .round() as u32;
        let per_axis = (f64::from(players.max(1)).sqrt().ceil() as u32)
            .clamp(1, (MAX_SPAWNS as f64).sqrt() as u32);
        let step = side as f32 / per_axis as f32;
        let mut spawns = Vec::with_capacity((per_axis * per_axis) as usize);
        for j in 0..per_axis {
            for i in 0..per_axis {
                spawns.push([(i as f32 + 0.5) * step, (j as f32 + 0.5) * step]);
            }
        }
        MapDef {
            name: BIG_ARENA_NAME.to_owned(),
            width: side,
            height: side,
            cell_size: ((r / 2.0).round() as u32).clamp(1, side),
            walls: Vec::new(),
            spawns,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_arena_parses_and_validates() {
        let map: MapDef = toml::from_str(include_str!("../../../assets/maps/arena.toml")).unwrap();
        map.validate().unwrap();
        assert_eq!((map.width, map.height, map.cell_size), (1000, 1000, 100));
        assert_eq!(map.spawns.len(), 8);
        assert!((6..=10).contains(&map.walls.len()));
        // Every spawn leaves room for a default player (radius 16) without touching a wall.
        let r = crate::ArenaConfig::default().player_radius;
        for &[x, y] in &map.spawns {
            for w in &map.walls {
                let cx = x.clamp(w.x as f32, (w.x + w.w) as f32);
                let cy = y.clamp(w.y as f32, (w.y + w.h) as f32);
                assert!((x - cx).hypot(y - cy) > r, "spawn {x},{y} touches {w:?}");
            }
            assert!(x > r && y > r && x < 1000.0 - r && y < 1000.0 - r);
        }
    }

    #[test]
    fn open_arena_is_valid() {
        for (w, h) in [(1, 1), (100, 50), (1000, 1000), (4525, 4525), (100_000, 7)] {
            MapDef::open_arena(w, h).validate().unwrap();
        }
        assert!(MapDef::open_arena(0, 10).validate().is_err());
    }

    #[test]
    fn big_arena_has_the_requested_density() {
        let m = MapDef::big_arena(1000, 50, 150.0);
        m.validate().unwrap();
        // 1000 players on side² → each sees 1000·π·150²/side² ≈ 50.
        let seen = 1000.0 * std::f64::consts::PI * 150.0 * 150.0 / f64::from(m.width).powi(2);
        assert!((seen - 50.0).abs() < 1.0, "{seen}");
        assert_eq!((m.width, m.height, m.cell_size), (1189, 1189, 75));
        assert_eq!(m.spawns.len(), 32 * 32);
        for (p, v, r) in [
            (0, 0, 0.0),
            (1, 1, 1.0),
            (5, 100, 150.0),
            (100_000, 1, 5000.0),
            (1_000_000, 10, f32::NAN),
        ] {
            MapDef::big_arena(p, v, r).validate().unwrap();
        }
    }

    #[test]
    fn refuses_bad_maps() {
        let base = MapDef::open_arena(1000, 1000);
        let bad = |f: fn(&mut MapDef)| {
            let mut m = base.clone();
            f(&mut m);
            m.validate().unwrap_err()
        };
        assert!(matches!(bad(|m| m.width = 100_001), MapError::Size { .. }));
        assert!(matches!(bad(|m| m.height = 0), MapError::Size { .. }));
        assert_eq!(bad(|m| m.cell_size = 0), MapError::CellSize(0));
        assert!(matches!(bad(|m| m.spawns.clear()), MapError::NoSpawns));
        assert!(matches!(
            bad(|m| m.spawns[0] = [f32::NAN, 1.0]),
            MapError::BadSpawn { index: 0, .. }
        ));
        assert!(matches!(
            bad(|m| m.spawns[1] = [1001.0, 1.0]),
            MapError::BadSpawn { index: 1, .. }
        ));
        fn wall(x: i32, y: i32, w: i32, h: i32) -> WallRect {
            WallRect { x, y, w, h }
        }
        assert!(matches!(
            bad(|m| m.walls.push(wall(i32::MAX, 0, i32::MAX, 1))),
            MapError::BadWall { .. }
        ));
        assert!(matches!(
            bad(|m| m.walls.push(wall(-1, 0, 10, 10))),
            MapError::BadWall { .. }
        ));
        assert!(matches!(
            bad(|m| m.walls.push(wall(0, 0, 0, 10))),
            MapError::BadWall { .. }
        ));
        assert!(matches!(
            bad(|m| m.walls.push(wall(900, 900, 101, 10))),
            MapError::BadWall { .. }
        ));
        let spawn = base.spawns[0];
        let mut m = base.clone();
        m.walls
            .push(wall(spawn[0] as i32 - 5, spawn[1] as i32 - 5, 10, 10));
        assert_eq!(
            m.validate(),
            Err(MapError::SpawnInWall { index: 0, wall: 0 })
        );
    }
}
