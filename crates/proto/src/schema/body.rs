//! The packed delta body of a [`RowDelta`], driven by a [`Schema`] alone: every game's State
//! frames are written and read here, the grammar below with the schema filling in the fields.
//!
//! ```text
//! body    = k_pos:bits(4) k_vel:bits(4) k_xy:bits(4) k_id:bits(4)
//!           n_removed:eg(0) (gap:eg(0))*   n_created:eg(0) create*   n_updated:eg(0) update*
//!           padding
//! create  = gap:eg(k_id) kind:eg(0) field*          ; every field of the kind, create order
//! update  = gap:eg(0) mask_code (group field*)*     ; groups of the mask, lowest bit first
//! ```
//!
//! A position is `se(k_xy)` in a create and its residual `se(k_pos)` in an update; a velocity
//! `se(create_order)` and its change `se(k_vel)`; integers, enums and references as their
//! coding says, the same in both; a string `code:eg(0)` then `code - 1` bytes, `code` 0 when
//! the client already holds it (all of an entity's strings are left out or none). The four
//! orders are chosen per frame to minimise the body (see `Orders::choose`), deterministically,
//! so the same delta always has the same bytes (the golden vectors depend on it).
//!
//! An update names its entity by baseline index only, and the fields of a group depend on the
//! entity's kind, so both directions take `kind_of`: the kind of the baseline entity at an
//! index (`None` past the end). A replica passes its baseline's. When every kind's groups
//! hold the same codes ([`Schema::uniform_updates`], as in arena), it is never called: an
//! update past the end of the baseline is then refused by the apply, not the decoder.

use super::rows::{self, EntityRow, RowDelta, RowRef, RowUpdate};
use super::{Code, KindLayout, Schema, mask_bits_of};
use crate::bits::{BitError, BitReader, BitWriter, Mean, OrderSearch, best_order, eg_len, zigzag};

/// Bits of each Exp-Golomb order in the body's header.
const ORDER_BITS: u32 = 4;

/// Why a delta cannot be encoded with a schema: it does not follow the schema, or its lists
/// are out of order. Only a server bug does this.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// Removed or updated indices, created ids or elided ids not strictly ascending (or an id
    /// of 0), or an elided id that is not a created entity's.
    #[error("schema delta: {0} out of order")]
    Order(&'static str),
    /// A row of a kind the schema does not declare.
    #[error("schema delta: unknown kind {0}")]
    Kind(u16),
    /// A row or update whose number of values or strings is not its kind's.
    #[error("schema delta: entity {0} has the wrong number of values or strings")]
    Shape(u32),
    /// A value outside its field's range.
    #[error("schema delta: entity {id} value {value} out of range")]
    Range {
        /// The created entity's id, or the update's baseline index.
        id: u32,
        /// The value.
        value: i64,
    },
    /// A string over its field's limit, or an elided string that is not empty.
    #[error("schema delta: bad string of entity {0}")]
    Str(u32),
    /// An update mask that is empty or names a group its entity's kind has no field in, or
    /// a group of positions and velocities only that is all zero (sent by leaving it out).
    #[error("schema delta: bad update mask {0}")]
    Mask(u32),
    /// An update of a baseline index whose kind is unknown (past the given baseline).
    #[error("schema delta: update of baseline index {0} the baseline does not have")]
    Index(u32),
}

/// Why a packed body could not be decoded with a schema.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// The bit string itself is broken (truncated, over-long code, bad padding).
    #[error(transparent)]
    Bits(#[from] BitError),
    /// Baseline indices or created ids not strictly ascending, or past `2^32 - 1`.
    #[error("schema body: {0} out of order")]
    Order(&'static str),
    /// A kind code that names no kind.
    #[error("schema body: unknown entity kind {0}")]
    Kind(u32),
    /// A string over its limit or not UTF-8, or an entity with some strings left out and
    /// others not.
    #[error("schema body: bad string")]
    Str,
    /// An enum value past its count.
    #[error("schema body: enum value {0} out of range")]
    Enum(u32),
    /// An update mask that is empty, in the long form though it has a short code, or naming a
    /// group its entity's kind has no field in.
    #[error("schema body: bad update mask {0}")]
    Mask(u32),
    /// A group of positions and velocities only whose values are all zero, which is sent by
    /// leaving it out.
    #[error("schema body: all-zero residual or velocity change")]
    ZeroGroup,
    /// A count larger than the bits left could hold.
    #[error("schema body: count {0} exceeds the body")]
    Count(u32),
    /// An update of a baseline index past the end of the baseline.
    #[error("schema body: baseline index {0} is not an entity of the baseline")]
    UnknownIndex(u32),
}

/// The Exp-Golomb orders of one body.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Orders {
    /// Position residuals in updates.
    pos: u32,
    /// Velocity changes in updates.
    vel: u32,
    /// Positions in creates.
    xy: u32,
    /// Gaps between created ids.
    id: u32,
}

