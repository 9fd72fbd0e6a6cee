//! A game's replication schema, declared once: its entity kinds, each an ordered list of typed
//! fields, the mask groups an update is made of and the short codes of the commonest masks.
//!
//! Everything the delta format needs to know about a game's entities is in a [`Schema`]: the
//! generic rows ([`rows`]) and the bit-packed body ([`body`]) are driven by it alone, so a game
//! declares its fields once, in its own crate, and nowhere else (arena's layout, the one the
//! golden vectors in `tests/golden/protocol.json` were first written in, is
//! `tickwire_arena::schema`).
//!
//! # Declaration rules
//! - The declaration order of a kind's fields is its **create order**: a created entity carries
//!   every field in that order.
//! - A field with a mask group can change; an update carries, for each group in its mask (lowest
//!   bit first), the kind's fields of that group in declaration order. A field without a group
//!   is part of the entity's **identity**: it never changes, and a change re-creates the entity.
//! - Positions ([`FieldKind::Pos`]) and velocities ([`FieldKind::Vel`]) must have a group;
//!   strings ([`FieldKind::Str`]) must not (they are sent once per client).
//! - Every field takes at least one bit on the wire (an enum has at least two values), so a
//!   decoder allocates at most in proportion to the bits it reads.
//!
//! # Schema hash
//! [`Schema::hash`] is the CRC-32 (IEEE 802.3, as `crc32fast` computes it) of the schema's
//! canonical encoding, in which a number is 4 bytes little-endian, a string its byte length as
//! a number then its UTF-8 bytes, and a list its length as a number then its items:
//!
//! ```text
//! "tickwire-schema/1" (17 bytes, no length)  name  groups:list(string)
//! short_masks:list(number: the mask's bits)  kinds:list(kind)
//! kind   = name  fields:list(field)
//! field  = name  group:(number: bit index + 1, 0 for none)  ftype
//! ftype  = tag:1 byte then its parameters as numbers (a velocity's position as its field
//!          index): 1 pos(scale)  2 vel(of, create_order)  3 uint(coding)  4 sint(coding)
//!          5 enum(values)  6 ref  7 str(max_bytes)
//! coding = 1 byte (1 bits, 2 exp-golomb) then the width or order as a number
//! ```
//!
//! Two schemas that declare the same thing have the same hash; any change to a name, a field,
//! its order, its group or its coding changes the encoding (and so, CRC collisions aside, the
//! hash).

pub mod body;
pub mod rows;

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

/// Most entity kinds a schema declares.
pub const MAX_KINDS: usize = 256;
/// Most fields one kind declares.
pub const MAX_FIELDS: usize = 64;
/// Most mask groups a schema declares (an update mask is a `u32`).
pub const MAX_GROUPS: usize = 32;
/// Most short mask codes a schema declares.
pub const MAX_SHORT_MASKS: usize = 8;
/// Longest string field a schema may declare, in bytes of UTF-8.
pub const MAX_STR_BYTES: u32 = 1024;
/// Most plans ([`MaskPlan`]) a schema builds: one per kind and mask, so only schemas with
/// few groups have them (arena: 2 kinds, 32 masks); the others walk their groups.
const MAX_PLANS: usize = 4096;
/// Largest Exp-Golomb order a field may declare (the format's orders fit in four bits).
pub const MAX_EG_ORDER: u8 = crate::bits::MAX_ORDER as u8;

/// How an integer field is coded in the bit string.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntCoding {
    /// A fixed-width field of this many bits (1 to 32); signed values in two's complement.
    Bits(u8),
    /// An Exp-Golomb code of this order (0 to 15), the bit-level varint; signed values are
    /// zigzag-mapped first.
    ExpGolomb(u8),
}

/// What a field is, which decides its values, its codes and how it is predicted.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FieldKind {
    /// A quantized position coordinate (i32 in 1/`scale` world units). A create codes it in the
    /// frame's coordinate stream, an update codes its residual against the prediction in the
    /// frame's residual stream (orders chosen per frame).
    Pos {
        /// Wire units per world unit.
        scale: u32,
    },
    /// A velocity (i32 wire units per tick) that predicts the position field `of`: a baseline
    /// `age` ticks old is expected at `pos + vel * age`. An update codes the change of the
    /// velocity in the frame's velocity stream; a create codes it at `create_order`.
    Vel {
        /// Name of the predicted [`FieldKind::Pos`] field of the same kind.
        of: String,
        /// Exp-Golomb order of the velocity in a create.
        create_order: u8,
    },
    /// An unsigned integer (at most `u32`), sent as it is.
    UInt {
        /// How it is coded.
        coding: IntCoding,
    },
    /// A signed integer (at most `i32`), sent as it is.
    SInt {
        /// How it is coded.
        coding: IntCoding,
    },
    /// One of `values` values (`0..values`), in the fewest bits that hold them.
    Enum {
        /// Number of values, at least 2.
        values: u32,
    },
    /// The id of another entity (0 for none), an order-0 Exp-Golomb code.
    Ref,
    /// A UTF-8 string of at most `max_bytes` bytes, sent once per client: a create of an
    /// entity whose strings the client already holds leaves them out.
    Str {
        /// Longest value, in bytes.
        max_bytes: u32,
    },
}

