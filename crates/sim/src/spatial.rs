//! The spatial index over a snapshot, behind areas of interest and radius queries.

use glam::Vec2;
use tickwire_proto::EntityState;
use tickwire_proto::entity::{POS_SCALE, dequantize};

use crate::game::WorldBounds;
use crate::grid::Grid;

/// The spatial index over the current snapshot: a uniform grid of entity positions and the
/// owned entities sorted by owner. Rebuilt after every step when areas of interest are on.
#[derive(Clone, Debug)]
pub(crate) struct SpatialIndex {
    /// Snapshot indices bucketed by cell.
    grid: Grid,
    /// Reused buffer of positions, world units.
    pos: Vec<Vec2>,
    /// `(owner entity, snapshot index)` of every entity with an owner, sorted.
    owned: Vec<(u32, u32)>,
}

impl SpatialIndex {
    /// An empty index for `map`, with the map's cell size.
    pub(crate) fn new(world: WorldBounds) -> SpatialIndex {
        SpatialIndex {
            grid: Grid::new(world.width, world.height, world.cell_size),
            pos: Vec::new(),
            owned: Vec::new(),
        }
    }

    /// Indexes `snapshot` (sorted by id).
    pub(crate) fn rebuild(&mut self, snapshot: &[EntityState]) {
        self.pos.clear();
        self.pos.extend(
            snapshot
                .iter()
                .map(|e| Vec2::new(dequantize(e.x), dequantize(e.y))),
        );
        self.grid.rebuild(&self.pos);
        self.owned.clear();
        self.owned.extend(
            snapshot
                .iter()
                .enumerate()
                .filter(|(_, e)| e.owner != 0)
                .map(|(i, e)| (e.owner, i as u32)),
        );
        self.owned.sort_unstable();
    }

    /// Calls `found` (in no particular order) with the snapshot index of every entity within
    /// `radius` world units of the quantized point `(cx, cy)`.
    pub(crate) fn within(
        &self,
        snapshot: &[EntityState],
        (cx, cy): (i32, i32),
        radius: f32,
        mut found: impl FnMut(u32),
    ) {
        if radius.is_nan() || radius < 0.0 {
            return;
        }
        let r2 = radius_sq(radius);
        let centre = Vec2::new(dequantize(cx), dequantize(cy));
        let reach = Vec2::splat(radius + 1.0);
        self.grid.query(centre - reach, centre + reach, |i| {
            if let Some(e) = snapshot.get(i) {
                if within_sq(e, (cx, cy), r2) {
                    found(i as u32);
                }
            }
        });
    }

    /// Snapshot indices of the entities `owner` owns, ascending.
    pub(crate) fn owned_by(&self, owner: u32) -> impl Iterator<Item = u32> + '_ {
        let start = self.owned.partition_point(|&(o, _)| o < owner);
        self.owned[start..]
            .iter()
            .take_while(move |&&(o, _)| o == owner)
            .map(|&(_, i)| i)
    }
}

/// The squared radius in squared wire units.
pub(crate) fn radius_sq(radius: f32) -> f64 {
    let r = f64::from(radius) * f64::from(POS_SCALE);
    r * r
}

/// Squared distance between a quantized position and a quantized point, squared wire units
/// (exact).
pub(crate) fn dist_sq(x: i32, y: i32, (cx, cy): (i32, i32)) -> i64 {
    let dx = i64::from(x) - i64::from(cx);
    let dy = i64::from(y) - i64::from(cy);
    dx * dx + dy * dy
}

/// The relevance predicate: the entity's quantized position is within the radius (inclusive).
pub(crate) fn within_sq(e: &EntityState, centre: (i32, i32), r2: f64) -> bool {
    // Squared distances stay far below 2^53, so the conversion is exact.
    dist_sq(e.x, e.y, centre) as f64 <= r2
}
