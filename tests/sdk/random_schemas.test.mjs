// Random-schema vectors (tests/golden/random_schemas.json, written by tests/golden.rs from
// random schemas, random entity churn and random acknowledgement patterns): every frame decodes
// through its served schema to exactly the world the Rust replica rebuilt, and every frame the
// Rust replica refused (stale, baseline not held) is refused with the same reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { ApplyError, DecodeError, Replica, SchemaCodec, fromHex } from '../../assets/web/sdk/tickwire.js';
import { golden, rowsOf } from './vectors.mjs';

const vectors = golden('random_schemas.json');

test('the vectors cover the format', () => {
  assert.ok(vectors.schemas.length >= 20);
  const types = new Set();
  for (const s of vectors.schemas) {
    for (const k of s.schema.schema.kinds) for (const f of k.fields) types.add(f.kind.type);
  }
  assert.deepEqual([...types].sort(), ['enum', 'pos', 'ref', 's_int', 'str', 'u_int', 'vel']);
  assert.ok(vectors.schemas.some((s) => !s.uniform), 'kinds that code updates differently');
  assert.ok(vectors.schemas.some((s) => s.schema.schema.kinds.length > 1), 'several kinds');
  const frames = vectors.schemas.flatMap((s) => s.frames);
  assert.ok(frames.filter((f) => f.age > 0 && !f.error).length > 200, 'deltas against a baseline');
  assert.ok(frames.some((f) => f.error === 'Stale'), 'stale frames');
  assert.ok(frames.some((f) => f.error === 'MissingBaseline'), 'baselines not held');
  // Decoded, the bodies leave strings out and update entities of schemas whose kinds code
  // updates differently (read with the baseline's kinds).
  let elided = 0;
  let kindedUpdates = 0;
  for (const s of vectors.schemas) {
    const codec = new SchemaCodec(s.schema);
    const replica = new Replica(codec);
    const decode = codec.decode.bind(codec);
    codec.decode = (body, kindOf) => {
      const d = decode(body, kindOf);
      elided += d.strings_elided.length;
      if (!codec.uniform) kindedUpdates += d.updated.length;
      return d;
    };
    for (const f of s.frames.filter((x) => !x.error)) replica.applyBody(f.tick, f.age, fromHex(f.body));
  }
  assert.ok(elided > 20, `${elided} creates left their strings out`);
  assert.ok(kindedUpdates > 50, `${kindedUpdates} updates read with their baseline's kinds`);
});

test('every random-schema frame decodes through its served schema to the Rust world', () => {
  let applied = 0;
  for (const s of vectors.schemas) {
    const codec = new SchemaCodec(s.schema);
    assert.equal(codec.hash, s.schema.hash);
    const replica = new Replica(codec);
    for (const [i, f] of s.frames.entries()) {
      const where = `${codec.name}, frame ${i} (tick ${f.tick}, age ${f.age})`;
      const body = fromHex(f.body);
      if (f.error) {
        assert.throws(() => replica.applyBody(f.tick, f.age, body),
          (e) => (f.error === 'Decode' ? e instanceof DecodeError : e instanceof ApplyError && e.kind === f.error),
          `${where} must fail with ${f.error}`);
        continue;
      }
      const world = replica.applyBody(f.tick, f.age, body);
      assert.deepEqual(rowsOf(world), f.world, where);
      applied += 1;
    }
  }
  assert.ok(applied > 400, `${applied} frames applied`);
});

test('random-schema bodies cut short are DecodeErrors', () => {
  for (const s of vectors.schemas.slice(0, 8)) {
    const codec = new SchemaCodec(s.schema);
    const f = s.frames.find((x) => x.age === 0 && !x.error && x.world.length > 2);
    if (!f) continue;
    const body = fromHex(f.body);
    for (let cut = 0; cut < body.length; cut += 1 + (body.length >> 5)) {
      assert.throws(() => codec.decode(body.subarray(0, cut)), DecodeError, `${codec.name} cut at ${cut}`);
    }
  }
});