/// One field of an entity kind.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Field {
    /// Name, unique within its kind.
    pub name: String,
    /// What the field is.
    pub kind: FieldKind,
    /// The mask group that carries its changes; `None` makes it part of the identity.
    pub group: Option<String>,
}

impl Field {
    /// A field of mask group `group`.
    pub fn new(name: &str, kind: FieldKind, group: &str) -> Field {
        Field {
            name: name.to_owned(),
            kind,
            group: Some(group.to_owned()),
        }
    }

    /// An identity field: never updated, a change re-creates the entity.
    pub fn identity(name: &str, kind: FieldKind) -> Field {
        Field {
            name: name.to_owned(),
            kind,
            group: None,
        }
    }
}

/// One entity kind: its name and its fields in create order.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct KindDecl {
    /// Name, unique within the schema.
    pub name: String,
    /// Fields in create order.
    pub fields: Vec<Field>,
}

/// A schema as a game writes it; [`Schema::new`] validates it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SchemaDecl {
    /// The game's name.
    pub name: String,
    /// Mask group names; group `i` is mask bit `1 << i`.
    pub groups: Vec<String>,
    /// The masks with short codes, most frequent first, each as its group names: the `i`-th
    /// is coded as `i` zero bits and a one; any other mask as `len` zero bits and the mask.
    pub short_masks: Vec<Vec<String>>,
    /// Entity kinds; a kind's code on the wire is its index.
    pub kinds: Vec<KindDecl>,
}

/// Why a declaration is not a valid schema.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    /// The schema declares no entity kind, or more than [`MAX_KINDS`].
    #[error("a schema declares 1 to {MAX_KINDS} entity kinds, not {0}")]
    KindCount(usize),
    /// A kind declares more than [`MAX_FIELDS`] fields.
    #[error("kind {kind} declares {count} fields, more than {MAX_FIELDS}")]
    FieldCount {
        /// The kind.
        kind: String,
        /// Fields it declares.
        count: usize,
    },
    /// More than [`MAX_GROUPS`] mask groups.
    #[error("{0} mask groups, more than {MAX_GROUPS}")]
    GroupCount(usize),
    /// More than [`MAX_SHORT_MASKS`] short masks.
    #[error("{0} short masks, more than {MAX_SHORT_MASKS}")]
    ShortMaskCount(usize),
    /// A schema, kind, field or group name that is empty.
    #[error("an empty name in {0}")]
    EmptyName(&'static str),
    /// Two kinds, two groups or two fields of one kind share a name.
    #[error("duplicate {what} name {name:?}")]
    Duplicate {
        /// Kind, group or field.
        what: &'static str,
        /// The name.
        name: String,
    },
    /// A field or short mask names a group the schema does not declare.
    #[error("unknown mask group {0:?}")]
    UnknownGroup(String),
    /// A declared group that no field of any kind belongs to (a dead mask bit).
    #[error("mask group {0:?} has no field")]
    UnusedGroup(String),
    /// A short mask that is empty, names a group twice or repeats another short mask.
    #[error("short mask {0} is empty or repeated")]
    BadShortMask(usize),
    /// A field's parameters are out of range (a width, an order, a scale, a count).
    #[error("field {kind}.{field}: {why}")]
    BadParameter {
        /// The kind.
        kind: String,
        /// The field.
        field: String,
        /// What is wrong.
        why: &'static str,
    },
    /// A position or velocity without a mask group, or a string with one.
    #[error("field {kind}.{field}: {why}")]
    BadGroup {
        /// The kind.
        kind: String,
        /// The field.
        field: String,
        /// What is wrong.
        why: &'static str,
    },
    /// A velocity whose `of` names no position field of its kind, or a position that two
    /// velocities predict.
    #[error(
        "velocity {kind}.{field} must predict a position of its kind no other velocity predicts"
    )]
    BadVelocity {
        /// The kind.
        kind: String,
        /// The velocity field.
        field: String,
    },
}

/// How one field is coded, resolved from its [`FieldKind`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Code {
    /// A position; `vel` is the value slot of the velocity that predicts it.
    Pos {
        /// The predicting velocity's value slot.
        vel: Option<usize>,
    },
    /// A velocity, with its create order.
    Vel {
        /// Exp-Golomb order in a create.
        create_order: u32,
    },
    /// Unsigned, `n` bits.
    UBits(u32),
    /// Unsigned, Exp-Golomb of this order.
    UEg(u32),
    /// Signed two's complement, `n` bits.
    SBits(u32),
    /// Signed zigzag Exp-Golomb of this order.
    SEg(u32),
    /// An enum of `values` values in `bits` bits.
    Enum {
        /// Number of values.
        values: u32,
        /// Bits of its code.
        bits: u32,
    },
    /// An entity id.
    Ref,
    /// A string of at most this many bytes.
    Str(u32),
}