/// Calls `f(code, value)` for every value of `u`, in wire order; `false` when its values
/// run short of its mask (the rest is skipped).
fn each_update_value(
    layout: &KindLayout,
    u: &RowUpdate,
    values: &[i64],
    mut f: impl FnMut(Code, i64),
) -> bool {
    let mut values = values.iter();
    for bit in mask_bits_of(u.mask) {
        for field in layout.group(bit) {
            let Some(&v) = values.next() else {
                return false;
            };
            f(field.code, v);
        }
    }
    true
}

/// The gap before `index` after `prev` in an ascending list, wrapping when it is not (for
/// pricing; the encoder refuses such lists).
fn wrapping_gap(prev: Option<u32>, index: u32) -> u32 {
    match prev {
        None => index,
        Some(p) => index.wrapping_sub(p).wrapping_sub(1),
    }
}

/// The gap coded before `index` after `prev`, if `index` comes after it.
fn gap_after(prev: Option<u32>, index: u32) -> Option<u32> {
    match prev {
        None => Some(index),
        Some(p) => index.checked_sub(p)?.checked_sub(1),
    }
}

/// Calls `f(is_velocity, zigzag(value))` for every position residual and velocity change of
/// `delta`'s updates, in order.
fn each_stream_value(
    schema: &Schema,
    delta: &RowDelta,
    kind_of: &impl Fn(u32) -> Option<u16>,
    mut f: impl FnMut(bool, u32),
) {
    for u in &delta.updated {
        let Some(l) = schema.update_layout(u.index, kind_of) else {
            continue;
        };
        let values = delta.values_of(u);
        match l.plans.get(u.mask as usize) {
            // Planned: straight to the values that matter.
            Some(plan) => {
                for &(i, is_vel) in &plan.streams {
                    if let Some(&v) = values.get(i) {
                        f(is_vel, zigzag(v as i32));
                    }
                }
            }
            None => {
                each_update_value(l, u, values, |c, v| match c {
                    Code::Pos { .. } => f(false, zigzag(v as i32)),
                    Code::Vel { .. } => f(true, zigzag(v as i32)),
                    _ => {}
                });
            }
        }
    }
}

impl Orders {
    /// The orders for `delta`: each stream's order is [`best_order`]'s over the stream's
    /// zigzag-mapped values.
    fn choose(schema: &Schema, delta: &RowDelta, kind_of: &impl Fn(u32) -> Option<u16>) -> Orders {
        let max = (1 << ORDER_BITS) - 1;
        let (mut pos_mean, mut vel_mean) = (Mean::default(), Mean::default());
        each_stream_value(schema, delta, kind_of, |is_vel, z| {
            if is_vel {
                vel_mean.add(z);
            } else {
                pos_mean.add(z);
            }
        });
        let mut pos = OrderSearch::around(&pos_mean, max);
        let mut vel = OrderSearch::around(&vel_mean, max);
        each_stream_value(schema, delta, kind_of, |is_vel, z| {
            if is_vel {
                vel.add(z);
            } else {
                pos.add(z);
            }
        });
        let xy = delta.created.iter().flat_map(|e| {
            schema.layout(e.kind).into_iter().flat_map(move |l| {
                l.fields
                    .iter()
                    .filter(|f| matches!(f.code, Code::Pos { .. }))
                    .filter_map(move |f| e.values.get(f.slot))
                    .map(|&v| zigzag(v as i32))
            })
        });
        let prev = std::iter::once(0).chain(delta.created.iter().map(|e| e.id));
        let ids = delta
            .created
            .iter()
            .zip(prev)
            .map(|(e, p)| wrapping_gap(Some(p), e.id));
        Orders {
            pos: pos.best().0,
            vel: vel.best().0,
            xy: best_order(max, xy).0,
            id: best_order(max, ids).0,
        }
    }
}

