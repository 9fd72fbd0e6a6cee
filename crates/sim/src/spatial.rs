//! Where a game's schema puts its entities ([`Placement`]: position and owner), and the
//! spatial index over a snapshot behind areas of interest and radius queries.

use glam::Vec2;
use tickwire_proto::schema::Schema;
use tickwire_proto::schema::rows::EntityRow;

use crate::game::WorldBounds;
use crate::grid::Grid;

/// A kind's position and owner slots, from the schema.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct KindPlace {
    /// `(x, y)` value slots of its position.
    pos: Option<(usize, usize)>,
    /// Value slot of its owner reference.
    owner: Option<usize>,
}

/// What areas of interest read from a schema: each kind's position (its first two position
/// fields, [`Schema::position`]) and owner (its first reference, [`Schema::owner_slot`]), and
/// the scale positions are quantized at.
///
/// Distances are measured at the scale of the schema's first position field (a schema that
/// quantizes its kinds' positions at different scales gets that one for all). An entity of a
/// kind without a position (a scoreboard, a team) is relevant to every client.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Placement {
    /// Per kind code.
    kinds: Vec<KindPlace>,
    /// Wire units per world unit.
    scale: f32,
}

impl Placement {
    /// The placement `schema` declares.
    pub(crate) fn new(schema: &Schema) -> Placement {
        let n = schema.kind_count() as u16;
        let kinds = (0..n)
            .map(|k| KindPlace {
                pos: schema.position(k).map(|(x, y, _)| (x, y)),
                owner: schema.owner_slot(k),
            })
            .collect();
        let scale = (0..n)
            .find_map(|k| schema.position(k))
            .map_or(1.0, |(_, _, s)| s as f32);
        Placement { kinds, scale }
    }

    /// The quantized position of `row`, `None` for a kind without one (or a row too short).
    pub(crate) fn position(&self, row: &EntityRow) -> Option<(i32, i32)> {
        self.position_of(row.kind, &row.values)
    }

    /// The quantized position of an entity of `kind` with `values`.
    pub(crate) fn position_of(&self, kind: u16, values: &[i64]) -> Option<(i32, i32)> {
        let (x, y) = self.kinds.get(usize::from(kind))?.pos?;
        Some((*values.get(x)? as i32, *values.get(y)? as i32))
    }

    /// The entity `row` refers to as its owner (0: none).
    pub(crate) fn owner(&self, row: &EntityRow) -> u32 {
        self.kinds
            .get(usize::from(row.kind))
            .and_then(|k| k.owner)
            .and_then(|s| row.values.get(s))
            .map_or(0, |&v| v as u32)
    }

    /// A world coordinate in wire units.
    pub(crate) fn quantize(&self, v: f32) -> i32 {
        // `as` saturates and maps NaN to 0, which is what a corrupt value should become.
        (v * self.scale).round() as i32
    }

    /// A wire coordinate in world units.
    pub(crate) fn dequantize(&self, v: i32) -> f32 {
        v as f32 / self.scale
    }

    /// Wire units per world unit.
    pub(crate) fn scale(&self) -> f32 {
        self.scale
    }

    /// The squared radius in squared wire units.
    pub(crate) fn radius_sq(&self, radius: f32) -> f64 {
        let r = f64::from(radius) * f64::from(self.scale);
        r * r
    }
}

/// The spatial index over the current snapshot: a uniform grid of entity positions, the
/// entities without one, and the owned entities sorted by owner. Rebuilt after every step when
/// areas of interest are on.
#[derive(Clone, Debug)]
pub(crate) struct SpatialIndex {
    /// Snapshot indices of placed entities bucketed by cell (grid point `k` is `placed[k]`).
    grid: Grid,
    /// Reused buffer of positions, world units.
    pos: Vec<Vec2>,
    /// Snapshot index of each grid point.
    placed: Vec<u32>,
    /// Snapshot indices of the entities without a position, ascending.
    unplaced: Vec<u32>,
    /// `(owner entity, snapshot index)` of every entity with an owner, sorted.
    owned: Vec<(u32, u32)>,
}

impl SpatialIndex {
    /// An empty index for `map`, with the map's cell size.
    pub(crate) fn new(world: WorldBounds) -> SpatialIndex {
        SpatialIndex {
            grid: Grid::new(world.width, world.height, world.cell_size),
            pos: Vec::new(),
            placed: Vec::new(),
            unplaced: Vec::new(),
            owned: Vec::new(),
        }
    }

    /// Indexes `snapshot` (sorted by id).
    pub(crate) fn rebuild(&mut self, snapshot: &[EntityRow], place: &Placement) {
        self.pos.clear();
        self.placed.clear();
        self.unplaced.clear();
        self.owned.clear();
        for (i, e) in snapshot.iter().enumerate() {
            match place.position(e) {
                Some((x, y)) => {
                    self.pos
                        .push(Vec2::new(place.dequantize(x), place.dequantize(y)));
                    self.placed.push(i as u32);
                }
                None => self.unplaced.push(i as u32),
            }
            let owner = place.owner(e);
            if owner != 0 {
                self.owned.push((owner, i as u32));
            }
        }
        self.grid.rebuild(&self.pos);
        self.owned.sort_unstable();
    }

    /// Calls `found` (in no particular order) with the snapshot index of every placed entity
    /// within `radius` world units of the quantized point `(cx, cy)`.
    pub(crate) fn within(
        &self,
        snapshot: &[EntityRow],
        place: &Placement,
        (cx, cy): (i32, i32),
        radius: f32,
        mut found: impl FnMut(u32),
    ) {
        if radius.is_nan() || radius < 0.0 {
            return;
        }
        let r2 = place.radius_sq(radius);
        let centre = Vec2::new(place.dequantize(cx), place.dequantize(cy));
        let reach = Vec2::splat(radius + 1.0);
        self.grid.query(centre - reach, centre + reach, |k| {
            let Some(&i) = self.placed.get(k) else {
                return;
            };
            let pos = snapshot.get(i as usize).and_then(|e| place.position(e));
            if pos.is_some_and(|p| within_sq(p, (cx, cy), r2)) {
                found(i);
            }
        });
    }

    /// Snapshot indices of the entities without a position (relevant to everyone), ascending.
    pub(crate) fn unplaced(&self) -> &[u32] {
        &self.unplaced
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

/// Squared distance between a quantized position and a quantized point, squared wire units
/// (exact).
pub(crate) fn dist_sq((x, y): (i32, i32), (cx, cy): (i32, i32)) -> i64 {
    let dx = i64::from(x) - i64::from(cx);
    let dy = i64::from(y) - i64::from(cy);
    dx * dx + dy * dy
}

/// The relevance predicate: a quantized position is within the radius (inclusive).
pub(crate) fn within_sq(pos: (i32, i32), centre: (i32, i32), r2: f64) -> bool {
    // Squared distances stay far below 2^53, so the conversion is exact.
    dist_sq(pos, centre) as f64 <= r2
}
