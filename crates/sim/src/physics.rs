//! Geometry: the aim direction table, circle-vs-box resolution and the swept tests projectiles use.
//!
//! Every function is a plain sequence of f32 operations in a fixed order, so the same inputs give
//! bit-identical results on every run.

use std::sync::OnceLock;

use glam::Vec2;
use tickwire_proto::msg::WallRect;

/// Unit vectors for the 256 aim steps, built once per process so every match shares the exact
/// same values (a recomputed `sin`/`cos` could in principle differ between call sites).
pub(crate) fn direction(aim: u8) -> Vec2 {
    static TABLE: OnceLock<[Vec2; 256]> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut t = [Vec2::ZERO; 256];
        for (i, d) in t.iter_mut().enumerate() {
            let angle = i as f32 * (std::f32::consts::TAU / 256.0);
            let (sin, cos) = angle.sin_cos();
            *d = Vec2::new(cos, sin);
        }
        t
    });
    table[usize::from(aim)]
}

/// An axis-aligned box in world units, as floats.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Aabb {
    /// Top-left corner.
    pub(crate) min: Vec2,
    /// Bottom-right corner.
    pub(crate) max: Vec2,
}

impl Aabb {
    /// The box of a map wall.
    pub(crate) fn from_wall(w: &WallRect) -> Aabb {
        let min = Vec2::new(w.x as f32, w.y as f32);
        Aabb {
            min,
            max: min + Vec2::new(w.w as f32, w.h as f32),
        }
    }

    /// The box grown by `r` on every side (the Minkowski sum with a square of half-side `r`,
    /// slightly conservative at the corners compared to a circle).
    pub(crate) fn expand(&self, r: f32) -> Aabb {
        Aabb {
            min: self.min - Vec2::splat(r),
            max: self.max + Vec2::splat(r),
        }
    }
}

/// Pushes a circle at `pos` with radius `r` out of `wall` and removes the velocity component
/// that points into it. Returns true when they overlapped.
///
/// Outside the box the circle is pushed away from the closest point on the box; with its centre
/// inside (only possible after a teleport, since movement is sub-stepped) it leaves through the
/// face of least penetration.
pub(crate) fn resolve_circle_box(pos: &mut Vec2, vel: &mut Vec2, r: f32, wall: &Aabb) -> bool {
    let closest = pos.clamp(wall.min, wall.max);
    let d = *pos - closest;
    let dist_sq = d.dot(d);
    if dist_sq >= r * r {
        return false;
    }
    let normal = if dist_sq > 0.0 {
        let dist = dist_sq.sqrt();
        let n = d / dist;
        *pos = closest + n * r;
        n
    } else {
        // Centre inside: distances to the left, right, top and bottom faces; ties go to the
        // first in this fixed order.
        let faces = [
            (pos.x - wall.min.x, Vec2::NEG_X),
            (wall.max.x - pos.x, Vec2::X),
            (pos.y - wall.min.y, Vec2::NEG_Y),
            (wall.max.y - pos.y, Vec2::Y),
        ];
        let mut best = faces[0];
        for f in &faces[1..] {
            if f.0 < best.0 {
                best = *f;
            }
        }
        let n = best.1;
        *pos += n * (best.0 + r);
        n
    };
    let into = vel.dot(normal);
    if into < 0.0 {
        *vel -= normal * into;
    }
    true
}

/// Keeps a circle of radius `r` inside the arena `[0, size]` and zeroes the velocity component
/// that pushed it out.
pub(crate) fn clamp_to_bounds(pos: &mut Vec2, vel: &mut Vec2, r: f32, size: Vec2) {
    let lo = Vec2::splat(r);
    let hi = (size - Vec2::splat(r)).max(lo);
    if pos.x < lo.x {
        pos.x = lo.x;
        vel.x = vel.x.max(0.0);
    } else if pos.x > hi.x {
        pos.x = hi.x;
        vel.x = vel.x.min(0.0);
    }
    if pos.y < lo.y {
        pos.y = lo.y;
        vel.y = vel.y.max(0.0);
    } else if pos.y > hi.y {
        pos.y = hi.y;
        vel.y = vel.y.min(0.0);
    }
    // A NaN can only come from a bug, but an untrusted-input simulation must not propagate one.
    if !pos.is_finite() {
        *pos = (lo + hi) * 0.5;
        *vel = Vec2::ZERO;
    }
}

/// Fraction `t` in `[0, 1]` of the segment `p0 → p0 + d` at which it first enters `b` (0 when it
/// starts inside), or `None` when it misses. Slab method.
pub(crate) fn segment_box(p0: Vec2, d: Vec2, b: &Aabb) -> Option<f32> {
    let mut t_enter = 0.0f32;
    let mut t_exit = 1.0f32;
    for (p, dir, lo, hi) in [(p0.x, d.x, b.min.x, b.max.x), (p0.y, d.y, b.min.y, b.max.y)] {
        if dir == 0.0 {
            if p < lo || p > hi {
                return None;
            }
        } else {
            let inv = 1.0 / dir;
            let mut t0 = (lo - p) * inv;
            let mut t1 = (hi - p) * inv;
            if t0 > t1 {
                std::mem::swap(&mut t0, &mut t1);
            }
            t_enter = t_enter.max(t0);
            t_exit = t_exit.min(t1);
            if t_enter > t_exit {
                return None;
            }
        }
    }
    Some(t_enter)
}