/// Appends the packed body of `delta` to `out`; `kind_of` gives the kind of the baseline
/// entity at an index (updates need it). On an invalid delta, appends nothing.
pub fn encode(
    schema: &Schema,
    delta: &RowDelta,
    kind_of: impl Fn(u32) -> Option<u16>,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    let start = out.len();
    let written = write_body(schema, delta, &kind_of, out);
    if written.is_err() {
        out.truncate(start);
    }
    written
}

/// Writes a numeric value with its code (stream orders for positions and velocities given).
fn write_value(w: &mut BitWriter<'_>, code: Code, v: i64, pos_order: u32, vel_order: u32) {
    match code {
        Code::Pos { .. } => w.eg_signed(pos_order, v as i32),
        Code::Vel { .. } => w.eg_signed(vel_order, v as i32),
        Code::UBits(n) | Code::SBits(n) | Code::Enum { bits: n, .. } => w.bits(v as u32, n),
        Code::UEg(k) => w.eg(k, v as u32),
        Code::SEg(k) => w.eg_signed(k, v as i32),
        Code::Ref => w.eg(0, v as u32),
        Code::Str(_) => {}
    }
}

/// Checks a value against its field's range.
fn in_range(code: Code, v: i64, id: u32) -> Result<(), EncodeError> {
    match code.range() {
        Some((lo, hi)) if v < lo || v > hi => Err(EncodeError::Range { id, value: v }),
        _ => Ok(()),
    }
}

/// Writes the body, checking the delta on the way.
fn write_body(
    schema: &Schema,
    delta: &RowDelta,
    kind_of: &impl Fn(u32) -> Option<u16>,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    let k = Orders::choose(schema, delta, kind_of);
    let mut w = BitWriter::new(out);
    w.bits(k.pos, ORDER_BITS);
    w.bits(k.vel, ORDER_BITS);
    w.bits(k.xy, ORDER_BITS);
    w.bits(k.id, ORDER_BITS);

    w.eg(0, delta.removed.len() as u32);
    let mut prev = None;
    for &index in &delta.removed {
        let gap = gap_after(prev, index).ok_or(EncodeError::Order("removed indices"))?;
        w.eg(0, gap);
        prev = Some(index);
    }

    w.eg(0, delta.created.len() as u32);
    let mut prev_id = 0;
    let mut elided = delta.strings_elided.iter().peekable();
    for e in &delta.created {
        let gap = gap_after(Some(prev_id), e.id).ok_or(EncodeError::Order("created ids"))?;
        prev_id = e.id;
        let layout = schema.layout(e.kind).ok_or(EncodeError::Kind(e.kind))?;
        if e.values.len() != layout.n_values || e.strings.len() != layout.n_strings {
            return Err(EncodeError::Shape(e.id));
        }
        let elide = elided.next_if_eq(&&e.id).is_some();
        if elide && layout.n_strings == 0 {
            // Nothing on the wire would say so: the decoder could not give the id back.
            return Err(EncodeError::Str(e.id));
        }
        w.eg(k.id, gap);
        w.eg(0, u32::from(e.kind));
        for f in &layout.fields {
            if let Code::Str(max) = f.code {
                let s = &e.strings[f.slot];
                if elide {
                    if !s.is_empty() {
                        return Err(EncodeError::Str(e.id));
                    }
                    w.eg(0, 0);
                } else {
                    if s.len() > max as usize {
                        return Err(EncodeError::Str(e.id));
                    }
                    w.eg(0, s.len() as u32 + 1);
                    for b in s.bytes() {
                        w.bits(u32::from(b), 8);
                    }
                }
                continue;
            }
            let v = e.values[f.slot];
            in_range(f.code, v, e.id)?;
            let create_vel = match f.code {
                Code::Vel { create_order } => create_order,
                _ => 0,
            };
            write_value(&mut w, f.code, v, k.xy, create_vel);
        }
    }
    if elided.next().is_some() {
        return Err(EncodeError::Order("elided ids"));
    }

    w.eg(0, delta.updated.len() as u32);
    let mut prev = None;
    for u in &delta.updated {
        let gap = gap_after(prev, u.index).ok_or(EncodeError::Order("update indices"))?;
        prev = Some(u.index);
        let layout = schema
            .update_layout(u.index, kind_of)
            .ok_or(EncodeError::Index(u.index))?;
        if u.mask == 0 || u.mask & !layout.mask != 0 {
            return Err(EncodeError::Mask(u.mask));
        }
        let values = delta.values_of(u);
        if u.len as usize != values.len() {
            return Err(EncodeError::Shape(u.index));
        }
        w.eg(0, gap);
        write_mask(schema, &mut w, u.mask);
        if let Some(plan) = layout.plans.get(u.mask as usize) {
            if values.len() != plan.codes.len() {
                return Err(EncodeError::Shape(u.index));
            }
            for (&code, &v) in plan.codes.iter().zip(values) {
                in_range(code, v, u.index)?;
                write_value(&mut w, code, v, k.pos, k.vel);
            }
            if plan
                .predicted_groups
                .iter()
                .any(|g| values[g.clone()].iter().all(|&v| v == 0))
            {
                return Err(EncodeError::Mask(u.mask));
            }
            continue;
        }
        let expected: usize = mask_bits_of(u.mask).map(|b| layout.group(b).len()).sum();
        if values.len() != expected {
            return Err(EncodeError::Shape(u.index));
        }
        let mut values = values.iter();
        for bit in mask_bits_of(u.mask) {
            let mut all_zero = true;
            for &f in layout.group(bit) {
                let v = *values.next().expect("length checked");
                in_range(f.code, v, u.index)?;
                all_zero &= v == 0;
                write_value(&mut w, f.code, v, k.pos, k.vel);
            }
            if all_zero && layout.group_predicted[bit] {
                return Err(EncodeError::Mask(u.mask));
            }
        }
    }
    w.finish();
    Ok(())
}

