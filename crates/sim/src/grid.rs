//! A uniform grid over points, rebuilt every tick: over player positions, so a projectile only
//! tests the players near its path instead of all of them; and over the snapshot's entities,
//! so an area-of-interest query only visits the cells around its centre.

use glam::Vec2;

/// Most cells along one axis; larger arenas get larger cells so the grid stays small.
const MAX_CELLS_PER_AXIS: u32 = 256;

/// Point indices bucketed by cell with a counting sort (no hashing, deterministic order).
#[derive(Clone, Debug)]
pub struct Grid {
    /// Side of a cell, world units.
    cell: f32,
    /// Cells along x.
    cols: u32,
    /// Cells along y.
    rows: u32,
    /// `starts[c]..starts[c + 1]` indexes `items` for cell `c`.
    starts: Vec<u32>,
    /// Player indices, grouped by cell, ascending within a cell.
    items: Vec<u32>,
}

impl Grid {
    /// A grid for a `width` x `height` arena with cells of at least `cell_size` units.
    pub fn new(width: u32, height: u32, cell_size: u32) -> Grid {
        let longest = width.max(height).max(1);
        let cell = cell_size.max(longest.div_ceil(MAX_CELLS_PER_AXIS)).max(1);
        let cols = width.div_ceil(cell).max(1);
        let rows = height.div_ceil(cell).max(1);
        Grid {
            cell: cell as f32,
            cols,
            rows,
            starts: vec![0; (cols * rows) as usize + 1],
            items: Vec::new(),
        }
    }

    /// Column and row of a point, clamped into the grid.
    fn coords(&self, p: Vec2) -> (u32, u32) {
        // `as` saturates (and maps NaN to 0), so any float lands in a valid cell.
        let cx = ((p.x / self.cell) as i64).clamp(0, i64::from(self.cols) - 1) as u32;
        let cy = ((p.y / self.cell) as i64).clamp(0, i64::from(self.rows) - 1) as u32;
        (cx, cy)
    }

    fn index(&self, p: Vec2) -> usize {
        let (cx, cy) = self.coords(p);
        (cy * self.cols + cx) as usize
    }

    /// Rebuilds the grid from `positions` (index = player index).
    pub fn rebuild(&mut self, positions: &[Vec2]) {
        self.starts.fill(0);
        for p in positions {
            let c = self.index(*p);
            self.starts[c + 1] += 1;
        }
        for i in 1..self.starts.len() {
            self.starts[i] += self.starts[i - 1];
        }
        self.items.clear();
        self.items.resize(positions.len(), 0);
        // `starts[c]` serves as the write cursor of cell c, then is restored below.
        for (i, p) in positions.iter().enumerate() {
            let c = self.index(*p);
            self.items[self.starts[c] as usize] = i as u32;
            self.starts[c] += 1;
        }
        for i in (1..self.starts.len()).rev() {
            self.starts[i] = self.starts[i - 1];
        }
        self.starts[0] = 0;
    }

    /// Calls `f` with every player index whose position lies in a cell touching `[min, max]`.
    pub fn query(&self, min: Vec2, max: Vec2, mut f: impl FnMut(usize)) {
        let (x0, y0) = self.coords(min);
        let (x1, y1) = self.coords(max);
        for cy in y0..=y1 {
            let row = cy * self.cols;
            let (a, b) = (
                self.starts[(row + x0) as usize],
                self.starts[(row + x1) as usize + 1],
            );
            // Cells of one row are contiguous in `items`, so a row is one slice.
            for &i in &self.items[a as usize..b as usize] {
                f(i as usize);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_points_near_a_box() {
        let mut g = Grid::new(1000, 1000, 100);
        let pts = [
            Vec2::new(50.0, 50.0),
            Vec2::new(950.0, 950.0),
            Vec2::new(150.0, 50.0),
            Vec2::new(-5.0, 2000.0),
        ];
        g.rebuild(&pts);
        let mut found = Vec::new();
        g.query(Vec2::new(0.0, 0.0), Vec2::new(120.0, 10.0), |i| {
            found.push(i)
        });
        found.sort_unstable();
        assert_eq!(found, vec![0, 2]);
        found.clear();
        g.query(Vec2::new(-100.0, 900.0), Vec2::new(10.0, 5000.0), |i| {
            found.push(i)
        });
        assert_eq!(found, vec![3]);
        let big = Grid::new(100_000, 100_000, 1);
        assert_eq!((big.cols, big.rows), (256, 256));
    }
}