impl Code {
    /// The inclusive range of a numeric field's values (`None` for a string).
    pub(crate) fn range(self) -> Option<(i64, i64)> {
        let i32_range = (i64::from(i32::MIN), i64::from(i32::MAX));
        Some(match self {
            Code::Pos { .. } | Code::Vel { .. } | Code::SEg(_) => i32_range,
            Code::UBits(n) => (0, (1i64 << n) - 1),
            Code::SBits(n) => (-(1i64 << (n - 1)), (1i64 << (n - 1)) - 1),
            Code::UEg(_) | Code::Ref => (0, i64::from(u32::MAX)),
            Code::Enum { values, .. } => (0, i64::from(values) - 1),
            Code::Str(_) => return None,
        })
    }

    /// True for positions and velocities, whose update values are a residual and a change
    /// (never all zero in a group made of them only).
    pub(crate) fn predicted(self) -> bool {
        matches!(self, Code::Pos { .. } | Code::Vel { .. })
    }
}

/// A field of a kind with its names resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FieldLayout {
    /// How it is coded.
    pub(crate) code: Code,
    /// Its index in the row's `values` (numeric fields) or `strings` (strings).
    pub(crate) slot: usize,
    /// Its mask group's bit index, `None` for an identity field.
    pub(crate) group: Option<u32>,
}

/// A kind with its names resolved, in the shape the codec walks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct KindLayout {
    /// Fields in create order.
    pub(crate) fields: Vec<FieldLayout>,
    /// Numeric fields (a row's `values` length).
    pub(crate) n_values: usize,
    /// String fields (a row's `strings` length).
    pub(crate) n_strings: usize,
    /// This kind's fields that have a group, by group bit then declaration order (one vector
    /// rather than one per group: the codec walks them for every update).
    group_fields: Vec<FieldLayout>,
    /// Where each group's fields start in `group_fields`, with the end last.
    group_starts: Vec<usize>,
    /// Per mask group bit: true when its fields here are all positions and velocities.
    pub(crate) group_predicted: Vec<bool>,
    /// The groups this kind has fields in.
    pub(crate) mask: u32,
    /// `(position slot, velocity slot)` of each predicted position.
    pub(crate) predictions: Vec<(usize, usize)>,
    /// Value slots of the numeric identity fields.
    pub(crate) identity_slots: Vec<usize>,
    /// The fields that have a group, with its bit index.
    pub(crate) grouped: Vec<(FieldLayout, u32)>,
    /// Per mask, how an update with it is coded (empty when the schema has too many
    /// kinds and groups to plan them, see [`MAX_PLANS`]).
    pub(crate) plans: Vec<MaskPlan>,
}

/// How the values of an update with one mask are coded for one kind, laid out flat so that
/// the codec's hot loops need not walk groups and fields.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct MaskPlan {
    /// Each value's code, in wire order.
    pub(crate) codes: Vec<Code>,
    /// The value ranges of groups made of positions and velocities only, which are never all
    /// zero (that is sent by leaving the group out).
    pub(crate) predicted_groups: Vec<std::ops::Range<usize>>,
    /// Where the residuals and velocity changes are among the values (`true`: a velocity).
    pub(crate) streams: Vec<(usize, bool)>,
}

impl MaskPlan {
    /// The plan of `mask` for `layout`.
    fn new(layout: &KindLayout, mask: u32) -> MaskPlan {
        let mut plan = MaskPlan::default();
        for g in mask_bits_of(mask) {
            let start = plan.codes.len();
            for f in layout.group(g) {
                match f.code {
                    Code::Pos { .. } => plan.streams.push((plan.codes.len(), false)),
                    Code::Vel { .. } => plan.streams.push((plan.codes.len(), true)),
                    _ => {}
                }
                plan.codes.push(f.code);
            }
            if layout.group_predicted.get(g) == Some(&true) {
                plan.predicted_groups.push(start..plan.codes.len());
            }
        }
        plan
    }
}

impl KindLayout {
    /// True when `row` has this kind's number of values and strings.
    pub(crate) fn fits(&self, row: &rows::EntityRow) -> bool {
        row.values.len() == self.n_values && row.strings.len() == self.n_strings
    }

    /// This kind's fields of group `bit`, in declaration order (none past the last group).
    pub(crate) fn group(&self, bit: usize) -> &[FieldLayout] {
        match (self.group_starts.get(bit), self.group_starts.get(bit + 1)) {
            (Some(&a), Some(&b)) => &self.group_fields[a..b],
            _ => &[],
        }
    }
}

/// The bit indices set in `mask`, lowest first.
pub(crate) fn mask_bits_of(mut mask: u32) -> impl Iterator<Item = usize> {
    std::iter::from_fn(move || {
        (mask != 0).then(|| {
            let bit = mask.trailing_zeros();
            mask &= mask - 1;
            bit as usize
        })
    })
}

/// A validated replication schema; build one with [`Schema::new`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "SchemaDecl", into = "SchemaDecl")]
pub struct Schema {
    /// What the game declared.
    decl: SchemaDecl,
    /// The short masks as bits.
    short_masks: Vec<u32>,
    /// Per kind, the resolved layout.
    kinds: Vec<KindLayout>,
    /// True when every kind's groups hold fields of the same codes, so an update's wire form
    /// does not depend on its entity's kind (and the codec need not look the kind up).
    uniform_updates: bool,
    /// [`Schema::hash`], computed once.
    hash: u32,
}

