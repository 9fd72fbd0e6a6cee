// Interpolation over any schema's position fields: drawn a fixed delay in the past between the
// two snapshots around it, positions in world units (wire over scale), teleports not smeared,
// other fields from the nearer snapshot unless the game blends them.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { Interpolator, SchemaCodec, lerpWrapping, toWorldUnits } from '../../assets/web/sdk/tickwire.js';

// Positions of other names and scales than arena's: `lat` predicted by `dlat` at scale 4,
// `alt` unpredicted at scale 2, and an angle `hdg` in 1/360 turns.
const codec = new SchemaCodec({
  name: 'planes',
  groups: ['MOVE', 'TURN'],
  short_masks: [],
  kinds: [{
    name: 'plane',
    fields: [
      { name: 'lat', group: 'MOVE', kind: { type: 'pos', scale: 4 } },
      { name: 'dlat', group: 'MOVE', kind: { type: 'vel', of: 'lat', create_order: 3 } },
      { name: 'alt', group: 'MOVE', kind: { type: 'pos', scale: 2 } },
      { name: 'hdg', group: 'TURN', kind: { type: 'u_int', coding: { exp_golomb: 4 } } },
      { name: 'call', group: null, kind: { type: 'str', max_bytes: 8 } },
    ],
  }],
});

const plane = (lat, alt, hdg, dlat = 0) => new Map([[1, {
  id: 1, kind: 'plane', kindCode: 0, values: { lat, dlat, alt, hdg }, strings: { call: 'AF1' },
}]]);

test('rows come out in world units', () => {
  const row = toWorldUnits(codec, plane(40, 30, 90, 8).get(1));
  assert.deepEqual(row.values, { lat: 10, dlat: 2, alt: 15, hdg: 90 });
  assert.deepEqual(row.strings, { call: 'AF1' });
});

test('the past is drawn between the two snapshots around it', () => {
  const it = new Interpolator(codec, { delayMs: 100, blend: { hdg: lerpWrapping(360) } });
  it.setTickRate(10); // 100 ms per tick
  it.push(10, plane(0, 0, 350), 1000);
  it.push(11, plane(40, 20, 350), 1100);
  it.push(12, plane(80, 40, 10), 1200);
  // At local 1250 the render tick is 12.5 - 1 (100 ms behind) = 11.5: between 11 and 12.
  const e = it.sample(1250).get(1);
  assert.ok(Math.abs(e.values.lat - 15) < 1e-9, `lat = ${e.values.lat}`);
  assert.ok(Math.abs(e.values.alt - 15) < 1e-9, `alt = ${e.values.alt}`);
  assert.ok(Math.abs(e.values.hdg - 0) < 1e-9, `the heading turns the short way: ${e.values.hdg}`);
  assert.equal(e.strings.call, 'AF1');
  // Before the first snapshot and after the last, the nearest one.
  assert.equal(it.sample(0).get(1).values.lat, 0);
  assert.equal(it.sample(99999).get(1).values.lat, 20);
});

test('a teleport jumps instead of sliding, and a new entity waits for its snapshot', () => {
  const it = new Interpolator(codec, { delayMs: 0, teleportUnits: 64 });
  it.setTickRate(10);
  it.push(1, plane(0, 0, 0), 100);
  it.push(2, plane(4 * 500, 0, 0), 200);
  const t = it.sample(140).get(1);
  assert.equal(t.values.lat, 0, 'nearer the first snapshot: still there');
  assert.equal(it.sample(170).get(1).values.lat, 500);
  const both = new Map([...plane(4 * 500, 0, 0), [2, { ...plane(0, 0, 0).get(1), id: 2 }]]);
  it.push(3, both, 300);
  assert.equal(it.sample(250).has(2), false, 'created between the snapshots');
  assert.equal(it.sample(300).has(2), true);
  it.reset();
  assert.equal(it.sample(300).size, 0);
});

test('the wrapping blend goes the short way round', () => {
  const aim = lerpWrapping(256);
  assert.equal(aim(250, 6, 0.5), 0);
  assert.equal(aim(0, 100, 0.25), 25);
  assert.equal(aim(10, 250, 0.5), 2);
});
