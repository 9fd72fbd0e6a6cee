// Soccer's golden State frames (tests/golden/soccer_frames.json, written by tests/golden.rs from
// a real soccer match of six bots): through the schema the server serves for soccer, the SDK
// rebuilds exactly the world the Rust replica rebuilt, frame by frame, against baselines one or
// two ticks old and after lost frames. Nothing here knows soccer's fields: they come from the
// schema.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { Replica, SchemaCodec, fromHex } from '../../assets/web/sdk/tickwire.js';
import { golden, rowsOf } from './vectors.mjs';

const [soccer] = golden('soccer_frames.json').schemas;
const served = golden('arena_schema.json').games.soccer;

test('the vectors use the schema /schema.json serves for soccer', () => {
  assert.deepEqual(soccer.schema, served);
  const codec = new SchemaCodec(served);
  assert.equal(codec.name, 'soccer');
  assert.deepEqual(codec.kinds.map((k) => k.name), ['player', 'ball', 'score']);
});

test('every soccer frame rebuilds the server\'s world', () => {
  const replica = new Replica(new SchemaCodec(served));
  let deltas = 0;
  for (const [i, f] of soccer.frames.entries()) {
    const world = replica.applyBody(f.tick, f.age, fromHex(f.body));
    assert.deepEqual(rowsOf(world), f.world, `frame ${i} (tick ${f.tick}, age ${f.age})`);
    if (f.age > 0) deltas += 1;
  }
  assert.ok(soccer.frames.length > 90, `${soccer.frames.length} frames`);
  assert.ok(deltas > 80, `${deltas} deltas against a baseline`);
  assert.ok(soccer.frames.some((f) => f.age === 2), 'baselines two ticks old');
  assert.ok(soccer.frames.some((f) => f.age === 3), 'a baseline behind a lost frame');
});
