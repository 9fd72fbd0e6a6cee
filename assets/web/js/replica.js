// The client's replicated world (PROTOCOL.md §5): builds each State frame's world from the
// stored world of its baseline tick (entities predicted on by their velocity, then corrected),
// keeping every world from the last baseline onwards, so a delta against any tick the client
// acknowledged can be applied, and remembering every entity name received, since the server
// leaves out names the client already holds. Mirrors `tickwire_proto::delta::{apply, Replica}`.

/** Why a frame could not be applied; `kind` names the Rust `ApplyError` variant. */
export class ApplyError extends Error {
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
const MAX_WORLDS = 4096;
/** Most names remembered (`MAX_NAMES`); a match has far fewer named entities (players). */
const MAX_NAMES = 1 << 16;

const byId = (a, b) => a.id - b.id;

/**
 * Moves a copy of baseline entity `e` on by `age` ticks and applies `update` (or null) to it
 * (`EntityState::advance`): the velocity change first, then the prediction `x += vx * age`
 * with the new velocity, then the position residual and the replaced fields. Sums wrap as i32.
 */
export function advance(e, age, update) {
  const out = { ...e };
  if (update?.vel) {
    out.vx = (out.vx + update.vel[0]) | 0;
    out.vy = (out.vy + update.vel[1]) | 0;
  }
  out.x = (out.x + Math.imul(out.vx, age)) | 0;
  out.y = (out.y + Math.imul(out.vy, age)) | 0;
  if (!update) return out;
  if (update.pos) {
    out.x = (out.x + update.pos[0]) | 0;
    out.y = (out.y + update.pos[1]) | 0;
  }
  if (update.aim != null) out.aim = update.aim;
  if (update.hp != null) out.hp = update.hp;
  if (update.misc) {
    out.score = update.misc[0];
    out.flags = update.misc[1];
  }
  return out;
}

function unknownIndex(i) {
  return new ApplyError('UnknownIndex', `baseline index ${i} is not an entity of the baseline`);
}

/**
 * Builds the world `delta` describes from `base` (a Map id → entity, left untouched), `age`
 * ticks old (PROTOCOL.md §5 step 3): every baseline entity, in id order with its baseline
 * index, is dropped if removed, otherwise moved on by its velocity and given its update; then
 * the created entities are added. Returns a new Map id → entity.
 */
export function applyDelta(base, delta, age) {
  const { removed, updated } = delta;
  const world = new Map();
  let r = 0;
  let u = 0;
  const entities = [...base.values()].sort(byId);
  for (let i = 0; i < entities.length; i++) {
    const update = u < updated.length && updated[u].index === i ? updated[u++] : null;
    if (r < removed.length && removed[r] === i) {
      r += 1;
      // An entity both removed and updated.
      if (update) throw unknownIndex(i);
      continue;
    }
    const e = advance(entities[i], age, update);
    world.set(e.id, e);
  }
  // Indices past the end of the baseline (or out of order).
  if (r < removed.length) throw unknownIndex(removed[r]);
  if (u < updated.length) throw unknownIndex(updated[u].index);
  for (const e of delta.created) {
    if (world.has(e.id)) throw new ApplyError('DuplicateEntity', `entity ${e.id} is created twice`);
    world.set(e.id, { ...e });
  }
  return world;
}

export class Replica {
  constructor() {
    /** Applied worlds, oldest first: [{tick, world}]. */
    this.worlds = [];
    /**
     * Every non-empty entity name received in an applied frame: Map id → name (ids are never
     * reused in a match and names never change), for creates that leave the name out.
     */
    this.names = new Map();
  }

  /**
   * Forgets everything: a new connection starts with a full snapshot, and the server tracks
   * the names a client holds per connection.
   */
  reset() {
    this.worlds = [];
    this.names = new Map();
  }

  /** The name held for entity `id`, or null. */
  nameOf(id) {
    return this.names.get(id) ?? null;
  }

  /** The newest applied tick, or 0 when nothing was applied (0 is never a frame's tick). */
  get newestTick() {
    return this.worlds.length ? this.worlds[this.worlds.length - 1].tick : 0;
  }

  /** The newest applied world (Map id → entity), or null. */
  get world() {
    return this.worlds.length ? this.worlds[this.worlds.length - 1].world : null;
  }

  /** The world stored for `tick`, or null. */
  worldAt(tick) {
    const w = this.worlds.find((x) => x.tick === tick);
    return w ? w.world : null;
  }

  /** Applies one decoded State message (`{header, delta}`) and returns the new world. */
  apply(frame) {
    const { tick, baseline_age: age } = frame.header;
    if (this.worlds.length && tick <= this.newestTick) {
      throw new ApplyError('Stale', `frame for tick ${tick} is not newer than applied tick ${this.newestTick}`);
    }
    let world;
    if (age === 0) {
      world = applyDelta(new Map(), frame.delta, 0);
    } else {
      if (age > tick) throw new ApplyError('BadBaselineAge', `baseline age ${age} exceeds tick ${tick}`);
      const base = tick - age;
      const i = this.worlds.findIndex((x) => x.tick === base);
      if (i < 0) throw new ApplyError('MissingBaseline', `baseline tick ${base} is not held by the client`);
      // Acknowledgements only move forward: worlds older than this baseline are never needed.
      this.worlds.splice(0, i);
      world = applyDelta(this.worlds[0].world, frame.delta, age);
    }
    // Creates that left the name out take the one held (from an earlier frame).
    const elided = frame.delta.names_elided ?? [];
    for (const id of elided) {
      const name = this.names.get(id);
      if (name === undefined) {
        throw new ApplyError('UnknownName', `entity ${id} is created without a name the client holds`);
      }
      const e = world.get(id);
      if (e) e.name = name;
    }
    for (const e of frame.delta.created) {
      if (e.name !== '' && this.names.size < MAX_NAMES && !this.names.has(e.id)) this.names.set(e.id, e.name);
    }
    // Older worlds are kept even after a full snapshot: a delta the server computed before it
    // saw this client's newest acknowledgement may still refer to one of them.
    if (this.worlds.length >= MAX_WORLDS) this.worlds.shift();
    this.worlds.push({ tick, world });
    return world;
  }
}
