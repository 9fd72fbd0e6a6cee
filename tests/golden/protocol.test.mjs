// Arena's game layer (assets/web/js/arena.js) on the SDK (assets/web/sdk/) against the vectors
// the Rust proto crate wrote (protocol.json, kept honest by tests/golden.rs): every message
// arena's page sends encodes to its bytes, every message it receives decodes to the recorded
// one (arena's map, events and results by arena's hooks, State bodies by the served schema),
// and the worlds the page draws are the recorded ones. The SDK's own tests are in tests/sdk/.
// Run: node --test tests/golden/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import {
  DecodeError, EncodeError, Replica, SchemaCodec, decodeServerMessage, encodeAck, encodeChat, encodeHello,
  encodeInput, encodeLeave, encodeMute, encodePing, encodeRequest, fromHex, toHex,
} from '../../assets/web/sdk/tickwire.js';
import {
  ARENA_GAME, EMOTE_NAMES, arenaEntity, dequantize, encodeEmote, encodeInput as arenaInput, quantize,
  replyTick,
} from '../../assets/web/js/arena.js';

const load = (name) => JSON.parse(readFileSync(new URL(`./${name}`, import.meta.url), 'utf8'));
const golden = load('protocol.json');
const codec = new SchemaCodec(load('arena_schema.json'));

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

const u64 = (v) => (typeof v === 'string' ? BigInt(v) : v);

/** What arena's page sends for a golden client message. */
function encodeClient(m) {
  switch (m.type) {
    case 'Hello': {
      const session = m.session && { ...m.session, match_id: u64(m.session.match_id), secret: Uint8Array.from(m.session.secret) };
      const join = m.join.type === 'Any' ? m.join : { ...m.join, match_id: u64(m.join.match_id) };
      return encodeHello({ version: m.version, name: m.name, session, join, game: m.game, schemaHash: m.schema_hash });
    }
    case 'Input':
      return encodeInput({ seq: m.seq, ack: m.ack, payload: arenaInput(m) });
    case 'Ack':
      return encodeAck(m.tick);
    case 'Ping':
      return encodePing(u64(m.client_time));
    case 'Chat':
      return encodeChat(m.text);
    case 'Mute':
      return encodeMute(m.player, m.muted);
    case 'Request':
      return encodeRequest(m.id, Uint8Array.from(m.payload));
    default:
      return encodeLeave();
  }
}

/** A decoded delta in the recorded form: arena's entities and updates by group name. */
function arenaDelta(d) {
  const group = (u, name, fields) => {
    const bit = codec.decl.groups.indexOf(name);
    if (!(u.mask & (1 << bit))) return null;
    return fields.length === 1 ? u.values[fields[0]] : fields.map((f) => u.values[f]);
  };
  return {
    removed: d.removed,
    created: d.created.map(arenaEntity),
    updated: d.updated.map((u) => ({
      index: u.index,
      vel: group(u, 'VEL', ['vx', 'vy']),
      pos: group(u, 'POS', ['x', 'y']),
      aim: group(u, 'AIM', ['aim']),
      hp: group(u, 'HP', ['hp']),
      misc: group(u, 'MISC', ['score', 'flags']),
    })),
    names_elided: d.strings_elided,
  };
}

/** What arena's page makes of a golden server message. */
function decodeServer(bytes) {
  const msg = decodeServerMessage(bytes, ARENA_GAME);
  switch (msg.type) {
    case 'Welcome': {
      const { join, ...rest } = msg;
      return { ...rest, map: join };
    }
    case 'State':
      return { type: msg.type, header: msg.header, delta: arenaDelta(codec.decode(msg.body)) };
    default:
      return msg;
  }
}

test('golden file is populated', () => {
  assert.ok(golden.messages.length > 50);
  assert.ok(golden.invalid.length > 20);
  assert.ok(golden.replica.length > 40);
  for (const type of ['Hello', 'Input', 'Ack', 'Ping', 'Leave', 'Chat', 'Mute', 'Request']) {
    assert.ok(golden.messages.some((m) => m.dir === 'client' && m.msg.type === type), type);
  }
  for (const type of ['Welcome', 'Reject', 'State', 'Pong', 'Event', 'MatchEnded', 'Chat', 'ChatRefused', 'Reply', 'RequestRefused']) {
    assert.ok(golden.messages.some((m) => m.dir === 'server' && m.msg.type === type), type);
  }
});

test('every golden client message encodes to its bytes', () => {
  for (const { msg, hex } of golden.messages.filter((m) => m.dir === 'client')) {
    assert.equal(toHex(encodeClient(msg)), hex, JSON.stringify(msg).slice(0, 200));
  }
});

test('every golden server message decodes from its bytes', () => {
  for (const { msg, hex } of golden.messages.filter((m) => m.dir === 'server')) {
    assert.deepEqual(normalize(decodeServer(fromHex(hex))), msg, hex.slice(0, 120));
  }
});

test('every invalid server vector is rejected', () => {
  for (const { dir, hex, why } of golden.invalid.filter((v) => v.dir === 'server')) {
    assert.throws(() => decodeServer(fromHex(hex)), DecodeError, `${dir} ${hex}: ${why}`);
  }
});

test("arena's emote request is the golden payload and its reply the tick", () => {
  const emote = golden.messages.find((m) => m.dir === 'client' && m.msg.type === 'Request' && m.msg.id === 1);
  assert.equal(toHex(encodeRequest(1, encodeEmote(3))), emote.hex);
  const reply = golden.messages.find((m) => m.dir === 'server' && m.msg.type === 'Reply' && m.msg.id === 1);
  assert.equal(replyTick(decodeServerMessage(fromHex(reply.hex)).payload), 301);
  assert.equal(EMOTE_NAMES.length, 8);
  assert.throws(() => encodeEmote(256), EncodeError);
  assert.throws(() => replyTick(Uint8Array.of(1, 2)), DecodeError);
});

test("arena's input refuses values its fields cannot carry", () => {
  const input = { move_x: 0, move_y: 0, aim: 0, buttons: 0 };
  assert.deepEqual(Array.from(arenaInput({ move_x: -1, move_y: 127, aim: 255, buttons: 1 })), [255, 127, 255, 1]);
  assert.throws(() => arenaInput({ ...input, move_x: 128 }), EncodeError);
  assert.throws(() => arenaInput({ ...input, aim: 256 }), EncodeError);
  assert.throws(() => arenaInput({ ...input, buttons: 1.5 }), EncodeError);
});

test('quantize rounds half away from zero like Rust', () => {
  assert.equal(quantize(0.0625), 1);
  assert.equal(quantize(-0.0625), -1);
  assert.equal(quantize(0.05), 0);
  assert.equal(quantize(100.5), 804);
  assert.equal(quantize(-30), -240);
  assert.equal(dequantize(quantize(12.375)), 12.375);
});

test("the page's entities are the recorded worlds", () => {
  const replica = new Replica(codec);
  let applied = 0;
  for (const v of golden.replica) {
    const msg = decodeServerMessage(fromHex(v.hex), ARENA_GAME);
    if (v.error) {
      assert.throws(() => replica.applyBody(msg.header.tick, msg.header.baseline_age, msg.body));
      continue;
    }
    const world = replica.applyBody(msg.header.tick, msg.header.baseline_age, msg.body);
    const entities = [...world.values()].sort((a, b) => a.id - b.id).map(arenaEntity);
    assert.deepEqual(entities, v.world);
    applied += 1;
  }
  assert.ok(applied > 40);
});
