//! Aim directions without the platform's libm: the unit vector of an aim step is computed
//! with a fixed polynomial (plain `+` and `*` in a fixed order, exact in IEEE f32 on every
//! platform), so every build simulates with the very same directions.

use glam::Vec2;

/// The unit vector of aim step `aim` (256 steps per turn, 0 along +x, increasing towards +y).
pub(crate) fn direction(aim: u8) -> Vec2 {
    // Quarter turn and the angle within it, in [0, τ/4).
    let quarter = aim / 64;
    let t = f32::from(aim % 64) * (std::f32::consts::TAU / 256.0);
    let (s, c) = sin_cos_quarter(t);
    match quarter {
        0 => Vec2::new(c, s),
        1 => Vec2::new(-s, c),
        2 => Vec2::new(-c, -s),
        _ => Vec2::new(s, -c),
    }
}

/// `(sin t, cos t)` for `t` in `[0, τ/4)` by Taylor series to degree 13 and 14, within
/// 1e-7 there; Horner's scheme so the operations come in one fixed order.
fn sin_cos_quarter(t: f32) -> (f32, f32) {
    let t2 = t * t;
    let mut s = 1.0 / 6_227_020_800.0;
    for k in [39_916_800.0, 362_880.0, 5_040.0, 120.0, 6.0, 1.0] {
        s = s * -t2 + 1.0 / k;
    }
    let mut c = 1.0 / 87_178_291_200.0;
    for k in [479_001_600.0, 3_628_800.0, 40_320.0, 720.0, 24.0, 2.0, 1.0] {
        c = c * -t2 + 1.0 / k;
    }
    (s * t, c)
}

/// The aim step whose direction is closest to `v` (0 for a zero vector): the largest dot
/// product over the 256 steps, lowest step on a tie.
pub(crate) fn aim_towards(v: Vec2) -> u8 {
    let mut best = (f32::NEG_INFINITY, 0u8);
    for a in 0..=255u8 {
        let d = direction(a).dot(v);
        if d > best.0 {
            best = (d, a);
        }
    }
    best.1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directions_are_unit_and_on_the_axes() {
        for a in 0..=255u8 {
            let d = direction(a);
            assert!((d.length() - 1.0).abs() < 1e-6, "{a}: {d}");
            let angle = f64::from(a) * std::f64::consts::TAU / 256.0;
            assert!((f64::from(d.x) - angle.cos()).abs() < 1e-6, "{a}");
            assert!((f64::from(d.y) - angle.sin()).abs() < 1e-6, "{a}");
        }
        assert_eq!(direction(0), Vec2::new(1.0, 0.0));
        assert_eq!(direction(64), Vec2::new(-0.0, 1.0));
        assert_eq!(direction(128), Vec2::new(-1.0, -0.0));
    }

    #[test]
    fn aim_towards_inverts_direction() {
        for a in 0..=255u8 {
            assert_eq!(aim_towards(direction(a) * 3.0), a);
        }
        assert_eq!(aim_towards(Vec2::ZERO), 0);
    }
}
