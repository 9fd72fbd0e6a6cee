// The SDK decodes every golden State frame of tests/golden/protocol.json through the schema the
// server serves (tests/golden/arena_schema.json, kept equal to /schema.json by tests/golden.rs)
// to exactly the worlds the vectors give, and refuses the frames the Rust replica refuses.
// Nothing here knows arena's fields: they come from the schema.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
  ApplyError, DecodeError, Replica, SchemaCodec, decodeServerMessage, fromHex,
} from '../../assets/web/sdk/tickwire.js';
import { flat, golden } from './vectors.mjs';

const protocol = golden('protocol.json');
const codec = new SchemaCodec(golden('arena_schema.json'));

test('the served schema names its kinds and position fields', () => {
  assert.equal(codec.name, 'arena');
  assert.match(codec.hash, /^[0-9a-f]{8}$/);
  assert.deepEqual(codec.kinds.map((k) => k.name), ['Player', 'Projectile']);
  assert.deepEqual(codec.kind(0).positions, [
    { name: 'x', scale: 8, vel: 'vx' },
    { name: 'y', scale: 8, vel: 'vy' },
  ]);
});

test('every golden replica frame rebuilds its world through the schema', () => {
  const replica = new Replica(codec);
  let applied = 0;
  for (const [i, v] of protocol.replica.entries()) {
    const msg = decodeServerMessage(fromHex(v.hex));
    assert.equal(msg.type, 'State');
    const { tick, baseline_age: age } = msg.header;
    if (v.error) {
      assert.throws(() => replica.applyBody(tick, age, msg.body),
        (e) => e instanceof ApplyError && e.kind === v.error, `frame ${i} must fail with ${v.error}`);
      continue;
    }
    const world = replica.applyBody(tick, age, msg.body);
    applied += 1;
    const entities = [...world.values()].sort((a, b) => a.id - b.id).map(flat);
    assert.deepEqual(entities, v.world, `world after frame ${i} (tick ${tick})`);
    assert.equal(replica.newestTick, tick, 'the tick to acknowledge');
  }
  assert.ok(applied > 40, `${applied} frames applied`);
  for (const kind of ['Stale', 'MissingBaseline', 'BadBaselineAge', 'UnknownIndex', 'UnknownName']) {
    assert.ok(protocol.replica.some((v) => v.error === kind), `a ${kind} vector`);
  }
});

test('every golden State message decodes: header as recorded, body to the recorded delta', () => {
  const states = protocol.messages.filter((m) => m.dir === 'server' && m.msg.type === 'State');
  assert.ok(states.length >= 3);
  for (const { hex, msg: want } of states) {
    const msg = decodeServerMessage(fromHex(hex));
    assert.deepEqual(msg.header, want.header);
    const d = codec.decode(msg.body);
    assert.deepEqual(d.removed, want.delta.removed);
    assert.deepEqual(d.strings_elided, want.delta.names_elided);
    assert.deepEqual(d.created.map(flat), want.delta.created);
    // A recorded update holds each group's values under the group's name (`vel: [dvx, dvy]`,
    // `aim: 7`); the decoder gives them by field name, in the group's field order.
    assert.equal(d.updated.length, want.delta.updated.length);
    for (const [j, u] of d.updated.entries()) {
      const w = want.delta.updated[j];
      assert.equal(u.index, w.index);
      const kind = codec.kind(0);
      codec.decl.groups.forEach((g, bit) => {
        const recorded = w[g.toLowerCase()];
        if (!(u.mask & (1 << bit))) {
          assert.equal(recorded, null, `group ${g} of update ${j}`);
          return;
        }
        const values = kind.groups[bit].map((f) => u.values[f.name]);
        assert.deepEqual(values, [recorded].flat(), `group ${g} of update ${j}`);
      });
    }
  }
});

test('cut, flipped or random bodies are DecodeErrors, never hangs or crashes', () => {
  const full = protocol.replica.map((v) => decodeServerMessage(fromHex(v.hex)))
    .find((m) => m.header.baseline_age === 0 && m.body.length > 20);
  const body = full.body;
  for (let cut = 0; cut < body.length; cut++) {
    assert.throws(() => codec.decode(body.subarray(0, cut)), DecodeError, `cut at ${cut}`);
  }
  let seed = 1;
  const next = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed;
  };
  for (let i = 0; i < 3000; i++) {
    const bytes = i % 2
      ? Uint8Array.from({ length: 1 + (i % 64) }, () => next() & 0xff)
      : Uint8Array.from(body, (b, j) => (j === next() % body.length ? b ^ (1 << (next() % 8)) : b));
    try {
      codec.decode(bytes);
    } catch (e) {
      assert.ok(e instanceof DecodeError, `${e}`);
    }
  }
  // A body of zeros asks for an endless Exp-Golomb prefix: refused at once.
  assert.throws(() => codec.decode(new Uint8Array(4096)), DecodeError);
});

test('a malformed served schema is a DecodeError', () => {
  assert.throws(() => new SchemaCodec({ hash: '0', schema: { name: 'x' } }), DecodeError);
  assert.throws(() => new SchemaCodec(null), DecodeError);
  const served = golden('arena_schema.json');
  const bad = structuredClone(served);
  bad.schema.kinds[0].fields[0].kind = { type: 'quaternion' };
  assert.throws(() => new SchemaCodec(bad), DecodeError);
  const stray = structuredClone(served);
  stray.schema.kinds[0].fields[0].group = 'NOPE';
  assert.throws(() => new SchemaCodec(stray), DecodeError);
  const orphan = structuredClone(served);
  orphan.schema.kinds[1].fields[2].kind.of = 'z';
  assert.throws(() => new SchemaCodec(orphan), DecodeError);
});
