//! Geometry: the aim direction table, circle-vs-box resolution and the swept tests projectiles use.
//!
//! Every function is a plain sequence of f32 operations in a fixed order, so the same inputs give
//! bit-identical results on every run.

use glam::Vec2;
use tickwire_proto::msg::WallRect;

/// The unit vector of aim step `aim` (256 steps per turn, counter-clockwise from +x).
pub(crate) fn direction(aim: u8) -> Vec2 {
    let [cos, sin] = AIM_TABLE[usize::from(aim)];
    Vec2::new(f32::from_bits(cos), f32::from_bits(sin))
}

/// `[cos, sin]` of `i × (TAU / 256)` for every aim step `i`, as f32 bit patterns. Baked rather
/// than computed with `sin_cos`, whose last bit depends on the platform's libm: every build on
/// every platform then simulates, and verifies replays, with the very same directions. (These
/// are the values glibc's `sinf`/`cosf` gave for the f32 angles `i as f32 * (TAU / 256.0)`.)
#[rustfmt::skip]
const AIM_TABLE: [[u32; 2]; 256] = [
    [0x3f800000, 0x00000000], [0x3f7fec43, 0x3cc90ab0], [0x3f7fb10f, 0x3d48fb30], [0x3f7f4e6d, 0x3d96a905],
    [0x3f7ec46d, 0x3dc8bd36], [0x3f7e1324, 0x3dfab273], [0x3f7d3aac, 0x3e164083], [0x3f7c3b28, 0x3e2f10a3],
    [0x3f7b14be, 0x3e47c5c2], [0x3f79c79d, 0x3e605c13], [0x3f7853f8, 0x3e78cfcd], [0x3f76ba07, 0x3e888e94],
    [0x3f74fa0b, 0x3e94a032], [0x3f731447, 0x3ea09ae5], [0x3f710908, 0x3eac7cd4], [0x3f6ed89e, 0x3eb8442a],
    [0x3f6c835e, 0x3ec3ef16], [0x3f6a09a6, 0x3ecf7bcb], [0x3f676bd8, 0x3edae880], [0x3f64aa59, 0x3ee63375],
    [0x3f61c597, 0x3ef15aea], [0x3f5ebe05, 0x3efc5d28], [0x3f5b941a, 0x3f039c3d], [0x3f584853, 0x3f08f59a],
    [0x3f54db31, 0x3f0e39da], [0x3f514d3d, 0x3f13682b], [0x3f4d9f02, 0x3f187fc0], [0x3f49d112, 0x3f1d7fd2],
    [0x3f45e403, 0x3f22679a], [0x3f41d870, 0x3f273656], [0x3f3daef9, 0x3f2beb4a], [0x3f396842, 0x3f3085bb],
    [0x3f3504f3, 0x3f3504f3], [0x3f3085ba, 0x3f396842], [0x3f2beb49, 0x3f3daefa], [0x3f273655, 0x3f41d871],
    [0x3f226799, 0x3f45e403], [0x3f1d7fd1, 0x3f49d112], [0x3f187fc0, 0x3f4d9f02], [0x3f13682a, 0x3f514d3d],
    [0x3f0e39d9, 0x3f54db32], [0x3f08f59b, 0x3f584853], [0x3f039c3c, 0x3f5b941b], [0x3efc5d26, 0x3f5ebe05],
    [0x3ef15ae7, 0x3f61c598], [0x3ee63374, 0x3f64aa59], [0x3edae881, 0x3f676bd8], [0x3ecf7bc9, 0x3f6a09a7],
    [0x3ec3ef15, 0x3f6c835e], [0x3eb84427, 0x3f6ed89e], [0x3eac7cd3, 0x3f710908], [0x3ea09ae2, 0x3f731448],
    [0x3e94a030, 0x3f74fa0b], [0x3e888e93, 0x3f76ba07], [0x3e78cfc8, 0x3f7853f8], [0x3e605c13, 0x3f79c79d],
    [0x3e47c5bc, 0x3f7b14bf], [0x3e2f10a0, 0x3f7c3b28], [0x3e164085, 0x3f7d3aac], [0x3dfab26c, 0x3f7e1324],
    [0x3dc8bd35, 0x3f7ec46d], [0x3d96a8fb, 0x3f7f4e6d], [0x3d48fb29, 0x3f7fb10f], [0x3cc90a7e, 0x3f7fec43],
    [0xb33bbd2e, 0x3f800000], [0xbcc90aad, 0x3f7fec43], [0xbd48fb41, 0x3f7fb10f], [0xbd96a906, 0x3f7f4e6d],
    [0xbdc8bd41, 0x3f7ec46d], [0xbdfab277, 0x3f7e1323], [0xbe16408a, 0x3f7d3aac], [0xbe2f10a6, 0x3f7c3b28],
    [0xbe47c5c2, 0x3f7b14be], [0xbe605c18, 0x3f79c79d], [0xbe78cfcd, 0x3f7853f8], [0xbe888e96, 0x3f76ba07],
    [0xbe94a033, 0x3f74fa0a], [0xbea09ae4, 0x3f731447], [0xbeac7cd6, 0x3f710908], [0xbeb8442a, 0x3f6ed89e],
    [0xbec3ef18, 0x3f6c835e], [0xbecf7bcb, 0x3f6a09a6], [0xbedae880, 0x3f676bd8], [0xbee63376, 0x3f64aa59],
    [0xbef15aed, 0x3f61c597], [0xbefc5d26, 0x3f5ebe06], [0xbf039c3d, 0x3f5b941a], [0xbf08f59c, 0x3f584852],
    [0xbf0e39dc, 0x3f54db30], [0xbf13682a, 0x3f514d3d], [0xbf187fc1, 0x3f4d9f02], [0xbf1d7fd3, 0x3f49d111],
    [0xbf226799, 0x3f45e404], [0xbf273656, 0x3f41d870], [0xbf2beb4b, 0x3f3daef8], [0xbf3085bd, 0x3f396840],
    [0xbf3504f3, 0x3f3504f3], [0xbf396843, 0x3f3085ba], [0xbf3daefb, 0x3f2beb48], [0xbf41d870, 0x3f273656],
    [0xbf45e404, 0x3f226799], [0xbf49d113, 0x3f1d7fd0], [0xbf4d9f04, 0x3f187fbd], [0xbf514d3d, 0x3f13682a],
    [0xbf54db32, 0x3f0e39d9], [0xbf584854, 0x3f08f598], [0xbf5b941a, 0x3f039c3d], [0xbf5ebe06, 0x3efc5d25],
    [0xbf61c599, 0x3ef15ae6], [0xbf64aa59, 0x3ee63376], [0xbf676bd8, 0x3edae87f], [0xbf6a09a7, 0x3ecf7bc7],
    [0xbf6c8360, 0x3ec3ef10], [0xbf6ed89e, 0x3eb8442a], [0xbf710909, 0x3eac7cd2], [0xbf731448, 0x3ea09ae0],
    [0xbf74fa0b, 0x3e94a033], [0xbf76ba07, 0x3e888e92], [0xbf7853f8, 0x3e78cfc5], [0xbf79c79e, 0x3e605c08],
    [0xbf7b14bf, 0x3e47c5c1], [0xbf7c3b28, 0x3e2f109d], [0xbf7d3aac, 0x3e16407a], [0xbf7e1323, 0x3dfab276],
    [0xbf7ec46d, 0x3dc8bd30], [0xbf7f4e6e, 0x3d96a8f5], [0xbf7fb10f, 0x3d48fafd], [0xbf7fec43, 0x3cc90aa6],
    [0xbf800000, 0xb3bbbd2e], [0xbf7fec43, 0xbcc90b04], [0xbf7fb10f, 0xbd48fb2c], [0xbf7f4e6d, 0xbd96a90c],
    [0xbf7ec46d, 0xbdc8bd47], [0xbf7e1323, 0xbdfab28d], [0xbf7d3aac, 0xbe164085], [0xbf7c3b28, 0xbe2f10a9],
    [0xbf7b14be, 0xbe47c5cd], [0xbf79c79d, 0xbe605c13], [0xbf7853f8, 0xbe78cfd0], [0xbf76ba07, 0xbe888e98],
    [0xbf74fa0a, 0xbe94a038], [0xbf731447, 0xbea09ae6], [0xbf710908, 0xbeac7cd7], [0xbf6ed89d, 0xbeb8442f],
    [0xbf6c835e, 0xbec3ef15], [0xbf6a09a6, 0xbecf7bcd], [0xbf676bd7, 0xbedae885], [0xbf64aa57, 0xbee6337b],
    [0xbf61c597, 0xbef15aeb], [0xbf5ebe04, 0xbefc5d2a], [0xbf5b9419, 0xbf039c3f], [0xbf584853, 0xbf08f59b],
    [0xbf54db30, 0xbf0e39db], [0xbf514d3b, 0xbf13682d], [0xbf4d9f02, 0xbf187fc0], [0xbf49d112, 0xbf1d7fd2],
    [0xbf45e402, 0xbf22679b], [0xbf41d86e, 0xbf273658], [0xbf3daef9, 0xbf2beb4a], [0xbf396841, 0xbf3085bc],
    [0xbf3504f1, 0xbf3504f5], [0xbf3085bb, 0xbf396842], [0xbf2beb49, 0xbf3daefa], [0xbf273657, 0xbf41d86f],
    [0xbf22679a, 0xbf45e403], [0xbf1d7fd1, 0xbf49d113], [0xbf187fbe, 0xbf4d9f03], [0xbf136828, 0xbf514d3f],
    [0xbf0e39d6, 0xbf54db34], [0xbf08f596, 0xbf584856], [0xbf039c3e, 0xbf5b9419], [0xbefc5d27, 0xbf5ebe05],
    [0xbef15ae8, 0xbf61c598], [0xbee63371, 0xbf64aa5a], [0xbedae87b, 0xbf676bd9], [0xbecf7bc2, 0xbf6a09a8],
    [0xbec3ef0b, 0xbf6c8361], [0xbeb8442c, 0xbf6ed89d], [0xbeac7cd4, 0xbf710908], [0xbea09ae3, 0xbf731448],
    [0xbe94a02d, 0xbf74fa0b], [0xbe888e8d, 0xbf76ba08], [0xbe78cfba, 0xbf7853f9], [0xbe605bfd, 0xbf79c79f],
    [0xbe47c5c6, 0xbf7b14be], [0xbe2f10a2, 0xbf7c3b28], [0xbe16407f, 0xbf7d3aac], [0xbdfab260, 0xbf7e1324],
    [0xbdc8bd1a, 0xbf7ec46d], [0xbd96a8df, 0xbf7f4e6e], [0xbd48fad2, 0xbf7fb10f], [0xbcc90acf, 0xbf7fec43],
    [0x324cde2e, 0xbf800000], [0x3cc90adb, 0xbf7fec43], [0x3d48fb58, 0xbf7fb10f], [0x3d96a922, 0xbf7f4e6d],
    [0x3dc8bd5d, 0xbf7ec46d], [0x3dfab2a3, 0xbf7e1323], [0x3e164080, 0xbf7d3aac], [0x3e2f10a4, 0xbf7c3b28],
    [0x3e47c5c8, 0xbf7b14be], [0x3e605c1e, 0xbf79c79d], [0x3e78cfdb, 0xbf7853f7], [0x3e888e9d, 0xbf76ba06],
    [0x3e94a03d, 0xbf74fa09], [0x3ea09ae3, 0xbf731448], [0x3eac7cd5, 0xbf710908], [0x3eb8442d, 0xbf6ed89d],
    [0x3ec3ef1b, 0xbf6c835d], [0x3ecf7bd2, 0xbf6a09a5], [0x3edae88a, 0xbf676bd5], [0x3ee63380, 0xbf64aa56],
    [0x3ef15ae9, 0xbf61c598], [0x3efc5d28, 0xbf5ebe05], [0x3f039c3e, 0xbf5b9419], [0x3f08f59d, 0xbf584851],
    [0x3f0e39dd, 0xbf54db2f], [0x3f13682f, 0xbf514d3a], [0x3f187fbf, 0xbf4d9f03], [0x3f1d7fd1, 0xbf49d112],
    [0x3f22679a, 0xbf45e403], [0x3f273657, 0xbf41d86f], [0x3f2beb4c, 0xbf3daef7], [0x3f3085be, 0xbf39683f],
    [0x3f3504f7, 0xbf3504ef], [0x3f396841, 0xbf3085bc], [0x3f3daef9, 0xbf2beb4a], [0x3f41d871, 0xbf273655],
    [0x3f45e405, 0xbf226797], [0x3f49d114, 0xbf1d7fcf], [0x3f4d9f05, 0xbf187fbc], [0x3f514d40, 0xbf136826],
    [0x3f54db31, 0xbf0e39db], [0x3f584853, 0xbf08f59b], [0x3f5b941b, 0xbf039c3c], [0x3f5ebe07, 0xbefc5d23],
    [0x3f61c599, 0xbef15ae3], [0x3f64aa5b, 0xbee6336c], [0x3f676bda, 0xbedae876], [0x3f6a09a6, 0xbecf7bcc],
    [0x3f6c835f, 0xbec3ef15], [0x3f6ed89e, 0xbeb84427], [0x3f710909, 0xbeac7ccf], [0x3f731449, 0xbea09ade],
    [0x3f74fa0c, 0xbe94a028], [0x3f76ba09, 0xbe888e87], [0x3f7853f8, 0xbe78cfcf], [0x3f79c79d, 0xbe605c12],
    [0x3f7b14bf, 0xbe47c5bc], [0x3f7c3b28, 0xbe2f1097], [0x3f7d3aad, 0xbe164074], [0x3f7e1324, 0xbdfab24a],
    [0x3f7ec46e, 0xbdc8bd04], [0x3f7f4e6d, 0xbd96a909], [0x3f7fb10f, 0xbd48fb26], [0x3f7fec43, 0xbcc90a77],
];

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
            // Within an ulp or two of this platform's libm, whatever that is: the table holds
            // the intended angles, not merely unit vectors.
            let angle = f64::from(a) * std::f64::consts::TAU / 256.0;
            let d = direction(a);
            assert!((f64::from(d.x) - angle.cos()).abs() < 1e-6, "{a}");
            assert!((f64::from(d.y) - angle.sin()).abs() < 1e-6, "{a}");
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
