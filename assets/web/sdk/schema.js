// A delta-body decoder driven only by a game's declared replication schema: the JSON that the
// game port serves at `/schema.json` (`{hash, schema}`) and `tickwire schema` prints. It reads
// the bit-packed body of PROTOCOL.md §2.2 for any game; nothing here knows a game's fields. The
// Rust twin is crates/proto/src/schema/body.rs.
//
// Rows come out as `{id, kind, kindCode, values: {field: number}, strings: {field: string}}`
// and updates as `{index, mask, values: {field: number}}`: a position field's value in an
// update is its residual against the prediction, a velocity field's is its change (§5).

import { BitReader } from './bits.js';
import { DecodeError } from './wire.js';

/** Bits of each of the four per-frame Exp-Golomb orders at the start of a body. */
const ORDER_BITS = 4;
/** Largest u32, for id and index overflow checks. */
const U32_MAX = 0xffff_ffff;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Bits that hold `values` distinct values (at least 1). */
function enumBits(values) {
  let bits = 1;
  while (2 ** bits < values) bits++;
  return bits;
}

/**
 * How one field is read: its reader in a create and in an update, its fewest bits at a frame's
 * orders, and `sig`, its wire form in an update (equal sigs read alike).
 */
function fieldCode(kind) {
  const int = (coding, signed) => {
    if ('bits' in coding) {
      const n = coding.bits;
      const read = signed
        ? (r) => {
          const v = r.bits(n);
          return n === 32 ? v | 0 : (v ^ (1 << (n - 1))) - (1 << (n - 1));
        }
        : (r) => r.bits(n);
      return { create: read, update: read, min: () => n, sig: `${signed ? 's' : 'u'}bits${n}` };
    }
    const k = coding.exp_golomb;
    const read = signed ? (r) => r.egSigned(k) : (r) => r.eg(k);
    return { create: read, update: read, min: () => k + 1, sig: `${signed ? 's' : 'u'}eg${k}` };
  };
  switch (kind.type) {
    case 'pos':
      return { create: (r, o) => r.egSigned(o.xy), update: (r, o) => r.egSigned(o.pos), min: (o) => o.xy + 1, predicted: true, sig: 'pos' };
    case 'vel':
      return {
        create: (r) => r.egSigned(kind.create_order),
        update: (r, o) => r.egSigned(o.vel),
        min: () => kind.create_order + 1,
        predicted: true,
        sig: 'vel',
      };
    case 'u_int':
      return int(kind.coding, false);
    case 's_int':
      return int(kind.coding, true);
    case 'enum': {
      const bits = enumBits(kind.values);
      const read = (r) => {
        const v = r.bits(bits);
        if (v >= kind.values) throw new DecodeError(`schema body: enum value ${v} out of range`);
        return v;
      };
      return { create: read, update: read, min: () => bits, sig: `enum${kind.values}` };
    }
    case 'ref':
      return { create: (r) => r.eg(0), update: (r) => r.eg(0), min: () => 1, sig: 'ref' };
    case 'str':
      return { str: kind.max_bytes, min: () => 1, sig: 'str' };
    default:
      throw new DecodeError(`schema: unknown field type ${kind.type}`);
  }
}

/** Throws a DecodeError unless the served declaration has the shape of one. */
function checkDecl(decl) {
  const list = (v, what) => {
    if (!Array.isArray(v)) throw new DecodeError(`schema: ${what} must be a list`);
  };
  if (!decl || typeof decl !== 'object') throw new DecodeError('schema: not an object');
  list(decl.groups, 'groups');
  list(decl.short_masks, 'short_masks');
  list(decl.kinds, 'kinds');
  if (decl.kinds.length === 0) throw new DecodeError('schema: no entity kind');
  for (const k of decl.kinds) {
    list(k?.fields, `kind ${k?.name} fields`);
    for (const f of k.fields) {
      if (typeof f?.name !== 'string' || !f.kind) throw new DecodeError(`schema: bad field in kind ${k.name}`);
      // A field of an undeclared group would silently never be updated.
      if (f.group != null && !decl.groups.includes(f.group)) {
        throw new DecodeError(`schema: field ${k.name}.${f.name} names unknown group ${f.group}`);
      }
      if (f.kind.type === 'vel' && !k.fields.some((p) => p.name === f.kind.of && p.kind?.type === 'pos')) {
        throw new DecodeError(`schema: velocity ${k.name}.${f.name} predicts no position`);
      }
    }
  }
}

/**
 * A decoder for the bodies of one declared schema, and what the replica and interpolation
 * need to know of its kinds (which fields are positions, which velocities predict them).
 */