/// Bits of a numeric value with its code (stream orders for positions and velocities given),
/// as [`write_value`] writes it.
fn value_bits(code: Code, v: i64, pos_order: u32, vel_order: u32) -> u32 {
    match code {
        Code::Pos { .. } => eg_len(pos_order, zigzag(v as i32)),
        Code::Vel { .. } => eg_len(vel_order, zigzag(v as i32)),
        Code::UBits(n) | Code::SBits(n) | Code::Enum { bits: n, .. } => n,
        Code::UEg(k) => eg_len(k, v as u32),
        Code::SEg(k) => eg_len(k, zigzag(v as i32)),
        Code::Ref => eg_len(0, v as u32),
        Code::Str(_) => 0,
    }
}

/// Bits of a create's fields (not its id gap) at these orders, strings sent unless `elided`.
fn create_field_bits(layout: &KindLayout, e: RowRef<'_>, kind: u16, xy: u32, elided: bool) -> u32 {
    let mut bits = eg_len(0, u32::from(kind));
    for f in &layout.fields {
        bits += match f.code {
            Code::Str(_) if elided => eg_len(0, 0),
            Code::Str(_) => {
                let len = e.strings.get(f.slot).map_or(0, String::len) as u32;
                eg_len(0, len + 1) + 8 * len
            }
            Code::Vel { create_order } => value_bits(f.code, e.values[f.slot], 0, create_order),
            code => value_bits(code, e.values[f.slot], xy, 0),
        };
    }
    bits
}

/// Bits of an update's mask code.
fn mask_code_bits(schema: &Schema, mask: u32) -> u32 {
    let short = schema.short_masks();
    match short.iter().position(|&m| m == mask) {
        Some(i) => i as u32 + 1,
        None => short.len() as u32 + schema.mask_bits(),
    }
}

/// Bits of an update (gap, mask code and values) at these orders.
fn update_bits(
    schema: &Schema,
    layout: &KindLayout,
    u: &RowUpdate,
    values: &[i64],
    gap: u32,
    pos: u32,
    vel: u32,
) -> u32 {
    let mut bits = eg_len(0, gap) + mask_code_bits(schema, u.mask);
    each_update_value(layout, u, values, |c, v| bits += value_bits(c, v, pos, vel));
    bits
}

