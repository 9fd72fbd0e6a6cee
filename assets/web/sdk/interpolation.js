// Interpolation of remote entities for any game: the world is drawn a fixed delay (100 ms by
// default) in the past, between the two received snapshots around that moment, so entities
// move smoothly whatever the network jitter. Which fields move is the schema's business: every
// position field is interpolated (in world units, its wire value over its scale); other fields
// take the nearer snapshot's value unless the game blends them (an angle, say).

/** Snapshots kept, ms of server time. */
const KEEP_MS = 2000;

/**
 * A row in world units: each position field divided by its scale, each velocity by the scale
 * of the position it predicts (world units per tick). Other fields are left as they are.
 */
export function toWorldUnits(codec, row) {
  const kind = codec.kind(row.kindCode);
  if (!kind) return { ...row, values: { ...row.values } };
  const values = { ...row.values };
  for (const p of kind.positions) {
    values[p.name] = row.values[p.name] / p.scale;
    if (p.vel !== null) values[p.vel] = row.values[p.vel] / p.scale;
  }
  return { ...row, values };
}

/**
 * A blend for a value that wraps around at `period` (an angle in 1/period turns): it goes the
 * shortest way round, and stays in `0..period`.
 */
export function lerpWrapping(period) {
  const half = period / 2;
  return (a, b, t) => {
    const d = ((((b - a + half) % period) + period) % period) - half;
    return (((a + d * t) % period) + period) % period;
  };
}

/** Keeps recent worlds and samples them in the past. */
export class Interpolator {
  /**
   * @param {import('./schema.js').SchemaCodec} codec the served schema's decoder
   * @param {{delayMs?: number, teleportUnits?: number, blend?: Object<string, Function>}} options
   *   `delayMs`: how far in the past to draw; `teleportUnits`: a position that moves more than
   *   this (world units) within one snapshot step jumps instead (a respawn); `blend`: per field
   *   name, `(a, b, t) => value` for fields that should move smoothly too
   */
  constructor(codec, options = {}) {
    this.codec = codec;
    this.delayMs = options.delayMs ?? 100;
    this.teleportUnits = options.teleportUnits ?? 64;
    this.blend = options.blend ?? {};
    this.periodMs = 1000 / 30;
    /** [{tick, rows: Map id → row in world units}], oldest first. */
    this.snapshots = [];
    /** Local ms at server tick 0, smoothed; null before the first snapshot. */
    this.offset = null;
  }

  /** Sets the server's tick rate (from the Welcome). */
  setTickRate(rate) {
    this.periodMs = 1000 / Math.max(1, rate);
  }

  /** Forgets every snapshot and the clock (a new connection). */
  reset() {
    this.snapshots = [];
    this.offset = null;
  }

  /** Records the world (Map id → row, wire units) applied for `tick`, received at local `now` ms. */
  push(tick, world, now) {
    const rows = new Map();
    for (const [id, row] of world) rows.set(id, toWorldUnits(this.codec, row));
    this.snapshots.push({ tick, rows });
    const keepTicks = KEEP_MS / this.periodMs;
    while (this.snapshots.length > 2 && this.snapshots[0].tick < tick - keepTicks) this.snapshots.shift();
    // Clock: where tick 0 lies on the local clock. Early frames pull it in fast, late ones
    // push it out slowly, so the estimate tracks the least delayed arrivals.
    const sample = now - tick * this.periodMs;
    if (this.offset === null || Math.abs(sample - this.offset) > 1000) {
      this.offset = sample;
    } else {
      this.offset += (sample - this.offset) * (sample < this.offset ? 0.25 : 0.02);
    }
  }

  /** The (fractional) tick drawn at local time `now`. */
  renderTick(now) {
    if (this.offset === null) return 0;
    return (now - this.offset - this.delayMs) / this.periodMs;
  }

  /** Entities as they were at the render tick for `now`: a fresh Map id → row (world units). */
  sample(now) {
    const snaps = this.snapshots;
    if (!snaps.length) return new Map();
    const t = this.renderTick(now);
    // Always a fresh Map: callers may add to it without touching the stored snapshots.
    if (t >= snaps[snaps.length - 1].tick) return new Map(snaps[snaps.length - 1].rows);
    if (t <= snaps[0].tick) return new Map(snaps[0].rows);
    let i = snaps.length - 2;
    while (i > 0 && snaps[i].tick > t) i--;
    const a = snaps[i];
    const b = snaps[i + 1];
    const alpha = (t - a.tick) / (b.tick - a.tick);
    const out = new Map();
    for (const [id, rb] of b.rows) {
      const ra = a.rows.get(id);
      // Created between the two snapshots: appears once its first snapshot is reached.
      if (!ra) continue;
      out.set(id, this.between(ra, rb, alpha));
    }
    return out;
  }

  /** Row `ra` moved `alpha` of the way to `rb` (same entity). */
  between(ra, rb, alpha) {
    const newer = alpha < 0.5 ? ra : rb;
    const kind = this.codec.kind(rb.kindCode);
    if (!kind || ra.kindCode !== rb.kindCode) return newer;
    for (const p of kind.positions) {
      if (Math.abs(rb.values[p.name] - ra.values[p.name]) > this.teleportUnits) return newer;
    }
    const values = { ...newer.values };
    for (const p of kind.positions) {
      values[p.name] = ra.values[p.name] + (rb.values[p.name] - ra.values[p.name]) * alpha;
    }
    for (const [name, blend] of Object.entries(this.blend)) {
      if (name in values) values[name] = blend(ra.values[name], rb.values[name], alpha);
    }
    return { ...newer, values };
  }
}