export class SchemaCodec {
  /**
   * @param {object} served `/schema.json`'s value (`{hash, schema}`) or the bare declaration;
   *   a malformed one is a DecodeError
   */
  constructor(served) {
    const decl = served?.schema ?? served;
    checkDecl(decl);
    this.name = decl.name;
    this.hash = served.hash ?? null;
    this.decl = decl;
    const groupBit = new Map(decl.groups.map((g, i) => [g, i]));
    this.maskBits = decl.groups.length;
    this.shortMasks = decl.short_masks.map((names) => names.reduce((m, g) => {
      if (!groupBit.has(g)) throw new DecodeError(`schema: unknown group ${g}`);
      return m | (1 << groupBit.get(g));
    }, 0));
    this.kinds = decl.kinds.map((k) => {
      const fields = k.fields.map((f) => ({ name: f.name, group: f.group, ...fieldCode(f.kind) }));
      // Per mask bit, the kind's fields of that group in field order (the update order).
      const groups = decl.groups.map((g) => fields.filter((f) => f.group === g));
      const mask = groups.reduce((m, fs, bit) => (fs.length ? m | (1 << bit) : m), 0);
      // Each position with the velocity that predicts it (if any) and its wire scale.
      const positions = k.fields.filter((f) => f.kind.type === 'pos').map((f) => ({
        name: f.name,
        scale: f.kind.scale,
        vel: k.fields.find((v) => v.kind.type === 'vel' && v.kind.of === f.name)?.name ?? null,
      }));
      return { name: k.name, fields, groups, mask, positions };
    });
    this.kindCodes = new Map(this.kinds.map((k, i) => [k.name, i]));
    // When every kind codes each group alike, an update can be read without its entity's kind.
    const shape = (k) => JSON.stringify(k.groups.map((fs) => fs.map((f) => f.sig)));
    this.uniform = this.kinds.every((k) => shape(k) === shape(this.kinds[0]));
  }

  /** The kind of code `code` (`{name, fields, positions, …}`), or undefined. */
  kind(code) {
    return this.kinds[code];
  }

  /**
   * Decodes a body (exactly `bytes`, padding included) into `{removed, created, updated,
   * strings_elided}`; anything malformed is a DecodeError. `kindOf(index)` names the kind code
   * of the baseline's entity at an index; it is only asked when kinds code updates differently.
   */
  decode(bytes, kindOf = () => null) {
    const r = new BitReader(bytes);
    const o = { pos: r.bits(ORDER_BITS), vel: r.bits(ORDER_BITS), xy: r.bits(ORDER_BITS), id: r.bits(ORDER_BITS) };
    const count = (minBits, what) => {
      const n = r.eg(0);
      if (n * Math.max(minBits, 1) > r.remaining()) throw new DecodeError(`schema body: ${what} count ${n} exceeds the bits left`);
      return n;
    };
    const nextIndex = (prev) => {
      const v = prev === null ? r.eg(0) : prev + r.eg(0) + 1;
      if (v > U32_MAX) throw new DecodeError('schema body: baseline index out of order');
      return v;
    };

    const removed = [];
    let prev = null;
    for (let n = count(1, 'removed'); n > 0; n--) {
      prev = nextIndex(prev);
      removed.push(prev);
    }

    const created = [];
    const stringsElided = [];
    const createMin = Math.min(...this.kinds.map((k) => o.id + 2 + k.fields.reduce((s, f) => s + f.min(o), 0)));
    let prevId = 0;
    for (let n = count(createMin, 'created'); n > 0; n--) {
      const id = prevId + r.eg(o.id) + 1;
      if (id > U32_MAX) throw new DecodeError('schema body: created id out of order');
      prevId = id;
      const code = r.eg(0);
      const kind = this.kinds[code];
      if (!kind) throw new DecodeError(`schema body: unknown entity kind ${code}`);
      const row = { id, kind: kind.name, kindCode: code, values: {}, strings: {} };
      let elided = null;
      for (const f of kind.fields) {
        if (f.str === undefined) {
          row.values[f.name] = f.create(r, o);
          continue;
        }
        const len = r.eg(0);
        // Every string of a create is sent, or every one is left out.
        if (elided !== null && elided !== (len === 0)) throw new DecodeError('schema body: strings partly left out');
        elided = len === 0;
        if (len === 0) {
          row.strings[f.name] = '';
          continue;
        }
        if (len - 1 > f.str || (len - 1) * 8 > r.remaining()) throw new DecodeError('schema body: string over its limit');
        const raw = new Uint8Array(len - 1);
        for (let i = 0; i < raw.length; i++) raw[i] = r.bits(8);
        try {
          row.strings[f.name] = utf8.decode(raw);
        } catch {
          throw new DecodeError('schema body: string is not UTF-8');
        }
      }
      if (elided) stringsElided.push(id);
      created.push(row);
    }

    const updated = [];
    const maskMin = this.shortMasks.length ? 1 : this.maskBits;
    prev = null;
    for (let n = count(1 + maskMin, 'updated'); n > 0; n--) {
      prev = nextIndex(prev);
      const kind = this.uniform ? this.kinds[0] : this.kinds[kindOf(prev)];
      if (!kind) throw new DecodeError(`schema body: no entity at baseline index ${prev}`);
      const mask = this.readMask(r);
      if (mask & ~kind.mask) throw new DecodeError(`schema body: mask ${mask} names groups the kind lacks`);
      const u = { index: prev, mask, values: {} };
      for (let bit = 0; bit < this.maskBits; bit++) {
        if (!(mask & (1 << bit))) continue;
        const fields = kind.groups[bit];
        let allZero = true;
        for (const f of fields) {
          const v = f.update(r, o);
          allZero &&= v === 0;
          u.values[f.name] = v;
        }
        // A group of positions and velocities only is never all zero: that is sent by leaving
        // it out (§2.2). A group that also holds another field may well be.
        if (allZero && fields.every((f) => f.predicted)) throw new DecodeError('schema body: zero velocity change or residual');
      }
      updated.push(u);
    }
    r.finish();
    return { removed, created, updated, strings_elided: stringsElided };
  }

  /** Reads an update's mask: a short code (`1`, `01`, …) or the long form (internal). */
  readMask(r) {
    for (const m of this.shortMasks) {
      if (r.bit()) return m;
    }
    const m = r.bits(this.maskBits);
    if (m === 0 || this.shortMasks.includes(m)) throw new DecodeError(`schema body: bad update mask ${m}`);
    return m;
  }
}