/// Bytes [`encode`] writes for `delta` (which must be valid for it), computed without
/// writing them.
pub fn encoded_len(
    schema: &Schema,
    delta: &RowDelta,
    kind_of: impl Fn(u32) -> Option<u16>,
) -> usize {
    let k = Orders::choose(schema, delta, &kind_of);
    let mut bits = u64::from(4 * ORDER_BITS);
    bits += u64::from(eg_len(0, delta.removed.len() as u32));
    let mut prev = None;
    for &i in &delta.removed {
        bits += u64::from(eg_len(0, wrapping_gap(prev, i)));
        prev = Some(i);
    }
    bits += u64::from(eg_len(0, delta.created.len() as u32));
    let mut prev_id = 0;
    for e in &delta.created {
        bits += u64::from(eg_len(k.id, wrapping_gap(Some(prev_id), e.id)));
        prev_id = e.id;
        if let Some(l) = schema.layout(e.kind) {
            let elided = delta.strings_elided.binary_search(&e.id).is_ok();
            bits += u64::from(create_field_bits(l, e.row_ref(), e.kind, k.xy, elided));
        }
    }
    bits += u64::from(eg_len(0, delta.updated.len() as u32));
    let mut prev = None;
    for u in &delta.updated {
        if let Some(l) = schema.update_layout(u.index, &kind_of) {
            let gap = wrapping_gap(prev, u.index);
            bits += u64::from(update_bits(
                schema,
                l,
                u,
                delta.values_of(u),
                gap,
                k.pos,
                k.vel,
            ));
        }
        prev = Some(u.index);
    }
    bits.div_ceil(8) as usize
}

/// Order at which budget estimates price a create's positions (the exact one is chosen per
/// frame).
const TYPICAL_XY_ORDER: u32 = 12;
/// Order at which budget estimates price a created id's gap, and the gap they price.
const TYPICAL_ID_GAP: (u32, u32) = (8, 64);
/// Order at which budget estimates price a position residual.
const TYPICAL_POS_ORDER: u32 = 1;
/// Order at which budget estimates price a velocity change.
const TYPICAL_VEL_ORDER: u32 = 2;

/// Estimated bits of a create of `row`, its strings sent or (`elided`) left out, at typical orders (for byte
/// budgets: a frame's exact size is known only once its orders are chosen); `None` for a kind
/// the schema does not declare.
pub fn create_bits_estimate(schema: &Schema, row: RowRef<'_>, elided: bool) -> Option<u32> {
    let l = schema.layout(row.kind)?;
    let (k, gap) = TYPICAL_ID_GAP;
    Some(eg_len(k, gap) + create_field_bits(l, row, row.kind, TYPICAL_XY_ORDER, elided))
}

/// Estimated bits of update `u` (values `values`) of an entity of kind `kind`, following an
/// update of baseline index `prev` (`None`: the first), at typical orders; `None` for a kind
/// the schema does not declare.
pub fn update_bits_estimate(
    schema: &Schema,
    kind: u16,
    u: &RowUpdate,
    values: &[i64],
    prev: Option<u32>,
) -> Option<u32> {
    let l = schema.layout(kind)?;
    let gap = wrapping_gap(prev, u.index);
    Some(update_bits(
        schema,
        l,
        u,
        values,
        gap,
        TYPICAL_POS_ORDER,
        TYPICAL_VEL_ORDER,
    ))
}

/// Estimated bits of the update that turns `base` (at baseline index `index`), `age` ticks
/// old, into `cur`, following a change at baseline index `prev`, at typical orders: 0 when the
/// prediction is exact or the two are not the same entity (see [`rows::push_update`]).
/// `scratch` is cleared and reused, so budgeting a frame allocates nothing.
pub fn update_estimate_between(
    schema: &Schema,
    base: RowRef<'_>,
    cur: RowRef<'_>,
    age: u32,
    index: u32,
    prev: Option<u32>,
    scratch: &mut RowDelta,
) -> u32 {
    scratch.clear();
    if !rows::push_update(schema, base, cur, age, index, scratch) {
        return 0;
    }
    scratch
        .updated
        .first()
        .and_then(|u| update_bits_estimate(schema, cur.kind, u, scratch.values_of(u), prev))
        .unwrap_or(0)
}

