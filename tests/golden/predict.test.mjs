// Checks arena's prediction (assets/web/js/predict.js, on the SDK's prediction hook) against
// traces of the real simulation (movement.json, written by tests/golden.rs): replaying the same
// inputs must land on the server's positions exactly, and reconciliation must converge on them
// from any lag.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { Movement, arenaPredictor } from '../../assets/web/js/predict.js';
import { FLAG_ALIVE, quantize, dequantize } from '../../assets/web/js/arena.js';

const golden = JSON.parse(readFileSync(new URL('./movement.json', import.meta.url), 'utf8'));

const input = ([move_x, move_y]) => ({ move_x, move_y });

test('movement traces are populated', () => {
  assert.ok(golden.traces.length >= 2);
  for (const t of golden.traces) assert.ok(t.inputs.length > 300);
});

test('the predicted walk matches the simulation tick for tick', () => {
  const movement = new Movement(golden.physics, golden.map);
  const open = new Movement(golden.physics, { ...golden.map, walls: [] });
  for (const trace of golden.traces) {
    const start = () => ({ x: dequantize(trace.start[0]), y: dequantize(trace.start[1]), vx: 0, vy: 0 });
    const s = start();
    const free = start();
    let blocked = 0;
    trace.inputs.forEach((inp, i) => {
      movement.step(s, input(inp));
      open.step(free, input(inp));
      const [ex, ey] = trace.positions[i];
      assert.deepEqual([quantize(s.x), quantize(s.y)], [ex, ey], `seed ${trace.seed}, tick ${i + 1}`);
      if (s.x !== free.x || s.y !== free.y) blocked += 1;
    });
    // The walk really runs into walls: without them it would have gone elsewhere.
    assert.ok(blocked > 10, `seed ${trace.seed} never touched a wall`);
  }
});

test('reconciliation converges on the server from any lag', () => {
  const movement = new Movement(golden.physics, golden.map);
  const trace = golden.traces[0];
  for (const lag of [0, 1, 3, 7]) {
    const p = arenaPredictor(movement);
    // The first authoritative position, before any input, as the player's row carries it.
    p.reconcile({ values: { x: trace.start[0], y: trace.start[1], flags: FLAG_ALIVE } }, 0);
    for (let i = 0; i < trace.inputs.length; i++) {
      p.push(i + 1, input(trace.inputs[i]));
      // The server reports its position for the input `lag` ticks behind.
      const acked = i + 1 - lag;
      if (acked >= 1) {
        const [sx, sy] = trace.positions[acked - 1];
        p.reconcileState({ x: dequantize(sx), y: dequantize(sy) }, acked);
        assert.ok(p.pending.length === lag, `pending inputs at lag ${lag}`);
      }
      const [ex, ey] = trace.positions[i];
      const err = Math.hypot(p.state.x - dequantize(ex), p.state.y - dequantize(ey));
      // Server positions are quantized to 1/8 unit and velocity is not replicated, so a
      // replay from them may differ slightly; it must stay far below a player's radius.
      assert.ok(err < 2, `lag ${lag}, tick ${i + 1}: predicted off by ${err}`);
    }
  }
});

test('a predictor without an authoritative position ignores inputs', () => {
  const p = arenaPredictor(new Movement(golden.physics, golden.map));
  p.push(1, { move_x: 127, move_y: 0 });
  assert.equal(p.state, null);
  assert.equal(p.pending.length, 0);
});

test('a dead player is not predicted, and a respawn starts the prediction over', () => {
  const p = arenaPredictor(new Movement(golden.physics, golden.map));
  const row = (x, y, flags = FLAG_ALIVE) => ({ values: { x: x * 8, y: y * 8, flags } });
  p.reconcile(row(100, 100), 0);
  p.push(1, { move_x: 127, move_y: 0 });
  p.push(2, { move_x: 127, move_y: 0 });
  assert.equal(p.pending.length, 2);
  p.reconcile(row(100, 100, 0), 1);
  assert.equal(p.state, null, 'dead: nothing to predict');
  p.reconcile(row(100, 100), 1);
  p.push(3, { move_x: 127, move_y: 0 });
  p.reconcile(row(600, 600), 2);
  assert.deepEqual([p.state.x, p.state.y, p.pending.length], [600, 600, 0], 'respawned far away');
});