impl TryFrom<SchemaDecl> for Schema {
    type Error = SchemaError;
    fn try_from(decl: SchemaDecl) -> Result<Schema, SchemaError> {
        Schema::new(decl)
    }
}

impl From<Schema> for SchemaDecl {
    fn from(s: Schema) -> SchemaDecl {
        s.decl
    }
}

/// `Err(Duplicate)` when `names` repeats one.
fn unique<'a>(what: &'static str, names: impl Iterator<Item = &'a str>) -> Result<(), SchemaError> {
    let mut seen = std::collections::HashSet::new();
    for n in names {
        if n.is_empty() {
            return Err(SchemaError::EmptyName(what));
        }
        if !seen.insert(n) {
            return Err(SchemaError::Duplicate {
                what,
                name: n.to_owned(),
            });
        }
    }
    Ok(())
}

impl Schema {
    /// Validates `decl` and resolves its names.
    pub fn new(decl: SchemaDecl) -> Result<Schema, SchemaError> {
        if decl.name.is_empty() {
            return Err(SchemaError::EmptyName("schema"));
        }
        if decl.kinds.is_empty() || decl.kinds.len() > MAX_KINDS {
            return Err(SchemaError::KindCount(decl.kinds.len()));
        }
        if decl.groups.len() > MAX_GROUPS {
            return Err(SchemaError::GroupCount(decl.groups.len()));
        }
        if decl.short_masks.len() > MAX_SHORT_MASKS {
            return Err(SchemaError::ShortMaskCount(decl.short_masks.len()));
        }
        unique("group", decl.groups.iter().map(String::as_str))?;
        unique("kind", decl.kinds.iter().map(|k| k.name.as_str()))?;
        let group_bit = |name: &str| {
            decl.groups
                .iter()
                .position(|g| g == name)
                .map(|i| i as u32)
                .ok_or_else(|| SchemaError::UnknownGroup(name.to_owned()))
        };
        let mut short_masks = Vec::with_capacity(decl.short_masks.len());
        for (i, names) in decl.short_masks.iter().enumerate() {
            let mut mask = 0u32;
            for n in names {
                let bit = 1 << group_bit(n)?;
                if mask & bit != 0 {
                    return Err(SchemaError::BadShortMask(i));
                }
                mask |= bit;
            }
            if mask == 0 || short_masks.contains(&mask) {
                return Err(SchemaError::BadShortMask(i));
            }
            short_masks.push(mask);
        }
        let mut kinds = Vec::with_capacity(decl.kinds.len());
        let mut used = 0u32;
        let plan = ((decl.kinds.len() as u64) << decl.groups.len()) <= MAX_PLANS as u64;
        for k in &decl.kinds {
            let mut layout = Self::resolve_kind(k, decl.groups.len(), &group_bit)?;
            used |= layout.mask;
            if plan {
                layout.plans = (0..1u32 << decl.groups.len())
                    .map(|m| MaskPlan::new(&layout, m))
                    .collect();
            }
            kinds.push(layout);
        }
        if let Some(g) = (0..decl.groups.len()).find(|&i| used & (1 << i) == 0) {
            return Err(SchemaError::UnusedGroup(decl.groups[g].clone()));
        }
        let hash = crc32fast::hash(&canonical(&decl, &short_masks));
        let codes = |k: &KindLayout| -> Vec<Vec<Code>> {
            (0..decl.groups.len())
                .map(|g| k.group(g).iter().map(|f| f.code).collect())
                .collect()
        };
        let first = codes(&kinds[0]);
        let uniform_updates = kinds.iter().all(|k| codes(k) == first);
        Ok(Schema {
            decl,
            short_masks,
            kinds,
            uniform_updates,
            hash,
        })
    }