/// Fraction `t` in `[0, 1]` at which the segment `p0 → p0 + d` first comes within `radius` of
/// `center` (0 when it starts within), or `None` when it never does.
pub(crate) fn segment_circle(p0: Vec2, d: Vec2, center: Vec2, radius: f32) -> Option<f32> {
    let f = p0 - center;
    let c = f.dot(f) - radius * radius;
    if c <= 0.0 {
        return Some(0.0);
    }
    let a = d.dot(d);
    if a <= 0.0 {
        return None;
    }
    let b = f.dot(d);
    // Halved quadratic: a t² + 2 b t + c = 0.
    let disc = b * b - a * c;
    if disc < 0.0 {
        return None;
    }
    let t = (-b - disc.sqrt()) / a;
    (0.0..=1.0).contains(&t).then_some(t)
}

/// Fraction `t` in `[0, 1]` at which the segment `p0 → p0 + d` leaves the box `[lo, hi]`, or
/// `None` when it ends inside.
pub(crate) fn segment_leaves(p0: Vec2, d: Vec2, lo: Vec2, hi: Vec2) -> Option<f32> {
    let p1 = p0 + d;
    if p1.cmpge(lo).all() && p1.cmple(hi).all() {
        return None;
    }
    let mut t = 1.0f32;
    for (p, dir, l, h) in [(p0.x, d.x, lo.x, hi.x), (p0.y, d.y, lo.y, hi.y)] {
        if dir < 0.0 {
            t = t.min((l - p) / dir);
        } else if dir > 0.0 {
            t = t.min((h - p) / dir);
        }
    }
    Some(t.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direction_table_is_unit_and_oriented() {
        assert!((direction(0) - Vec2::X).length() < 1e-6);
        assert!((direction(64) - Vec2::Y).length() < 1e-6);
        assert!((direction(128) + Vec2::X).length() < 1e-6);
        for a in 0..=255u8 {
            assert!((direction(a).length() - 1.0).abs() < 1e-5);
        }
    }

    #[test]
    fn circle_pushed_out_of_box_face() {
        let b = Aabb {
            min: Vec2::new(10.0, 0.0),
            max: Vec2::new(20.0, 100.0),
        };
        let mut p = Vec2::new(7.0, 50.0);
        let mut v = Vec2::new(5.0, 1.0);
        assert!(resolve_circle_box(&mut p, &mut v, 4.0, &b));
        assert_eq!(p, Vec2::new(6.0, 50.0));
        assert_eq!(v, Vec2::new(0.0, 1.0));
        // Centre inside: leaves through the nearest face (right, 1 away).
        let mut p = Vec2::new(19.0, 50.0);
        let mut v = Vec2::new(-3.0, 0.0);
        assert!(resolve_circle_box(&mut p, &mut v, 4.0, &b));
        assert_eq!(p, Vec2::new(24.0, 50.0));
        assert_eq!(v, Vec2::ZERO);
    }

    #[test]
    fn sweeps() {
        let b = Aabb {
            min: Vec2::new(10.0, -5.0),
            max: Vec2::new(12.0, 5.0),
        };
        // A thin wall crossed entirely within one step is still found.
        let t = segment_box(Vec2::ZERO, Vec2::new(100.0, 0.0), &b).unwrap();
        assert!((t - 0.1).abs() < 1e-6);
        assert_eq!(segment_box(Vec2::ZERO, Vec2::new(5.0, 0.0), &b), None);
        assert_eq!(
            segment_box(Vec2::new(0.0, 10.0), Vec2::new(100.0, 0.0), &b),
            None
        );
        assert_eq!(
            segment_circle(Vec2::ZERO, Vec2::new(10.0, 0.0), Vec2::new(5.0, 0.0), 1.0),
            Some(0.4)
        );
        assert_eq!(
            segment_circle(Vec2::ZERO, Vec2::new(10.0, 0.0), Vec2::new(5.0, 3.0), 1.0),
            None
        );
        assert_eq!(
            segment_leaves(
                Vec2::new(5.0, 5.0),
                Vec2::new(-10.0, 0.0),
                Vec2::ZERO,
                Vec2::splat(10.0)
            ),
            Some(0.5)
        );
        assert_eq!(
            segment_leaves(
                Vec2::new(5.0, 5.0),
                Vec2::new(1.0, 0.0),
                Vec2::ZERO,
                Vec2::splat(10.0)
            ),
            None
        );
    }
}
