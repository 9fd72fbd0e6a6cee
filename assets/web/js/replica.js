// The client's replicated world (PROTOCOL.md §5): applies each State frame to the stored world
// of its baseline tick, keeping every world from the last baseline onwards, so a delta against
// any tick the client acknowledged can be applied. Mirrors `tickwire_proto::delta::Replica`.

/** Why a frame could not be applied; `kind` names the Rust `ApplyError` variant. */
export class ApplyError extends Error {
  constructor(kind, message) {
    super(message);
    this.name = 'ApplyError';
    this.kind = kind;
  }
}

/** Most worlds kept (`MAX_WORLDS` of the Rust replica); the server keeps far fewer baselines. */
const MAX_WORLDS = 256;

/**
 * Applies a delta to `world` (a Map id → entity, modified in place) in the documented order:
 * removes, creates, then updates.
 */
export function applyDelta(world, delta) {
  for (const id of delta.removed) {
    if (!world.delete(id)) throw new ApplyError('UnknownEntity', `entity ${id} does not exist in the baseline`);
  }
  for (const e of delta.created) {
    if (world.has(e.id)) throw new ApplyError('DuplicateEntity', `entity ${e.id} is created twice`);
    world.set(e.id, { ...e });
  }
  for (const u of delta.updated) {
    const e = world.get(u.id);
    if (!e) throw new ApplyError('UnknownEntity', `entity ${u.id} does not exist in the baseline`);
    if (u.pos) {
      e.x = (e.x + u.pos[0]) | 0;
      e.y = (e.y + u.pos[1]) | 0;
    }
    if (u.aim != null) e.aim = u.aim;
    if (u.hp != null) e.hp = u.hp;
    if (u.misc) {
      e.score = u.misc[0];
      e.flags = u.misc[1];
    }
  }
}

function cloneWorld(world) {
  const out = new Map();
  for (const [id, e] of world) out.set(id, { ...e });
  return out;
}

export class Replica {
  constructor() {
    /** Applied worlds, oldest first: [{tick, world}]. */
    this.worlds = [];
  }

  /** Forgets everything (a new connection starts with a full snapshot). */
  reset() {
    this.worlds = [];
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
      world = new Map();
    } else {
      if (age > tick) throw new ApplyError('BadBaselineAge', `baseline age ${age} exceeds tick ${tick}`);
      const base = tick - age;
      const i = this.worlds.findIndex((x) => x.tick === base);
      if (i < 0) throw new ApplyError('MissingBaseline', `baseline tick ${base} is not held by the client`);
      // Acknowledgements only move forward: worlds older than this baseline are never needed.
      this.worlds.splice(0, i);
      world = cloneWorld(this.worlds[0].world);
    }
    applyDelta(world, frame.delta);
    // Older worlds are kept even after a full snapshot: a delta the server computed before it
    // saw this client's newest acknowledgement may still refer to one of them.
    if (this.worlds.length >= MAX_WORLDS) this.worlds.shift();
    this.worlds.push({ tick, world });
    return world;
  }
}