    /// Resolves one kind: codes, slots, groups and which velocity predicts which position.
    fn resolve_kind(
        k: &KindDecl,
        n_groups: usize,
        group_bit: &impl Fn(&str) -> Result<u32, SchemaError>,
    ) -> Result<KindLayout, SchemaError> {
        if k.fields.len() > MAX_FIELDS {
            return Err(SchemaError::FieldCount {
                kind: k.name.clone(),
                count: k.fields.len(),
            });
        }
        unique("field", k.fields.iter().map(|f| f.name.as_str()))?;
        let bad = |f: &Field, why: &'static str| SchemaError::BadParameter {
            kind: k.name.clone(),
            field: f.name.clone(),
            why,
        };
        let bad_group = |f: &Field, why: &'static str| SchemaError::BadGroup {
            kind: k.name.clone(),
            field: f.name.clone(),
            why,
        };
        let coding = |f: &Field, c: IntCoding, signed: bool| match c {
            IntCoding::Bits(n) if (1..=32).contains(&n) => Ok(if signed {
                Code::SBits(u32::from(n))
            } else {
                Code::UBits(u32::from(n))
            }),
            IntCoding::Bits(_) => Err(bad(f, "a bit width is 1 to 32")),
            IntCoding::ExpGolomb(k) if k <= MAX_EG_ORDER => Ok(if signed {
                Code::SEg(u32::from(k))
            } else {
                Code::UEg(u32::from(k))
            }),
            IntCoding::ExpGolomb(_) => Err(bad(f, "an Exp-Golomb order is 0 to 15")),
        };
        let (mut n_values, mut n_strings) = (0, 0);
        let mut fields = Vec::with_capacity(k.fields.len());
        for f in &k.fields {
            let code = match &f.kind {
                FieldKind::Pos { scale } => {
                    if *scale == 0 {
                        return Err(bad(f, "a position's scale is at least 1"));
                    }
                    Code::Pos { vel: None }
                }
                FieldKind::Vel { create_order, .. } => {
                    if *create_order > MAX_EG_ORDER {
                        return Err(bad(f, "an Exp-Golomb order is 0 to 15"));
                    }
                    Code::Vel {
                        create_order: u32::from(*create_order),
                    }
                }
                FieldKind::UInt { coding: c } => coding(f, *c, false)?,
                FieldKind::SInt { coding: c } => coding(f, *c, true)?,
                FieldKind::Enum { values } => {
                    if *values < 2 {
                        return Err(bad(f, "an enum has at least 2 values"));
                    }
                    Code::Enum {
                        values: *values,
                        bits: 32 - (values - 1).leading_zeros(),
                    }
                }
                FieldKind::Ref => Code::Ref,
                FieldKind::Str { max_bytes } => {
                    if *max_bytes == 0 || *max_bytes > MAX_STR_BYTES {
                        return Err(bad(f, "a string's max_bytes is 1 to 1024"));
                    }
                    Code::Str(*max_bytes)
                }
            };
            let group = f.group.as_deref().map(group_bit).transpose()?;
            match (code, group) {
                (Code::Pos { .. } | Code::Vel { .. }, None) => {
                    return Err(bad_group(f, "a position or velocity needs a mask group"));
                }
                (Code::Str(_), Some(_)) => {
                    return Err(bad_group(f, "a string is sent once: it has no mask group"));
                }
                _ => {}
            }
            let slot = if matches!(code, Code::Str(_)) {
                n_strings += 1;
                n_strings - 1
            } else {
                n_values += 1;
                n_values - 1
            };
            fields.push(FieldLayout { code, slot, group });
        }
        // Link each velocity to the position it predicts.
        for (f, decl) in k.fields.iter().enumerate() {
            let FieldKind::Vel { of, .. } = &decl.kind else {
                continue;
            };
            let vel_slot = fields[f].slot;
            let target = k.fields.iter().position(|p| &p.name == of);
            match target.map(|t| &mut fields[t].code) {
                Some(Code::Pos { vel: vel @ None }) => *vel = Some(vel_slot),
                _ => {
                    return Err(SchemaError::BadVelocity {
                        kind: k.name.clone(),
                        field: decl.name.clone(),
                    });
                }
            }
        }
        let mut group_fields = Vec::new();
        let mut group_starts = Vec::with_capacity(n_groups + 1);
        let mut mask = 0;
        for g in 0..n_groups as u32 {
            group_starts.push(group_fields.len());
            for f in fields.iter().filter(|f| f.group == Some(g)) {
                group_fields.push(*f);
                mask |= 1 << g;
            }
        }
        group_starts.push(group_fields.len());
        let group_predicted = (0..n_groups)
            .map(|g| {
                group_fields[group_starts[g]..group_starts[g + 1]]
                    .iter()
                    .all(|f| f.code.predicted())
            })
            .collect();
        let predictions = fields
            .iter()
            .filter_map(|f| match f.code {
                Code::Pos { vel: Some(v) } => Some((f.slot, v)),
                _ => None,
            })
            .collect();
        let identity_slots = fields
            .iter()
            .filter(|f| f.group.is_none() && !matches!(f.code, Code::Str(_)))
            .map(|f| f.slot)
            .collect();
        let grouped = fields
            .iter()
            .filter_map(|f| f.group.map(|g| (*f, g)))
            .collect();
        Ok(KindLayout {
            plans: Vec::new(),
            group_fields,
            group_starts,
            grouped,
            predictions,
            identity_slots,
            fields,
            n_values,
            n_strings,
            group_predicted,
            mask,
        })
    }

    /// What the game declared.
    pub fn decl(&self) -> &SchemaDecl {
        &self.decl
    }

    /// The game's name.
    pub fn name(&self) -> &str {
        &self.decl.name
    }

    /// The CRC-32 of the canonical encoding (see the module docs): equal for equal schemas.
    pub fn hash(&self) -> u32 {
        self.hash
    }

    /// Number of entity kinds (kind codes are `0..kind_count()`).
    pub fn kind_count(&self) -> usize {
        self.kinds.len()
    }

    /// The code of the kind named `name`.
    pub fn kind_code(&self, name: &str) -> Option<u16> {
        self.decl
            .kinds
            .iter()
            .position(|k| k.name == name)
            .map(|i| i as u16)
    }

    /// Bits of an update mask: one per group.
    pub fn mask_bits(&self) -> u32 {
        self.decl.groups.len() as u32
    }

    /// The mask bit of the group named `name`.
    pub fn group_mask(&self, name: &str) -> Option<u32> {
        self.decl
            .groups
            .iter()
            .position(|g| g == name)
            .map(|i| 1 << i)
    }

    /// The short masks as bits, most frequent first.
    pub fn short_masks(&self) -> &[u32] {
        &self.short_masks
    }

    /// `(values, strings)` lengths of a row of kind `kind`, `None` for an unknown kind.
    pub fn row_shape(&self, kind: u16) -> Option<(usize, usize)> {
        self.kinds
            .get(usize::from(kind))
            .map(|k| (k.n_values, k.n_strings))
    }

    /// The slot of field `field` of kind `kind` in its row's `values` (numeric fields) or
    /// `strings` (strings).
    pub fn slot(&self, kind: u16, field: &str) -> Option<usize> {
        let k = usize::from(kind);
        let i = self
            .decl
            .kinds
            .get(k)?
            .fields
            .iter()
            .position(|f| f.name == field)?;
        Some(self.kinds[k].fields[i].slot)
    }

    /// A kind's position as `(x slot, y slot, wire units per world unit)`: its first two
    /// position fields, in declaration order (`None` when it declares fewer than two). An
    /// engine places the entity there for areas of interest.
    pub fn position(&self, kind: u16) -> Option<(usize, usize, u32)> {
        let k = usize::from(kind);
        let decl = self.decl.kinds.get(k)?;
        let mut pos = decl
            .fields
            .iter()
            .zip(&self.kinds[k].fields)
            .filter_map(|(d, l)| match d.kind {
                FieldKind::Pos { scale } => Some((l.slot, scale)),
                _ => None,
            });
        let ((x, scale), (y, _)) = (pos.next()?, pos.next()?);
        Some((x, y, scale))
    }

    /// The value slot of a kind's owner: its first reference field (`None` without one). An
    /// engine counts an entity as owned by the entity it refers to there (a projectile by its
    /// shooter), for areas of interest.
    pub fn owner_slot(&self, kind: u16) -> Option<usize> {
        let k = usize::from(kind);
        let decl = self.decl.kinds.get(k)?;
        decl.fields
            .iter()
            .zip(&self.kinds[k].fields)
            .find(|(d, _)| d.kind == FieldKind::Ref)
            .map(|(_, l)| l.slot)
    }

    /// The resolved layout of kind `kind`.
    pub(crate) fn layout(&self, kind: u16) -> Option<&KindLayout> {
        self.kinds.get(usize::from(kind))
    }

    /// True when an update's wire form does not depend on its entity's kind (every kind's
    /// groups hold fields of the same codes, as in arena): the codec then never asks for the
    /// baseline's kinds.
    pub fn uniform_updates(&self) -> bool {
        self.uniform_updates
    }

    /// The layout that codes an update of baseline index `index`: any kind's when updates
    /// are uniform (kind 0's codes stand for all), else the baseline entity's.
    pub(crate) fn update_layout(
        &self,
        index: u32,
        kind_of: impl Fn(u32) -> Option<u16>,
    ) -> Option<&KindLayout> {
        if self.uniform_updates {
            return self.kinds.first();
        }
        kind_of(index).and_then(|k| self.layout(k))
    }

    /// The Markdown tables PROTOCOL.md includes for this schema: the mask groups with their
    /// codes, then one table per kind with every field in create order.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let d = &self.decl;
        // `write!` into a String cannot fail.
        let _ = writeln!(s, "Schema `{}`, hash `{:08x}`.\n", d.name, self.hash);
        let _ = writeln!(s, "| mask bit | group |");
        let _ = writeln!(s, "|---|---|");
        for (i, g) in d.groups.iter().enumerate() {
            let _ = writeln!(s, "| {} | {g} |", 1u32 << i);
        }
        let _ = writeln!(s);
        let _ = writeln!(s, "| short mask | groups | code |");
        let _ = writeln!(s, "|---|---|---|");
        for (i, &m) in self.short_masks.iter().enumerate() {
            let _ = writeln!(
                s,
                "| {m} | {} | `{}1` |",
                d.short_masks[i].join(" \\| "),
                "0".repeat(i)
            );
        }
        let _ = writeln!(
            s,
            "| any other | | `{}` then mask:bits({}) |",
            "0".repeat(self.short_masks.len()),
            d.groups.len()
        );
        for (code, k) in d.kinds.iter().enumerate() {
            let _ = writeln!(s, "\n**{}** (kind code {code})\n", k.name);
            let _ = writeln!(s, "| # | field | type | group | create | update |");
            let _ = writeln!(s, "|---|---|---|---|---|---|");
            for (i, f) in k.fields.iter().enumerate() {
                let code = self.kinds[code].fields[i].code;
                let (ty, create, update) = describe(&f.kind, code);
                let group = f.group.as_deref().unwrap_or("identity");
                let update = if f.group.is_some() {
                    update
                } else {
                    "—".into()
                };
                let _ = writeln!(
                    s,
                    "| {i} | {} | {ty} | {group} | {create} | {update} |",
                    f.name
                );
            }
        }
        s
    }
}

