//! The packed delta body: a [`Delta`] as a bit string (see [`crate::bits`] for the codes).
//!
//! A state frame's delta is the part that grows with the number of entities, so it is packed
//! at the bit level rather than left to the byte-aligned codec: an update names its entity by
//! the gap to the previous update's baseline index (one bit when consecutive), gives the three
//! common field masks codes of one to three bits, and codes velocity changes and position residuals
//! with Exp-Golomb orders chosen per frame to fit the frame's values. The layout, field by
//! field, is in `PROTOCOL.md` ("Delta body").

use crate::bits::{BitError, BitReader, BitWriter, Mean, OrderSearch, best_order, eg_len, zigzag};
use crate::entity::{
    EntityKind, EntityState, EntityUpdate, MASK_AIM, MASK_BITS, MASK_HP, MASK_MISC, MASK_POS,
    MASK_VEL,
};
use std::fmt;

use serde::de::{SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::msg::{Delta, MAX_NAME_BYTES};

/// Exp-Golomb order of a created entity's velocity components.
const CREATE_VEL_ORDER: u32 = 4;
/// The update masks with short codes, most frequent first: `1`, `01`, `001`; any other mask is
/// `000` and its five bits.
const SHORT_MASKS: [u32; 3] = [MASK_POS, MASK_VEL, MASK_VEL | MASK_POS];

/// Writes an update's field mask.
fn write_mask(w: &mut BitWriter<'_>, mask: u32) {
    match SHORT_MASKS.iter().position(|&m| m == mask) {
        Some(i) => w.bits(1 << i, i as u32 + 1),
        None => {
            w.bits(0, SHORT_MASKS.len() as u32);
            w.bits(mask, MASK_BITS);
        }
    }
}

/// Bits of an update's field mask.
fn mask_bits(mask: u32) -> u32 {
    match SHORT_MASKS.iter().position(|&m| m == mask) {
        Some(i) => i as u32 + 1,
        None => SHORT_MASKS.len() as u32 + MASK_BITS,
    }
}

/// Reads an update's field mask; a long form that names an empty mask or one with a short
/// code is an error.
fn read_mask(r: &mut BitReader<'_>) -> Result<u32, PackError> {
    for &m in &SHORT_MASKS {
        if r.bit()? {
            return Ok(m);
        }
    }
    let m = r.bits(MASK_BITS)?;
    if m == 0 || SHORT_MASKS.contains(&m) {
        return Err(PackError::Mask(m));
    }
    Ok(m)
}
/// Bits of each Exp-Golomb order in the body's header.
const ORDER_BITS: u32 = 4;

/// Why a packed delta body could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PackError {
    /// The bit string itself is broken (truncated, over-long code, bad padding).
    #[error(transparent)]
    Bits(#[from] BitError),
    /// Baseline indices or created ids are not strictly ascending (or an id is 0).
    #[error("packed delta: {0} out of order")]
    Order(&'static str),
    /// An entity kind code that names no kind.
    #[error("packed delta: unknown entity kind {0}")]
    Kind(u32),
    /// A created entity's name is over the limit or not UTF-8.
    #[error("packed delta: bad entity name")]
    Name,
    /// An update's long-form mask is empty or one with a short code, so the encoding would not
    /// be canonical.
    #[error("packed delta: bad update mask {0}")]
    Mask(u32),
    /// A velocity change or position residual of (0, 0), which is sent by leaving it out.
    #[error("packed delta: zero velocity change or residual")]
    ZeroPair,
    /// A count larger than the bits left could hold.
    #[error("packed delta: count {0} exceeds the body")]
    Count(u32),
}

/// The Exp-Golomb orders of one body, chosen by the encoder to minimise its size.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Orders {
    /// Position residual components.
    pos: u32,
    /// Velocity change components.
    vel: u32,
    /// Created entities' coordinates.
    xy: u32,
    /// Gaps between created entities' ids.
    id: u32,
}

impl Orders {
    /// The orders for `delta` (see [`best_order`]), with the bits their fields take. The
    /// updates, the bulk of a frame, are walked twice for both of their streams at once.
    fn choose(delta: &Delta) -> (Orders, u64) {
        let max = (1 << ORDER_BITS) - 1;
        let (mut pos_mean, mut vel_mean) = (Mean::default(), Mean::default());
        for u in &delta.updated {
            if let Some((x, y)) = u.pos_residual {
                pos_mean.add(zigzag(x));
                pos_mean.add(zigzag(y));
            }
            if let Some((x, y)) = u.vel_delta {
                vel_mean.add(zigzag(x));
                vel_mean.add(zigzag(y));
            }
        }
        let mut pos = OrderSearch::around(&pos_mean, max);
        let mut vel = OrderSearch::around(&vel_mean, max);
        for u in &delta.updated {
            if let Some((x, y)) = u.pos_residual {
                pos.add(zigzag(x));
                pos.add(zigzag(y));
            }
            if let Some((x, y)) = u.vel_delta {
                vel.add(zigzag(x));
                vel.add(zigzag(y));
            }
        }
        let xy = delta
            .created
            .iter()
            .flat_map(|e| [zigzag(e.x), zigzag(e.y)]);
        let (kp, bp) = pos.best();
        let (kv, bv) = vel.best();
        let (kx, bx) = best_order(max, xy);
        let (ki, bi) = best_order(max, id_gaps(&delta.created));
        (
            Orders {
                pos: kp,
                vel: kv,
                xy: kx,
                id: ki,
            },
            bp + bv + bx + bi,
        )
    }
}

/// `id - previous id - 1` of each created entity (the first one's previous id is 0); ids that
/// are not ascending give garbage here and an error from [`encode`].
fn id_gaps(created: &[EntityState]) -> impl Iterator<Item = u32> + Clone + '_ {
    let prev = std::iter::once(0).chain(created.iter().map(|e| e.id));
    created
        .iter()
        .zip(prev)
        .map(|(e, p)| wrapping_gap(Some(p), e.id))
}

