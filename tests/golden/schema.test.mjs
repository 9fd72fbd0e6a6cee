// The schema-driven decoder (assets/web/js/schema.js), built only from the schema the server
// serves (arena_schema.json, what /schema.json returns; kept honest by tests/golden.rs), must
// read every golden State body exactly as proto.js's arena decoder does.
// Run: node --test tests/golden/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { decodeServer, encodeDelta, fromHex, DecodeError } from '../../assets/web/js/proto.js';
import { SchemaCodec } from '../../assets/web/js/schema.js';

const load = (name) => JSON.parse(readFileSync(new URL(`./${name}`, import.meta.url), 'utf8'));
const golden = load('protocol.json');
const codec = new SchemaCodec(load('arena_schema.json'));

/** Every golden State message's delta, as proto.js decodes it. */
function goldenDeltas() {
  const hexes = [
    ...golden.messages.filter((m) => m.dir === 'server' && m.msg.type === 'State').map((m) => m.hex),
    ...golden.replica.map((f) => f.hex),
  ];
  return hexes.map((hex) => decodeServer(fromHex(hex)).delta);
}

/** proto.js's arena update, in the schema decoder's form (`values` by field name). */
function arenaUpdate(u) {
  const values = {};
  let mask = 0;
  if (u.vel) [values.vx, values.vy, mask] = [u.vel[0], u.vel[1], mask | 1];
  if (u.pos) [values.x, values.y, mask] = [u.pos[0], u.pos[1], mask | 2];
  if (u.aim !== null) [values.aim, mask] = [u.aim, mask | 4];
  if (u.hp !== null) [values.hp, mask] = [u.hp, mask | 8];
  if (u.misc) [values.score, values.flags, mask] = [u.misc[0], u.misc[1], mask | 16];
  return { index: u.index, mask, values };
}

test('the served schema is arena and carries its hash', () => {
  assert.equal(codec.name, 'arena');
  assert.match(codec.hash, /^[0-9a-f]{8}$/);
  assert.deepEqual(codec.kinds.map((k) => k.name), ['Player', 'Projectile']);
  assert.ok(codec.uniform, "arena's kinds code their updates alike");
});

test('every golden State body decodes through the schema as through the arena decoder', () => {
  const deltas = goldenDeltas();
  assert.ok(deltas.length >= 50, `${deltas.length} golden frames`);
  for (const d of deltas) {
    const got = codec.decode(encodeDelta(d));
    assert.deepEqual(got.removed, d.removed);
    assert.deepEqual(got.strings_elided, d.names_elided);
    assert.deepEqual(
      got.created.map((e) => ({ id: e.id, kind: e.kind, ...e.values, name: e.strings.name })),
      d.created.map((e) => ({ ...e })),
    );
    assert.deepEqual(got.updated, d.updated.map(arenaUpdate));
  }
});

test('bad bodies are decode errors, never crashes', () => {
  const body = encodeDelta(goldenDeltas().find((d) => d.created.length > 0));
  for (let cut = 0; cut < body.length; cut++) {
    assert.throws(() => codec.decode(body.subarray(0, cut)), DecodeError, `cut at ${cut}`);
  }
  let seed = 1;
  for (let i = 0; i < 2000; i++) {
    const bytes = Uint8Array.from({ length: 1 + (i % 64) }, () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed & 0xff;
    });
    try {
      codec.decode(bytes);
    } catch (e) {
      assert.ok(e instanceof DecodeError, `${e}`);
    }
  }
});