/// A field's type, create code and update code as Markdown text.
fn describe(kind: &FieldKind, code: Code) -> (String, String, String) {
    let int = |c: Code| match c {
        Code::UBits(n) | Code::SBits(n) => format!("bits({n})"),
        Code::UEg(k) => format!("eg({k})"),
        Code::SEg(k) => format!("se({k})"),
        Code::Enum { bits, .. } => format!("bits({bits})"),
        Code::Ref => "eg(0)".into(),
        _ => String::new(),
    };
    match kind {
        FieldKind::Pos { scale } => (
            format!("position, 1/{scale} unit"),
            "se(k_xy)".into(),
            "residual se(k_pos)".into(),
        ),
        FieldKind::Vel { of, create_order } => (
            format!("velocity of {of}"),
            format!("se({create_order})"),
            "change se(k_vel)".into(),
        ),
        FieldKind::UInt { .. } => ("unsigned".into(), int(code), int(code)),
        FieldKind::SInt { .. } => ("signed".into(), int(code), int(code)),
        FieldKind::Enum { values } => (format!("enum of {values}"), int(code), int(code)),
        FieldKind::Ref => ("entity id".into(), int(code), int(code)),
        FieldKind::Str { max_bytes } => (
            format!("string ≤ {max_bytes} B, once per client"),
            "code:eg(0) [bits(8)*(code-1)]; 0: left out".into(),
            String::new(),
        ),
    }
}