/// The index gaps of an ascending index list (the first one's gap is the index itself).
fn index_gaps(indices: impl Iterator<Item = u32> + Clone) -> impl Iterator<Item = u32> + Clone {
    let prev = std::iter::once(None).chain(indices.clone().map(Some));
    indices.zip(prev).map(|(i, p)| wrapping_gap(p, i))
}

/// The gap coded before `index` after `prev` in an ascending list (the first one's gap is the
/// index itself), wrapping for lists that are not ascending: for sizes and estimates, which
/// [`gap_after`] then refuses to encode.
fn wrapping_gap(prev: Option<u32>, index: u32) -> u32 {
    match prev {
        None => index,
        Some(p) => index.wrapping_sub(p).wrapping_sub(1),
    }
}

fn kind_code(kind: EntityKind) -> u32 {
    match kind {
        EntityKind::Player => 0,
        EntityKind::Projectile => 1,
    }
}

/// Why a delta cannot be packed: lists out of order, or a name over [`MAX_NAME_BYTES`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot pack delta: {0}")]
pub struct PackInvalid(&'static str);

/// The gap coded before `index` in an ascending list after `prev`, if `index` comes after it.
fn gap_after(prev: Option<u32>, index: u32) -> Option<u32> {
    match prev {
        None => Some(index),
        Some(p) => index.checked_sub(p)?.checked_sub(1),
    }
}

/// Appends the packed body of `delta` to `out` (without a length prefix); on an invalid
/// delta, appends nothing.
pub fn encode(delta: &Delta, out: &mut Vec<u8>) -> Result<(), PackInvalid> {
    let start = out.len();
    let written = write_body(delta, out);
    if written.is_err() {
        out.truncate(start);
    }
    written
}

/// Writes the body, checking the lists' order and limits on the way (one pass, no separate
/// validation).
fn write_body(delta: &Delta, out: &mut Vec<u8>) -> Result<(), PackInvalid> {
    let (k, _) = Orders::choose(delta);
    let mut w = BitWriter::new(out);
    w.bits(k.pos, ORDER_BITS);
    w.bits(k.vel, ORDER_BITS);
    w.bits(k.xy, ORDER_BITS);
    w.bits(k.id, ORDER_BITS);

    w.eg(0, delta.removed.len() as u32);
    let mut prev = None;
    for &index in &delta.removed {
        let gap = gap_after(prev, index)
            .ok_or(PackInvalid("removed indices must be strictly ascending"))?;
        w.eg(0, gap);
        prev = Some(index);
    }

    w.eg(0, delta.created.len() as u32);
    let mut prev_id = 0;
    let mut elided = delta.names_elided.iter().peekable();
    for e in &delta.created {
        let gap = gap_after(Some(prev_id), e.id).ok_or(PackInvalid(
            "created ids must be strictly ascending and non-zero",
        ))?;
        prev_id = e.id;
        w.eg(k.id, gap);
        w.eg(0, kind_code(e.kind));
        w.eg_signed(k.xy, e.x);
        w.eg_signed(k.xy, e.y);
        w.eg_signed(CREATE_VEL_ORDER, e.vx);
        w.eg_signed(CREATE_VEL_ORDER, e.vy);
        w.bits(u32::from(e.aim), 8);
        w.bits(u32::from(e.hp), 8);
        w.eg(0, e.score);
        w.bits(u32::from(e.flags), 8);
        w.eg(0, e.owner);
        if elided.next_if_eq(&&e.id).is_some() {
            if !e.name.is_empty() {
                return Err(PackInvalid("an elided name must be empty in the delta"));
            }
            w.eg(0, 0);
        } else {
            if e.name.len() > MAX_NAME_BYTES {
                return Err(PackInvalid("entity name over the limit"));
            }
            w.eg(0, e.name.len() as u32 + 1);
            for b in e.name.bytes() {
                w.bits(u32::from(b), 8);
            }
        }
    }
    if elided.next().is_some() {
        return Err(PackInvalid(
            "elided names must be ascending ids of created entities",
        ));
    }

    w.eg(0, delta.updated.len() as u32);
    let mut prev = None;
    for u in &delta.updated {
        let gap = gap_after(prev, u.index)
            .ok_or(PackInvalid("update indices must be strictly ascending"))?;
        prev = Some(u.index);
        let mask = u.mask();
        if mask == 0 {
            return Err(PackInvalid("an update must change something"));
        }
        if u.vel_delta == Some((0, 0)) || u.pos_residual == Some((0, 0)) {
            return Err(PackInvalid(
                "a velocity change or residual of (0, 0) is sent as absent",
            ));
        }
        w.eg(0, gap);
        write_mask(&mut w, mask);
        if let Some((x, y)) = u.vel_delta {
            w.eg_signed(k.vel, x);
            w.eg_signed(k.vel, y);
        }
        if let Some((x, y)) = u.pos_residual {
            w.eg_signed(k.pos, x);
            w.eg_signed(k.pos, y);
        }
        if let Some(aim) = u.aim {
            w.bits(u32::from(aim), 8);
        }
        if let Some(hp) = u.hp {
            w.bits(u32::from(hp), 8);
        }
        if let Some((score, flags)) = u.misc {
            w.eg(0, score);
            w.bits(u32::from(flags), 8);
        }
    }
    w.finish();
    Ok(())
}

/// Bytes [`encode`] writes for `delta` (which must be valid for it), computed without
/// writing them.
pub fn encoded_len(delta: &Delta) -> usize {
    let (_, field_bits) = Orders::choose(delta);
    let mut bits = u64::from(4 * ORDER_BITS) + field_bits;
    bits += u64::from(eg_len(0, delta.removed.len() as u32));
    bits += index_gaps(delta.removed.iter().copied())
        .map(|g| u64::from(eg_len(0, g)))
        .sum::<u64>();
    bits += u64::from(eg_len(0, delta.created.len() as u32));
    for e in &delta.created {
        let name = if delta.names_elided.binary_search(&e.id).is_ok() {
            None
        } else {
            Some(e.name.len())
        };
        bits += u64::from(create_fixed_bits(
            e.kind,
            (e.vx, e.vy),
            e.score,
            e.owner,
            name,
        ));
    }
    bits += u64::from(eg_len(0, delta.updated.len() as u32));
    for (u, gap) in delta
        .updated
        .iter()
        .zip(index_gaps(delta.updated.iter().map(|u| u.index)))
    {
        bits += u64::from(eg_len(0, gap) + mask_bits(u.mask()) + fixed_field_bits(u));
    }
    // `field_bits` priced the position, velocity, coordinate and id codes.
    bits.div_ceil(8) as usize
}

/// Bits of a create apart from its id gap and coordinates (whose orders vary per frame), with
/// a name of `name` bytes (`None`: left out).
fn create_fixed_bits(
    kind: EntityKind,
    (vx, vy): (i32, i32),
    score: u32,
    owner: u32,
    name: Option<usize>,
) -> u32 {
    let name_bits = match name {
        None => eg_len(0, 0),
        Some(len) => eg_len(0, len as u32 + 1) + 8 * len as u32,
    };
    eg_len(0, kind_code(kind))
        + eg_len(CREATE_VEL_ORDER, zigzag(vx))
        + eg_len(CREATE_VEL_ORDER, zigzag(vy))
        + 8 // aim
        + 8 // hp
        + eg_len(0, score)
        + 8 // flags
        + eg_len(0, owner)
        + name_bits
}

/// Bits of an update's fields apart from its velocity and position codes.
fn fixed_field_bits(u: &EntityUpdate) -> u32 {
    let mut bits = 0;
    if u.aim.is_some() {
        bits += 8;
    }
    if u.hp.is_some() {
        bits += 8;
    }
    if let Some((score, _)) = u.misc {
        bits += eg_len(0, score) + 8;
    }
    bits
}

/// Estimated bits of a create of an entity with these fields and a name of `name_len` bytes,
/// with typical code orders (for byte budgets: the exact size of a frame is known only once
/// its orders are chosen).
pub fn create_bits_estimate(
    kind: EntityKind,
    (x, y): (i32, i32),
    vel: (i32, i32),
    score: u32,
    owner: u32,
    name_len: usize,
) -> u32 {
    // A typical id gap, and coordinates at a typical order.
    eg_len(8, 64)
        + eg_len(12, zigzag(x))
        + eg_len(12, zigzag(y))
        + create_fixed_bits(kind, vel, score, owner, Some(name_len))
}

/// Estimated bits of `u` following an update of baseline index `prev` (`None`: the first),
/// with typical orders; see [`create_bits_estimate`].
pub fn update_bits_estimate(u: &EntityUpdate, prev: Option<u32>) -> u32 {
    let mut bits =
        eg_len(0, wrapping_gap(prev, u.index)) + mask_bits(u.mask()) + fixed_field_bits(u);
    if let Some((x, y)) = u.vel_delta {
        bits += eg_len(2, zigzag(x)) + eg_len(2, zigzag(y));
    }
    if let Some((x, y)) = u.pos_residual {
        bits += eg_len(1, zigzag(x)) + eg_len(1, zigzag(y));
    }
    bits
}

/// Estimated bits of the removal of baseline index `index` after `prev`.
pub fn remove_bits_estimate(index: u32, prev: Option<u32>) -> u32 {
    eg_len(0, wrapping_gap(prev, index))
}

/// Reads a count whose items take at least `min_bits` each.
fn count(r: &mut BitReader<'_>, min_bits: usize) -> Result<u32, PackError> {
    let n = r.eg(0)?;
    if (n as usize).saturating_mul(min_bits) > r.remaining() {
        return Err(PackError::Count(n));
    }
    Ok(n)
}

/// Reads the next index of an ascending list after `prev`.
fn next_index(r: &mut BitReader<'_>, prev: Option<u32>) -> Result<u32, PackError> {
    let gap = r.eg(0)?;
    match prev {
        None => Ok(gap),
        Some(p) => p
            .checked_add(gap)
            .and_then(|v| v.checked_add(1))
            .ok_or(PackError::Order("baseline index")),
    }
}

/// Reads a velocity change or position residual, which is never (0, 0): that is sent by
/// leaving the field out.
fn nonzero_pair(r: &mut BitReader<'_>, k: u32) -> Result<(i32, i32), PackError> {
    match (r.eg_signed(k)?, r.eg_signed(k)?) {
        (0, 0) => Err(PackError::ZeroPair),
        pair => Ok(pair),
    }
}

/// Decodes a packed body (exactly `bytes`, padding included).
pub fn decode(bytes: &[u8]) -> Result<Delta, PackError> {
    let mut r = BitReader::new(bytes);
    let k = Orders {
        pos: r.bits(ORDER_BITS)?,
        vel: r.bits(ORDER_BITS)?,
        xy: r.bits(ORDER_BITS)?,
        id: r.bits(ORDER_BITS)?,
    };
    let mut delta = Delta::default();

    let n = count(&mut r, 1)?;
    delta.removed.reserve(n as usize);
    let mut prev = None;
    for _ in 0..n {
        let i = next_index(&mut r, prev)?;
        delta.removed.push(i);
        prev = Some(i);
    }

    // A create takes at least 40 bits (four fixed bytes and eight one-bit codes).
    let n = count(&mut r, 40)?;
    delta.created.reserve(n as usize);
    let mut prev_id = 0u32;
    for _ in 0..n {
        let gap = r.eg(k.id)?;
        let id = prev_id
            .checked_add(gap)
            .and_then(|v| v.checked_add(1))
            .ok_or(PackError::Order("created id"))?;
        prev_id = id;
        let kind = match r.eg(0)? {
            0 => EntityKind::Player,
            1 => EntityKind::Projectile,
            other => return Err(PackError::Kind(other)),
        };
        let x = r.eg_signed(k.xy)?;
        let y = r.eg_signed(k.xy)?;
        let vx = r.eg_signed(CREATE_VEL_ORDER)?;
        let vy = r.eg_signed(CREATE_VEL_ORDER)?;
        let aim = r.bits(8)? as u8;
        let hp = r.bits(8)? as u8;
        let score = r.eg(0)?;
        let flags = r.bits(8)? as u8;
        let owner = r.eg(0)?;
        let name = match r.eg(0)? as usize {
            0 => {
                delta.names_elided.push(id);
                String::new()
            }
            code if code - 1 > MAX_NAME_BYTES => return Err(PackError::Name),
            code => {
                let mut name = Vec::with_capacity(code - 1);
                for _ in 1..code {
                    name.push(r.bits(8)? as u8);
                }
                String::from_utf8(name).map_err(|_| PackError::Name)?
            }
        };
        delta.created.push(EntityState {
            id,
            kind,
            x,
            y,
            vx,
            vy,
            aim,
            hp,
            score,
            flags,
            owner,
            name,
        });
    }

    let n = count(&mut r, 2)?;
    delta.updated.reserve(n as usize);
    let mut prev = None;
    for _ in 0..n {
        let index = next_index(&mut r, prev)?;
        prev = Some(index);
        let mask = read_mask(&mut r)?;
        let mut u = EntityUpdate {
            index,
            ..EntityUpdate::default()
        };
        if mask & MASK_VEL != 0 {
            u.vel_delta = Some(nonzero_pair(&mut r, k.vel)?);
        }
        if mask & MASK_POS != 0 {
            u.pos_residual = Some(nonzero_pair(&mut r, k.pos)?);
        }
        if mask & MASK_AIM != 0 {
            u.aim = Some(r.bits(8)? as u8);
        }
        if mask & MASK_HP != 0 {
            u.hp = Some(r.bits(8)? as u8);
        }
        if mask & MASK_MISC != 0 {
            u.misc = Some((r.eg(0)?, r.bits(8)? as u8));
        }
        delta.updated.push(u);
    }
    r.finish()?;
    Ok(delta)
}

/// On the wire a [`Delta`] is one byte string: its packed body. The serde impls live here, with
/// the packing, so that the message types do not depend on the codec of their bodies.
impl Serialize for Delta {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Sized for a typical frame; sizing it exactly would price the body twice.
        let mut packed = Vec::with_capacity(256);
        encode(self, &mut packed).map_err(serde::ser::Error::custom)?;
        s.serialize_bytes(&packed)
    }
}

