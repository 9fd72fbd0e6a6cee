// The client's replicated world for any game (PROTOCOL.md §5), in the rows of its schema: each
// State frame's world is built from the stored world of its baseline tick (positions predicted
// on by their velocities, then corrected), every world from the last delta's baseline onwards is
// kept, so a delta against any tick the client acknowledged applies, and the strings of every
// entity received are remembered, since the server leaves out strings the client holds. The
// Rust twin is `RowReplica` in crates/proto/src/schema/rows.rs.
//
// A row is `{id, kind, kindCode, values: {field: number}, strings: {field: string}}`; numeric
// values are wire values (positions in 1/scale world units, velocities in those per tick).

/** Why a frame could not be applied; `kind` names the Rust `ApplyError` variant. */
export class ApplyError extends Error {
  /**
   * @param {string} kind `Stale`, `BadBaselineAge`, `MissingBaseline`, `UnknownIndex`,
   *   `DuplicateEntity` or `UnknownName`
   * @param {string} message what happened
   */
  constructor(kind, message) {
    super(message);
    this.name = 'ApplyError';
    this.kind = kind;
  }
}

/**
 * Most worlds kept (`MAX_WORLDS` of the Rust replica): the most baselines a server may keep
 * (`game.history_ticks` <= 4096). Worlds older than the last delta's baseline are dropped as
 * frames arrive, so a replica holds far fewer in practice.
 */
export const MAX_WORLDS = 4096;
/** Most entities whose strings are remembered (`MAX_NAMES`): a bound on a hostile stream. */
export const MAX_STRINGS = 1 << 16;

const byId = (a, b) => a.id - b.id;

/**
 * Moves a copy of baseline row `e` on by `age` ticks and applies `update` (or null), as the
 * Rust `advance` does: velocities change first, so positions are predicted with the new
 * velocity, then residuals are added and the other fields replaced. Sums wrap as i32.
 */
function advanceRow(kind, e, age, update) {
  const values = { ...e.values };
  const changes = update?.values;
  if (changes) {
    for (const f of kind.fields) {
      if (!(f.name in changes) || f.type === 'pos') continue;
      values[f.name] = f.type === 'vel' ? (values[f.name] + changes[f.name]) | 0 : changes[f.name];
    }
  }
  for (const p of kind.positions) {
    if (p.vel !== null) values[p.name] = (values[p.name] + Math.imul(values[p.vel], age)) | 0;
  }
  if (changes) {
    for (const p of kind.positions) {
      if (p.name in changes) values[p.name] = (values[p.name] + changes[p.name]) | 0;
    }
  }
  return { ...e, values };
}

function unknownIndex(i) {
  return new ApplyError('UnknownIndex', `baseline index ${i} is not an entity of the baseline`);
}

/**
 * Builds the world `delta` describes from `base` (a Map id → row, left untouched), `age` ticks
 * old (PROTOCOL.md §5 step 3): every baseline row, in id order with its baseline index, is
 * dropped if removed, otherwise moved on and given its update; then the creates are added.
 * Returns a new Map id → row.
 */
export function applyDelta(codec, base, delta, age) {
  const { removed, updated } = delta;
  const world = new Map();
  let r = 0;
  let u = 0;
  const rows = [...base.values()].sort(byId);
  for (let i = 0; i < rows.length; i++) {
    const update = u < updated.length && updated[u].index === i ? updated[u++] : null;
    if (r < removed.length && removed[r] === i) {
      r += 1;
      // An entity both removed and updated.
      if (update) throw unknownIndex(i);
      continue;
    }
    const kind = codec.kind(rows[i].kindCode);
    const e = kind ? advanceRow(kindFields(kind), rows[i], age, update) : { ...rows[i] };
    world.set(e.id, e);
  }
  // Indices past the end of the baseline (or out of order).
  if (r < removed.length) throw unknownIndex(removed[r]);
  if (u < updated.length) throw unknownIndex(updated[u].index);
  for (const e of delta.created) {
    if (world.has(e.id)) throw new ApplyError('DuplicateEntity', `entity ${e.id} is created twice`);
    world.set(e.id, { ...e, values: { ...e.values }, strings: { ...e.strings } });
  }
  return world;
}

/** A kind's fields as `advanceRow` walks them (cached on the kind). */
function kindFields(kind) {
  if (!kind.advance) {
    kind.advance = {
      fields: kind.fields.map((f) => ({ name: f.name, type: f.sig === 'pos' ? 'pos' : f.sig === 'vel' ? 'vel' : 'other' })),
      positions: kind.positions,
    };
  }
  return kind.advance;
}