/// The canonical encoding the hash is computed over (see the module docs).
fn canonical(d: &SchemaDecl, short_masks: &[u32]) -> Vec<u8> {
    fn num(out: &mut Vec<u8>, v: u32) {
        out.extend_from_slice(&v.to_le_bytes());
    }
    fn text(out: &mut Vec<u8>, s: &str) {
        num(out, s.len() as u32);
        out.extend_from_slice(s.as_bytes());
    }
    fn coding(out: &mut Vec<u8>, c: IntCoding) {
        match c {
            IntCoding::Bits(n) => out.extend_from_slice(&[1, n, 0, 0, 0]),
            IntCoding::ExpGolomb(k) => out.extend_from_slice(&[2, k, 0, 0, 0]),
        }
    }
    let mut out = b"tickwire-schema/1".to_vec();
    text(&mut out, &d.name);
    num(&mut out, d.groups.len() as u32);
    for g in &d.groups {
        text(&mut out, g);
    }
    num(&mut out, short_masks.len() as u32);
    for &m in short_masks {
        num(&mut out, m);
    }
    num(&mut out, d.kinds.len() as u32);
    for k in &d.kinds {
        text(&mut out, &k.name);
        num(&mut out, k.fields.len() as u32);
        for f in &k.fields {
            text(&mut out, &f.name);
            let group = f
                .group
                .as_ref()
                .and_then(|g| d.groups.iter().position(|x| x == g))
                .map_or(0, |i| i as u32 + 1);
            num(&mut out, group);
            match &f.kind {
                FieldKind::Pos { scale } => {
                    out.push(1);
                    num(&mut out, *scale);
                }
                FieldKind::Vel { of, create_order } => {
                    out.push(2);
                    let of = k.fields.iter().position(|p| &p.name == of).unwrap_or(0);
                    num(&mut out, of as u32);
                    num(&mut out, u32::from(*create_order));
                }
                FieldKind::UInt { coding: c } => {
                    out.push(3);
                    coding(&mut out, *c);
                }
                FieldKind::SInt { coding: c } => {
                    out.push(4);
                    coding(&mut out, *c);
                }
                FieldKind::Enum { values } => {
                    out.push(5);
                    num(&mut out, *values);
                }
                FieldKind::Ref => out.push(6),
                FieldKind::Str { max_bytes } => {
                    out.push(7);
                    num(&mut out, *max_bytes);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-kind schema with a position, its velocity and a string.
    fn small() -> SchemaDecl {
        SchemaDecl {
            name: "g".into(),
            groups: vec!["M".into()],
            short_masks: vec![vec!["M".into()]],
            kinds: vec![KindDecl {
                name: "K".into(),
                fields: vec![
                    Field::new("x", FieldKind::Pos { scale: 4 }, "M"),
                    Field::new(
                        "vx",
                        FieldKind::Vel {
                            of: "x".into(),
                            create_order: 3,
                        },
                        "M",
                    ),
                    Field::identity("s", FieldKind::Str { max_bytes: 9 }),
                ],
            }],
        }
    }

    #[test]
    fn the_hash_is_the_crc_of_the_documented_encoding() {
        let mut bytes = b"tickwire-schema/1".to_vec();
        let num = |b: &mut Vec<u8>, v: u32| b.extend_from_slice(&v.to_le_bytes());
        let text = |b: &mut Vec<u8>, s: &str| {
            b.extend_from_slice(&(s.len() as u32).to_le_bytes());
            b.extend_from_slice(s.as_bytes());
        };
        text(&mut bytes, "g");
        num(&mut bytes, 1);
        text(&mut bytes, "M");
        num(&mut bytes, 1);
        num(&mut bytes, 1); // short mask M = bit 1
        num(&mut bytes, 1);
        text(&mut bytes, "K");
        num(&mut bytes, 3);
        text(&mut bytes, "x");
        num(&mut bytes, 1); // group M (bit index 0) + 1
        bytes.push(1);
        num(&mut bytes, 4);
        text(&mut bytes, "vx");
        num(&mut bytes, 1);
        bytes.push(2);
        num(&mut bytes, 0); // of: field index of x
        num(&mut bytes, 3);
        text(&mut bytes, "s");
        num(&mut bytes, 0); // identity
        bytes.push(7);
        num(&mut bytes, 9);
        let s = Schema::new(small()).unwrap();
        assert_eq!(s.hash(), crc32fast::hash(&bytes));
    }

    #[test]
    fn invalid_declarations_have_typed_errors() {
        /// A change that spoils the declaration, and the error it must give.
        type Case = (fn(&mut SchemaDecl), fn(&SchemaError) -> bool);
        let cases: Vec<Case> = vec![
            (
                |d| d.kinds.clear(),
                |e| matches!(e, SchemaError::KindCount(0)),
            ),
            (
                |d| d.name.clear(),
                |e| matches!(e, SchemaError::EmptyName(_)),
            ),
            (
                |d| d.kinds.push(d.kinds[0].clone()),
                |e| matches!(e, SchemaError::Duplicate { what: "kind", .. }),
            ),
            (
                |d| d.kinds[0].fields[2].name = "x".into(),
                |e| matches!(e, SchemaError::Duplicate { what: "field", .. }),
            ),
            (
                |d| d.kinds[0].fields[0].group = Some("Q".into()),
                |e| matches!(e, SchemaError::UnknownGroup(_)),
            ),
            (
                |d| d.groups.push("N".into()),
                |e| matches!(e, SchemaError::UnusedGroup(_)),
            ),
            (
                |d| d.short_masks.push(vec!["M".into()]),
                |e| matches!(e, SchemaError::BadShortMask(1)),
            ),
            (
                |d| d.short_masks[0].clear(),
                |e| matches!(e, SchemaError::BadShortMask(0)),
            ),
            (
                |d| d.kinds[0].fields[0].group = None,
                |e| matches!(e, SchemaError::BadGroup { .. }),
            ),
            (
                |d| d.kinds[0].fields[2].group = Some("M".into()),
                |e| matches!(e, SchemaError::BadGroup { .. }),
            ),
            (
                |d| {
                    d.kinds[0].fields[1].kind = FieldKind::Vel {
                        of: "s".into(),
                        create_order: 0,
                    }
                },
                |e| matches!(e, SchemaError::BadVelocity { .. }),
            ),
            (
                |d| {
                    let v = d.kinds[0].fields[1].clone();
                    d.kinds[0].fields.push(Field {
                        name: "vx2".into(),
                        ..v
                    });
                },
                |e| matches!(e, SchemaError::BadVelocity { .. }),
            ),
            (
                |d| d.kinds[0].fields[0].kind = FieldKind::Pos { scale: 0 },
                |e| matches!(e, SchemaError::BadParameter { .. }),
            ),
            (
                |d| {
                    d.kinds[0]
                        .fields
                        .push(Field::new("e", FieldKind::Enum { values: 1 }, "M"))
                },
                |e| matches!(e, SchemaError::BadParameter { .. }),
            ),
            (
                |d| {
                    let coding = IntCoding::Bits(33);
                    d.kinds[0]
                        .fields
                        .push(Field::new("b", FieldKind::UInt { coding }, "M"));
                },
                |e| matches!(e, SchemaError::BadParameter { .. }),
            ),
            (
                |d| {
                    let coding = IntCoding::ExpGolomb(16);
                    d.kinds[0]
                        .fields
                        .push(Field::new("b", FieldKind::SInt { coding }, "M"));
                },
                |e| matches!(e, SchemaError::BadParameter { .. }),
            ),
            (
                |d| d.kinds[0].fields[2].kind = FieldKind::Str { max_bytes: 0 },
                |e| matches!(e, SchemaError::BadParameter { .. }),
            ),
            (
                |d| {
                    d.kinds[0].fields = (0..=MAX_FIELDS)
                        .map(|i| Field::new(&format!("f{i}"), FieldKind::Ref, "M"))
                        .collect();
                },
                |e| matches!(e, SchemaError::FieldCount { .. }),
            ),
            (
                |d| d.groups = (0..=MAX_GROUPS).map(|i| format!("g{i}")).collect(),
                |e| matches!(e, SchemaError::GroupCount(_)),
            ),
            (
                |d| d.short_masks = vec![vec!["M".into()]; MAX_SHORT_MASKS + 1],
                |e| matches!(e, SchemaError::ShortMaskCount(_)),
            ),
        ];
        assert!(Schema::new(small()).is_ok());
        for (i, (spoil, expected)) in cases.into_iter().enumerate() {
            let mut d = small();
            spoil(&mut d);
            let e = Schema::new(d).expect_err("invalid");
            assert!(expected(&e), "case {i}: {e}");
        }
    }
}