/// Estimated bits of the removal of baseline index `index` after `prev`.
pub fn remove_bits_estimate(index: u32, prev: Option<u32>) -> u32 {
    eg_len(0, wrapping_gap(prev, index))
}

/// Writes an update mask: its short code, or the long form.
fn write_mask(schema: &Schema, w: &mut BitWriter<'_>, mask: u32) {
    let short = schema.short_masks();
    match short.iter().position(|&m| m == mask) {
        Some(i) => w.bits(1 << i, i as u32 + 1),
        None => {
            w.bits(0, short.len() as u32);
            w.bits(mask, schema.mask_bits());
        }
    }
}

/// Reads an update mask; a long form naming an empty mask or one with a short code is an
/// error.
fn read_mask(schema: &Schema, r: &mut BitReader<'_>) -> Result<u32, BodyError> {
    let short = schema.short_masks();
    for &m in short {
        if r.bit()? {
            return Ok(m);
        }
    }
    let m = r.bits(schema.mask_bits())?;
    if m == 0 || short.contains(&m) {
        return Err(BodyError::Mask(m));
    }
    Ok(m)
}

/// Reads a count whose items take at least `min_bits` each.
fn count(r: &mut BitReader<'_>, min_bits: usize) -> Result<u32, BodyError> {
    let n = r.eg(0)?;
    if (n as usize).saturating_mul(min_bits.max(1)) > r.remaining() {
        return Err(BodyError::Count(n));
    }
    Ok(n)
}

/// Reads the next index of an ascending list after `prev`.
fn next_index(r: &mut BitReader<'_>, prev: Option<u32>) -> Result<u32, BodyError> {
    let gap = r.eg(0)?;
    match prev {
        None => Ok(gap),
        Some(p) => p
            .checked_add(gap)
            .and_then(|v| v.checked_add(1))
            .ok_or(BodyError::Order("baseline index")),
    }
}

/// Reads a numeric value with its code.
fn read_value(r: &mut BitReader<'_>, code: Code, pos: u32, vel: u32) -> Result<i64, BodyError> {
    Ok(match code {
        Code::Pos { .. } => i64::from(r.eg_signed(pos)?),
        Code::Vel { .. } => i64::from(r.eg_signed(vel)?),
        Code::UBits(n) => i64::from(r.bits(n)?),
        Code::SBits(n) => {
            // Sign-extend the n-bit two's complement value.
            let v = r.bits(n)?;
            let shift = 32 - n;
            i64::from(((v << shift) as i32) >> shift)
        }
        Code::Enum { values, bits } => {
            let v = r.bits(bits)?;
            if v >= values {
                return Err(BodyError::Enum(v));
            }
            i64::from(v)
        }
        Code::UEg(k) => i64::from(r.eg(k)?),
        Code::SEg(k) => i64::from(r.eg_signed(k)?),
        Code::Ref => i64::from(r.eg(0)?),
        Code::Str(_) => 0,
    })
}

/// Fewest bits a field takes at the body's orders.
fn min_bits(code: Code, k: &Orders) -> usize {
    (match code {
        Code::Pos { .. } => k.xy + 1,
        Code::Vel { create_order } => create_order + 1,
        Code::UBits(n) | Code::SBits(n) | Code::Enum { bits: n, .. } => n,
        Code::UEg(o) | Code::SEg(o) => o + 1,
        Code::Ref | Code::Str(_) => 1,
    }) as usize
}