/**
 * The replicated world of one connection: apply each State frame's body in arrival order,
 * then acknowledge `newestTick`.
 */
export class Replica {
  /** @param {import('./schema.js').SchemaCodec} codec the served schema's decoder */
  constructor(codec) {
    this.codec = codec;
    /** Applied worlds, oldest first: [{tick, world: Map id → row}]. */
    this.worlds = [];
    /**
     * The strings of every entity created with a non-empty one: Map id → {field: string}
     * (ids are never reused in a match and strings never change), for creates that leave
     * them out.
     */
    this.strings = new Map();
  }

  /**
   * Forgets everything: a new connection starts with a full snapshot, and the server tracks
   * the strings a client holds per connection.
   */
  reset() {
    this.worlds = [];
    this.strings = new Map();
  }

  /** The strings held for entity `id` (`{field: string}`), or null. */
  stringsOf(id) {
    return this.strings.get(id) ?? null;
  }

  /** The newest applied tick, or 0 when nothing was applied (0 is never a frame's tick). */
  get newestTick() {
    return this.worlds.length ? this.worlds[this.worlds.length - 1].tick : 0;
  }

  /** The newest applied world (Map id → row), or null. */
  get world() {
    return this.worlds.length ? this.worlds[this.worlds.length - 1].world : null;
  }

  /** The world stored for `tick`, or null. */
  worldAt(tick) {
    const w = this.worlds.find((x) => x.tick === tick);
    return w ? w.world : null;
  }

  /**
   * The index in `worlds` of the baseline of a frame for `tick`, `age` ticks after it (-1 for
   * a full snapshot); throws an ApplyError for a stale frame or a baseline not held.
   */
  baseline(tick, age) {
    if (this.worlds.length && tick <= this.newestTick) {
      throw new ApplyError('Stale', `frame for tick ${tick} is not newer than applied tick ${this.newestTick}`);
    }
    if (age === 0) return -1;
    if (age > tick) throw new ApplyError('BadBaselineAge', `baseline age ${age} exceeds tick ${tick}`);
    const base = tick - age;
    const i = this.worlds.findIndex((x) => x.tick === base);
    if (i < 0) throw new ApplyError('MissingBaseline', `baseline tick ${base} is not held by the client`);
    return i;
  }

  /**
   * Decodes a State frame's packed body against its baseline and applies it; returns the new
   * world. A bad body is a DecodeError, a wrong baseline an ApplyError.
   */
  applyBody(tick, age, body) {
    const at = this.baseline(tick, age);
    const baseRows = at < 0 || this.codec.uniform ? [] : [...this.worlds[at].world.values()].sort(byId);
    // The baseline's kinds by index, for schemas whose kinds code updates differently.
    const delta = this.codec.decode(body, (i) => baseRows[i]?.kindCode);
    return this.apply(tick, age, delta);
  }

  /**
   * Applies the decoded delta of the frame for `tick`, `age` ticks after its baseline (0: a
   * full snapshot); on success the new world becomes the newest and is returned.
   */
  apply(tick, age, delta) {
    let at = this.baseline(tick, age);
    // Acknowledgements only move forward: worlds older than this baseline are never needed
    // (dropped even if the frame then fails, as the Rust replica does). A full snapshot drops
    // nothing: a delta the server computed before it saw this client's newest acknowledgement
    // may still refer to one of them.
    if (at > 0) {
      this.worlds.splice(0, at);
      at = 0;
    }
    const world = applyDelta(this.codec, at < 0 ? new Map() : this.worlds[at].world, delta, age);
    // Creates that left their strings out take the ones held (from an earlier frame).
    for (const id of delta.strings_elided ?? []) {
      const held = this.strings.get(id);
      if (held === undefined) {
        throw new ApplyError('UnknownName', `entity ${id} is created without strings the client holds`);
      }
      const e = world.get(id);
      if (e) e.strings = { ...held };
    }
    for (const e of delta.created) {
      const strings = Object.values(e.strings);
      if (strings.some((s) => s !== '') && this.strings.size < MAX_STRINGS && !this.strings.has(e.id)) {
        this.strings.set(e.id, { ...e.strings });
      }
    }
    if (this.worlds.length >= MAX_WORLDS) this.worlds.shift();
    this.worlds.push({ tick, world });
    return world;
  }
}
