// Interpolation of remote entities: the world is drawn a fixed delay (100 ms by default) in the
// past, between the two received snapshots around that moment, so other players and projectiles
// move smoothly whatever the network jitter.

import { dequantize } from './proto.js';

/** Movement within one snapshot step beyond this (world units) is a teleport (a respawn). */
const TELEPORT_UNITS = 64;
/** Snapshots kept, ms of server time. */
const KEEP_MS = 2000;

/** Shortest-way interpolation of aim bytes (1/256 turn). */
export function lerpAim(a, b, t) {
  const d = ((b - a + 384) % 256) - 128;
  return (((a + d * t) % 256) + 256) % 256;
}

export class Interpolator {
  constructor(delayMs = 100) {
    this.delayMs = delayMs;
    this.periodMs = 1000 / 30;
    this.snapshots = []; // [{tick, entities: Map id -> entity with world-unit x, y, vx, vy}]
    this.offset = null; // local ms at server tick 0, smoothed
  }

  setTickRate(rate) {
    this.periodMs = 1000 / Math.max(1, rate);
  }

  reset() {
    this.snapshots = [];
    this.offset = null;
  }

  /** Records the world applied for `tick`, received at local time `now` (ms). */
  push(tick, world, now) {
    const entities = new Map();
    for (const [id, e] of world) {
      // Velocities become world units per tick, like the positions' units.
      entities.set(id, {
        ...e, x: dequantize(e.x), y: dequantize(e.y), vx: dequantize(e.vx), vy: dequantize(e.vy),
      });
    }
    this.snapshots.push({ tick, entities });
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

  /** Entities as they were at the render tick for `now`: a Map id -> entity (world units). */
  sample(now) {
    const snaps = this.snapshots;
    if (!snaps.length) return new Map();
    const t = this.renderTick(now);
    // Always a fresh Map: callers may add to it without touching the stored snapshots.
    if (t >= snaps[snaps.length - 1].tick) return new Map(snaps[snaps.length - 1].entities);
    if (t <= snaps[0].tick) return new Map(snaps[0].entities);
    let i = snaps.length - 2;
    while (i > 0 && snaps[i].tick > t) i--;
    const a = snaps[i];
    const b = snaps[i + 1];
    const alpha = (t - a.tick) / (b.tick - a.tick);
    const out = new Map();
    for (const [id, eb] of b.entities) {
      const ea = a.entities.get(id);
      if (!ea) {
        // Created between the two snapshots: appears once its first snapshot is reached.
        continue;
      }
      const dx = eb.x - ea.x;
      const dy = eb.y - ea.y;
      if (Math.abs(dx) > TELEPORT_UNITS || Math.abs(dy) > TELEPORT_UNITS) {
        out.set(id, alpha < 0.5 ? ea : eb);
        continue;
      }
      const newer = alpha < 0.5 ? ea : eb;
      out.set(id, {
        ...newer,
        x: ea.x + dx * alpha,
        y: ea.y + dy * alpha,
        aim: lerpAim(ea.aim, eb.aim, alpha),
      });
    }
    return out;
  }
}
