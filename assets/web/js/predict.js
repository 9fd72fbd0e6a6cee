// Client-side prediction of the local player: a float32 port of the server's movement step
// (crates/sim/src/game.rs `move_players` with physics.rs `resolve_circle_box` and
// `clamp_to_bounds`), and arena's rules for the SDK's reconciliation against the newest input
// the server has applied.
//
// Every operation is rounded to float32 in the order the Rust code performs it, so with the same
// inputs the prediction lands on the server's positions exactly; tests/golden/movement.json holds
// a trace of the real simulation that tests/golden/predict.test.mjs replays.

import { Predictor } from '../sdk/tickwire.js';
import { FLAG_ALIVE, dequantize } from './arena.js';

const f = Math.fround;

/** Most movement sub-steps per tick (2 × MAX_RADII_PER_TICK in the sim). */
const MAX_SUBSTEPS = 64;
/** Speed below which a player without movement intent comes to rest, world units/s. */
const MIN_SPEED = 1;

/** The physics constants the server's /game.json reports, with the server's defaults. */
export const DEFAULT_PHYSICS = Object.freeze({
  tick_rate: 30,
  player_radius: 16,
  player_accel: 2000,
  player_friction: 6,
  player_max_speed: 300,
});

/** The movement rules of one match: physics constants plus the map (from the Welcome). */
export class Movement {
  constructor(physics, map) {
    const p = { ...DEFAULT_PHYSICS, ...physics };
    this.dt = f(1 / f(p.tick_rate));
    this.r = f(p.player_radius);
    this.accelDt = f(f(p.player_accel) * this.dt);
    this.damping = Math.max(f(1 - f(f(p.player_friction) * this.dt)), 0);
    this.maxSpeed = f(p.player_max_speed);
    this.maxSpeedSq = f(this.maxSpeed * this.maxSpeed);
    this.halfR = f(0.5 * this.r);
    this.width = f(map.width);
    this.height = f(map.height);
    this.walls = map.walls.map((w) => {
      const minX = f(w.x);
      const minY = f(w.y);
      return { minX, minY, maxX: f(minX + f(w.w)), maxY: f(minY + f(w.h)) };
    });
  }

  /**
   * Advances `s` = {x, y, vx, vy} (world units, units/s) by one tick of input
   * `{move_x, move_y}` exactly as the server does, in place.
   */
  step(s, input) {
    let mx = f(Math.max(input.move_x, -127) / 127);
    let my = f(Math.max(input.move_y, -127) / 127);
    const lenSq = f(f(mx * mx) + f(my * my));
    if (lenSq > 1) {
      const len = f(Math.sqrt(lenSq));
      mx = f(mx / len);
      my = f(my / len);
    }
    s.vx = f(s.vx + f(mx * this.accelDt));
    s.vy = f(s.vy + f(my * this.accelDt));
    s.vx = f(s.vx * this.damping);
    s.vy = f(s.vy * this.damping);
    const speedSq = f(f(s.vx * s.vx) + f(s.vy * s.vy));
    if (speedSq > this.maxSpeedSq) {
      const k = f(this.maxSpeed / f(Math.sqrt(speedSq)));
      s.vx = f(s.vx * k);
      s.vy = f(s.vy * k);
    } else if (mx === 0 && my === 0 && speedSq < MIN_SPEED * MIN_SPEED) {
      s.vx = 0;
      s.vy = 0;
    }
    const dist = f(f(Math.sqrt(f(f(s.vx * s.vx) + f(s.vy * s.vy)))) * this.dt);
    const n = Math.min(Math.max(Math.ceil(f(dist / this.halfR)), 1), MAX_SUBSTEPS);
    const subDt = f(this.dt / n);
    for (let i = 0; i < n; i++) {
      s.x = f(s.x + f(s.vx * subDt));
      s.y = f(s.y + f(s.vy * subDt));
      for (const w of this.walls) this.resolve(s, w);
      this.clamp(s);
    }
  }

  /** `resolve_circle_box`: pushes the circle out of a wall, removing velocity into it. */
  resolve(s, w) {
    const cx = Math.min(Math.max(s.x, w.minX), w.maxX);
    const cy = Math.min(Math.max(s.y, w.minY), w.maxY);
    const dx = f(s.x - cx);
    const dy = f(s.y - cy);
    const distSq = f(f(dx * dx) + f(dy * dy));
    const r = this.r;
    if (distSq >= f(r * r)) return;
    let nx;
    let ny;
    if (distSq > 0) {
      const dist = f(Math.sqrt(distSq));
      nx = f(dx / dist);
      ny = f(dy / dist);
      s.x = f(cx + f(nx * r));
      s.y = f(cy + f(ny * r));
    } else {
      const faces = [
        [f(s.x - w.minX), -1, 0],
        [f(w.maxX - s.x), 1, 0],
        [f(s.y - w.minY), 0, -1],
        [f(w.maxY - s.y), 0, 1],
      ];
      let best = faces[0];
      for (let i = 1; i < 4; i++) if (faces[i][0] < best[0]) best = faces[i];
      nx = best[1];
      ny = best[2];
      const push = f(best[0] + r);
      s.x = f(s.x + f(nx * push));
      s.y = f(s.y + f(ny * push));
    }
    const into = f(f(s.vx * nx) + f(s.vy * ny));
    if (into < 0) {
      s.vx = f(s.vx - f(nx * into));
      s.vy = f(s.vy - f(ny * into));
    }
  }

  /** `clamp_to_bounds`: keeps the circle inside the arena. */
  clamp(s) {
    const r = this.r;
    const hiX = Math.max(f(this.width - r), r);
    const hiY = Math.max(f(this.height - r), r);
    if (s.x < r) {
      s.x = r;
      s.vx = Math.max(s.vx, 0);
    } else if (s.x > hiX) {
      s.x = hiX;
      s.vx = Math.min(s.vx, 0);
    }
    if (s.y < r) {
      s.y = r;
      s.vy = Math.max(s.vy, 0);
    } else if (s.y > hiY) {
      s.y = hiY;
      s.vy = Math.min(s.vy, 0);
    }
  }
}

/** A correction beyond this (world units) is a respawn: the prediction starts over. */
const RESPAWN_UNITS = 100;

/**
 * Arena's prediction of the local player on the SDK's prediction hook: `movement` steps it,
 * the player's row gives the authoritative position (and nothing while dead), and the velocity
 * to replay from is the one predicted for the same input, since the row's velocity is rounded
 * to the wire's units per tick while the server steps an exact float32 one.
 */
export function arenaPredictor(movement) {
  return new Predictor({
    step: (s, input) => movement.step(s, input),
    fromRow: (row) => ((row.values.flags & FLAG_ALIVE)
      ? { x: dequantize(row.values.x), y: dequantize(row.values.y) }
      : null),
    rebase: (auth, predicted) => ({
      x: f(auth.x), y: f(auth.y), vx: predicted?.vx ?? 0, vy: predicted?.vy ?? 0,
    }),
    distance: (a, b) => Math.hypot(a.x - b.x, a.y - b.y),
    snapDistance: RESPAWN_UNITS,
  });
}