/// Decodes a packed body (exactly `bytes`, padding included) against a baseline whose entity
/// at an index is of kind `kind_of(index)`.
pub fn decode(
    schema: &Schema,
    bytes: &[u8],
    kind_of: impl Fn(u32) -> Option<u16>,
) -> Result<RowDelta, BodyError> {
    let mut r = BitReader::new(bytes);
    let k = Orders {
        pos: r.bits(ORDER_BITS)?,
        vel: r.bits(ORDER_BITS)?,
        xy: r.bits(ORDER_BITS)?,
        id: r.bits(ORDER_BITS)?,
    };
    let mut delta = RowDelta::default();

    let n = count(&mut r, 1)?;
    delta.removed.reserve(n as usize);
    let mut prev = None;
    for _ in 0..n {
        let i = next_index(&mut r, prev)?;
        delta.removed.push(i);
        prev = Some(i);
    }

    // The fewest bits a create takes: its id gap, its kind code and its fields.
    let create_min = (0..schema.kind_count() as u16)
        .filter_map(|c| schema.layout(c))
        .map(|l| k.id as usize + 2 + l.fields.iter().map(|f| min_bits(f.code, &k)).sum::<usize>())
        .min()
        .unwrap_or(1);
    let n = count(&mut r, create_min)?;
    delta.created.reserve(n as usize);
    let mut prev_id = 0u32;
    for _ in 0..n {
        let gap = r.eg(k.id)?;
        let id = prev_id
            .checked_add(gap)
            .and_then(|v| v.checked_add(1))
            .ok_or(BodyError::Order("created id"))?;
        prev_id = id;
        let code = r.eg(0)?;
        let kind = u16::try_from(code)
            .ok()
            .filter(|&c| usize::from(c) < schema.kind_count())
            .ok_or(BodyError::Kind(code))?;
        let layout = schema.layout(kind).ok_or(BodyError::Kind(code))?;
        let mut values = vec![0; layout.n_values];
        let mut strings = vec![String::new(); layout.n_strings];
        let mut elided = None;
        for f in &layout.fields {
            if let Code::Str(max) = f.code {
                let code = r.eg(0)? as usize;
                if elided.is_some_and(|e| e != (code == 0)) {
                    return Err(BodyError::Str);
                }
                elided = Some(code == 0);
                if code == 0 {
                    continue;
                }
                let len = code - 1;
                // Never trust the length: it must fit the limit and the bits left.
                if len > max as usize || len * 8 > r.remaining() {
                    return Err(BodyError::Str);
                }
                let mut s = Vec::with_capacity(len);
                for _ in 0..len {
                    s.push(r.bits(8)? as u8);
                }
                strings[f.slot] = String::from_utf8(s).map_err(|_| BodyError::Str)?;
                continue;
            }
            let create_vel = match f.code {
                Code::Vel { create_order } => create_order,
                _ => 0,
            };
            values[f.slot] = read_value(&mut r, f.code, k.xy, create_vel)?;
        }
        if elided == Some(true) {
            delta.strings_elided.push(id);
        }
        delta.created.push(EntityRow {
            id,
            kind,
            values,
            strings: strings.into(),
        });
    }

    // An update takes at least its gap's bit and a mask code's.
    let mask_min = if schema.short_masks().is_empty() {
        schema.mask_bits() as usize
    } else {
        1
    };
    let n = count(&mut r, 1 + mask_min)?;
    delta.updated.reserve(n as usize);
    let mut prev = None;
    for _ in 0..n {
        let index = next_index(&mut r, prev)?;
        prev = Some(index);
        let layout = schema
            .update_layout(index, &kind_of)
            .ok_or(BodyError::UnknownIndex(index))?;
        let mask = read_mask(schema, &mut r)?;
        if mask & !layout.mask != 0 {
            return Err(BodyError::Mask(mask));
        }
        let start = delta.update_values.len();
        if let Some(plan) = layout.plans.get(mask as usize) {
            for &code in &plan.codes {
                let v = read_value(&mut r, code, k.pos, k.vel)?;
                delta.update_values.push(v);
            }
            let values = &delta.update_values[start..];
            if plan
                .predicted_groups
                .iter()
                .any(|g| values[g.clone()].iter().all(|&v| v == 0))
            {
                return Err(BodyError::ZeroGroup);
            }
        } else {
            for bit in mask_bits_of(mask) {
                let mut all_zero = true;
                for f in layout.group(bit) {
                    let v = read_value(&mut r, f.code, k.pos, k.vel)?;
                    all_zero &= v == 0;
                    delta.update_values.push(v);
                }
                if all_zero && layout.group_predicted[bit] {
                    return Err(BodyError::ZeroGroup);
                }
            }
        }
        delta.updated.push(RowUpdate {
            index,
            mask,
            start: start as u32,
            len: (delta.update_values.len() - start) as u32,
        });
    }
    r.finish()?;
    Ok(delta)
}
