// Checks the browser client's protocol module (assets/web/js/proto.js) and replica
// (assets/web/js/replica.js) against the vectors the Rust proto crate wrote
// (protocol.json, kept honest by tests/golden.rs). Run: node --test tests/golden/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import {
  decodeClient, decodeServer, encodeClient, encodeServer, fromHex, toHex, DecodeError,
  quantize, dequantize,
} from '../../assets/web/js/proto.js';
import { Replica, ApplyError } from '../../assets/web/js/replica.js';

const golden = JSON.parse(readFileSync(new URL('./protocol.json', import.meta.url), 'utf8'));

/** The JSON form of a decoded value: Uint8Array → array, BigInt → decimal string. */
function normalize(v) {
  if (v instanceof Uint8Array) return Array.from(v);
  if (typeof v === 'bigint') return v.toString();
  if (Array.isArray(v)) return v.map(normalize);
  if (v && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, normalize(x)]));
  }
  return v;
}

const U64_FIELDS = new Set(['match_id', 'client_time']);

/** The JS value the encoder takes for a golden JSON message (secrets as bytes, big u64s). */
function revive(v, key) {
  if (Array.isArray(v)) {
    if (key === 'secret') return Uint8Array.from(v);
    return v.map((x) => revive(x));
  }
  if (typeof v === 'string' && U64_FIELDS.has(key)) return BigInt(v);
  if (v && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, revive(x, k)]));
  }
  return v;
}

test('golden file is populated', () => {
  assert.ok(golden.messages.length > 50);
  assert.ok(golden.invalid.length > 20);
  assert.ok(golden.replica.length > 40);
  for (const type of ['Hello', 'Input', 'Ack', 'Ping', 'Leave']) {
    assert.ok(golden.messages.some((m) => m.dir === 'client' && m.msg.type === type), type);
  }
  for (const type of ['Welcome', 'Reject', 'State', 'Pong', 'Event', 'MatchEnded']) {
    assert.ok(golden.messages.some((m) => m.dir === 'server' && m.msg.type === type), type);
  }
});

test('every golden message encodes to its bytes', () => {
  for (const { dir, msg, hex } of golden.messages) {
    const encode = dir === 'client' ? encodeClient : encodeServer;
    assert.equal(toHex(encode(revive(msg))), hex, `${dir} ${JSON.stringify(msg).slice(0, 200)}`);
  }
});

test('every golden message decodes from its bytes', () => {
  for (const { dir, msg, hex } of golden.messages) {
    const decode = dir === 'client' ? decodeClient : decodeServer;
    assert.deepEqual(normalize(decode(fromHex(hex))), msg, `${dir} ${hex.slice(0, 120)}`);
  }
});

test('decoders accept ArrayBuffers as the WebSocket delivers them', () => {
  const { hex, msg } = golden.messages.find((m) => m.dir === 'server' && m.msg.type === 'State');
  const bytes = fromHex(hex);
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  assert.deepEqual(normalize(decodeServer(buffer)), msg);
});

test('every invalid vector is rejected', () => {
  for (const { dir, hex, why } of golden.invalid) {
    const decode = dir === 'client' ? decodeClient : decodeServer;
    assert.throws(() => decode(fromHex(hex)), DecodeError, `${dir} ${hex}: ${why}`);
  }
});

test('oversized messages are rejected', () => {
  assert.throws(() => decodeClient(new Uint8Array(16 * 1024 + 1)), DecodeError);
});

test('encoders refuse values the wire cannot carry', () => {
  const input = { type: 'Input', seq: 1, ack: 0, move_x: 0, move_y: 0, aim: 0, buttons: 0 };
  assert.throws(() => encodeClient({ ...input, seq: 2 ** 32 }));
  assert.throws(() => encodeClient({ ...input, move_x: 128 }));
  assert.throws(() => encodeClient({ ...input, aim: 256 }));
  assert.throws(() => encodeClient({ ...input, seq: 1.5 }));
  assert.throws(() => encodeClient({ type: 'Ping', client_time: -1 }));
  assert.throws(() => encodeClient({ type: 'Ping', client_time: 2n ** 64n }));
  assert.throws(() => encodeClient({ type: 'Nope' }));
  assert.throws(() => encodeClient({
    type: 'Hello', version: 1, name: 'a', join: { type: 'Any' },
    session: { match_id: 1, player_id: 1, secret: new Uint8Array(15) },
  }));
  const state = (updated) => ({
    type: 'State',
    header: { tick: 1, baseline_age: 0, last_input: 0, phase: 'Waiting', phase_ticks_left: 0 },
    delta: { removed: [], created: [], updated },
  });
  assert.throws(() => encodeServer(state([{ index: 2, aim: 1 }, { index: 2, aim: 1 }])));
  assert.throws(() => encodeServer(state([{ index: 2 }])));
});

test('quantize rounds half away from zero like Rust', () => {
  assert.equal(quantize(0.0625), 1);
  assert.equal(quantize(-0.0625), -1);
  assert.equal(quantize(0.05), 0);
  assert.equal(quantize(100.5), 804);
  assert.equal(quantize(-30), -240);
  assert.equal(dequantize(quantize(12.375)), 12.375);
});

test('the replica rebuilds every golden world and refuses the bad frames', () => {
  const replica = new Replica();
  let applied = 0;
  for (const [i, v] of golden.replica.entries()) {
    const msg = decodeServer(fromHex(v.hex));
    assert.equal(msg.type, 'State');
    if (v.error) {
      assert.throws(() => replica.apply(msg), (e) => e instanceof ApplyError && e.kind === v.error,
        `frame ${i} must fail with ${v.error}`);
      continue;
    }
    const world = replica.apply(msg);
    applied += 1;
    const entities = [...world.values()].sort((a, b) => a.id - b.id);
    assert.deepEqual(entities, v.world, `world after frame ${i} (tick ${msg.header.tick})`);
    assert.equal(replica.newestTick, msg.header.tick);
  }
  assert.ok(applied > 40);
  assert.ok(golden.replica.some((v) => v.error === 'Stale'));
  assert.ok(golden.replica.some((v) => v.error === 'MissingBaseline'));
});