impl<'de> Deserialize<'de> for Delta {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Delta, D::Error> {
        /// Reads the byte string as a sequence of bytes (the same encoding), so that a length
        /// prefix reserves nothing the bytes themselves do not back.
        struct Packed;
        impl<'de> Visitor<'de> for Packed {
            type Value = Delta;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a packed delta body")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Delta, E> {
                decode(v).map_err(E::custom)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Delta, A::Error> {
                let mut bytes = Vec::with_capacity(
                    seq.size_hint()
                        .unwrap_or(0)
                        .min(crate::msg::bounded_vec::MAX_PREALLOC_BYTES),
                );
                while let Some(b) = seq.next_element::<u8>()? {
                    bytes.push(b);
                }
                self.visit_bytes(&bytes)
            }
        }
        d.deserialize_seq(Packed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn player(id: u32, x: i32, y: i32) -> EntityState {
        EntityState {
            id,
            kind: EntityKind::Player,
            x,
            y,
            vx: 3,
            vy: -2,
            aim: 7,
            hp: 100,
            score: 2,
            flags: 3,
            owner: 0,
            name: "ann".into(),
        }
    }

    fn sample() -> Delta {
        Delta {
            removed: vec![0, 4],
            created: vec![
                player(9, 800, -40),
                EntityState {
                    name: String::new(),
                    ..player(12, 0, 0)
                },
            ],
            names_elided: vec![12],
            updated: vec![
                EntityUpdate {
                    index: 1,
                    pos_residual: Some((1, -1)),
                    ..EntityUpdate::default()
                },
                EntityUpdate {
                    index: 2,
                    pos_residual: Some((0, 1)),
                    ..EntityUpdate::default()
                },
                EntityUpdate {
                    index: 5,
                    vel_delta: Some((-20, 17)),
                    pos_residual: Some((0, 2)),
                    aim: Some(200),
                    hp: Some(55),
                    misc: Some((1000, 1)),
                },
            ],
        }
    }

    #[test]
    fn a_delta_round_trips_and_its_length_is_exact() {
        for d in [Delta::default(), sample()] {
            let mut out = Vec::new();
            encode(&d, &mut out).unwrap();
            assert_eq!(out.len(), encoded_len(&d));
            assert_eq!(decode(&out).unwrap(), d);
        }
    }

    #[test]
    fn consecutive_residual_updates_cost_a_few_bits_each() {
        let d = Delta {
            updated: (0..48)
                .map(|i| EntityUpdate {
                    index: i,
                    pos_residual: Some(((i % 3) as i32 - 1, 0)),
                    ..EntityUpdate::default()
                })
                .collect(),
            ..Delta::default()
        };
        // Gap (1 bit) + POS mask (1 bit) + two residuals of 1 or 2 bits at order 1.
        assert!(encoded_len(&d) <= 48 * 6 / 8 + 4, "{}", encoded_len(&d));
    }

    #[test]
    fn invalid_deltas_are_refused_by_the_encoder() {
        let mut d = sample();
        d.removed = vec![3, 3];
        let mut out = vec![9];
        assert!(encode(&d, &mut out).is_err());
        assert_eq!(out, vec![9], "nothing appended");
        let mut d = sample();
        d.names_elided = vec![9];
        assert!(
            encode(&d, &mut Vec::new()).is_err(),
            "elided name not empty"
        );
        let mut d = sample();
        d.names_elided = vec![12, 13];
        assert!(
            encode(&d, &mut Vec::new()).is_err(),
            "elided id not created"
        );
        let mut d = sample();
        d.created.swap(0, 1);
        assert!(encode(&d, &mut Vec::new()).is_err());
        let mut d = sample();
        d.updated[0] = EntityUpdate {
            index: 1,
            ..EntityUpdate::default()
        };
        assert!(encode(&d, &mut Vec::new()).is_err());
    }

    #[test]
    fn non_canonical_masks_and_huge_counts_are_rejected() {
        // Orders 0, no removes, no creates, one update at index 0 with the long form of a mask
        // that has a short code.
        let mut out = Vec::new();
        let mut w = BitWriter::new(&mut out);
        w.bits(0, 16);
        w.eg(0, 0);
        w.eg(0, 0);
        w.eg(0, 1);
        w.eg(0, 0);
        w.bits(0, 3);
        w.bits(MASK_POS, MASK_BITS);
        w.eg_signed(0, 1);
        w.eg_signed(0, 1);
        w.finish();
        assert_eq!(decode(&out), Err(PackError::Mask(MASK_POS)));

        let mut out = Vec::new();
        let mut w = BitWriter::new(&mut out);
        w.bits(0, 16);
        w.eg(0, 1_000_000);
        w.finish();
        assert_eq!(decode(&out), Err(PackError::Count(1_000_000)));
    }
}
