// The SDK's messages against the golden vectors of tests/golden/protocol.json: Hello, Input,
// Ack, Ping and Leave encode to exactly today's bytes (an Input's game payload being the 4
// bytes of arena's fields there, behind its length), and every server message decodes with its
// generic fields as recorded; game-specific tails come out as raw bytes without the game's hooks.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
  DecodeError, EncodeError, MAX_GAME_NAME_BYTES, MAX_INPUT_PAYLOAD_BYTES, PROTOCOL_VERSION, REJECT_REASONS,
  SchemaCodec, decodeServerMessage, encodeAck, encodeChat, encodeHello, encodeInput, encodeLeave, encodeMute,
  encodePing, encodeRequest, fromHex, toHex,
} from '../../assets/web/sdk/tickwire.js';
import { golden } from './vectors.mjs';

const protocol = golden('protocol.json');
const arena = new SchemaCodec(golden('arena_schema.json'));

/** A golden u64 (a decimal string when beyond 2^53) as the encoder takes it. */
const u64 = (v) => (typeof v === 'string' ? BigInt(v) : v);
const token = (t) => t && { ...t, match_id: u64(t.match_id), secret: Uint8Array.from(t.secret) };

/** The SDK's encoding of a golden client message. */
function encode(m) {
  switch (m.type) {
    case 'Hello': {
      const join = m.join.type === 'Any' ? m.join : { ...m.join, match_id: u64(m.join.match_id) };
      return encodeHello({
        version: m.version, name: m.name, session: token(m.session), join, game: m.game, schemaHash: m.schema_hash,
      });
    }
    case 'Input': {
      // The game's bytes: today's Input ends with arena's four fields, one byte each.
      const payload = Uint8Array.of(m.move_x & 0xff, m.move_y & 0xff, m.aim, m.buttons);
      return encodeInput({ seq: m.seq, ack: m.ack, payload });
    }
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

test('every golden client message encodes to its bytes', () => {
  const client = protocol.messages.filter((m) => m.dir === 'client');
  assert.deepEqual([...new Set(client.map((m) => m.msg.type))].sort(), ['Ack', 'Chat', 'Hello', 'Input', 'Leave', 'Mute', 'Ping', 'Request']);
  for (const { msg, hex } of client) assert.equal(toHex(encode(msg)), hex, JSON.stringify(msg).slice(0, 120));
});

test('the Hello and Input framing refuse what the wire cannot carry', () => {
  const payload = Uint8Array.of(0, 0, 0, 0);
  assert.throws(() => encodeInput({ seq: 2 ** 32, ack: 0, payload }), EncodeError);
  assert.throws(() => encodeInput({ seq: 1.5, ack: 0, payload }), EncodeError);
  assert.throws(() => encodeInput({ seq: 1, ack: 0, payload: [1, 2] }), EncodeError);
  assert.throws(() => encodeInput({ seq: 1, ack: 0, payload: new Uint8Array(17000) }), EncodeError);
  assert.throws(() => encodeInput({ seq: 1, ack: 0, payload: new Uint8Array(MAX_INPUT_PAYLOAD_BYTES + 1) }), EncodeError);
  // At the bound: the length, then the bytes.
  const full = encodeInput({ seq: 1, ack: 0, payload: new Uint8Array(MAX_INPUT_PAYLOAD_BYTES) });
  assert.deepEqual(Array.from(full.subarray(0, 4)), [1, 1, 0, MAX_INPUT_PAYLOAD_BYTES]);
  assert.equal(full.length, 4 + MAX_INPUT_PAYLOAD_BYTES);
  assert.throws(() => encodePing(-1), EncodeError);
  assert.throws(() => encodePing(2n ** 64n), EncodeError);
  assert.throws(() => encodeHello({ name: 'a', join: { type: 'Nope' } }), EncodeError);
  assert.throws(() => encodeHello({
    name: 'a', session: { match_id: 1, player_id: 1, secret: new Uint8Array(15) },
  }), EncodeError);
  // The game name and the schema hash (hex from /schema.json, or a number) are on the wire.
  assert.equal(PROTOCOL_VERSION, 3);
  assert.equal(toHex(encodeHello({ name: 'ann', game: 'arena', schemaHash: 'b2b95987' })),
    '00 03 01 05 61 72 65 6e 61 01 fc 87 59 b9 b2 03 61 6e 6e 00 00');
  assert.equal(toHex(encodeHello({ name: 'ann', game: 'arena', schemaHash: 0xb2b95987 })),
    toHex(encodeHello({ name: 'ann', game: 'arena', schemaHash: 'B2B95987' })));
  assert.equal(toHex(encodeHello({ name: 'ann' })), '00 03 00 00 03 61 6e 6e 00 00');
  assert.ok(encodeHello({ name: 'a', game: 'g'.repeat(MAX_GAME_NAME_BYTES) }));
  assert.throws(() => encodeHello({ name: 'a', game: 'g'.repeat(MAX_GAME_NAME_BYTES + 1) }), EncodeError);
  assert.throws(() => encodeHello({ name: 'a', game: 'é'.repeat(17) }), EncodeError, '34 bytes of UTF-8');
  assert.throws(() => encodeHello({ name: 'a', game: 7 }), EncodeError);
  for (const schemaHash of ['b2b9598', 'b2b959870', 'xyz', -1, 2 ** 32, 1.5]) {
    assert.throws(() => encodeHello({ name: 'a', schemaHash }), EncodeError, String(schemaHash));
  }
  // The refusals of version 3, at their wire indexes.
  assert.equal(REJECT_REASONS.indexOf('UnknownGame'), 0x0c);
  assert.equal(REJECT_REASONS.indexOf('SchemaMismatch'), 0x0d);
});

test('every golden server message decodes, its game tails as raw bytes', () => {
  const server = protocol.messages.filter((m) => m.dir === 'server');
  for (const { msg: want, hex } of server) {
    const bytes = fromHex(hex);
    const got = decodeServerMessage(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    assert.equal(got.type, want.type);
    switch (got.type) {
      case 'Welcome': {
        const { join, session, ...rest } = got;
        const { map, session: ws, ...wantRest } = want;
        assert.deepEqual({ ...rest, match_id: String(rest.match_id) }, { ...wantRest, match_id: String(wantRest.match_id) });
        assert.deepEqual(Array.from(session.secret), ws.secret);
        assert.ok(join instanceof Uint8Array && join.length >= 4, 'the map, for the game to read');
        break;
      }
      case 'State':
        assert.deepEqual(got.header, want.header);
        break;
      case 'Reject':
      case 'Chat':
      case 'ChatRefused':
      case 'RequestRefused':
        assert.deepEqual(got, want);
        break;
      case 'Reply':
        assert.deepEqual({ ...got, payload: Array.from(got.payload) }, want);
        break;
      case 'Pong':
        assert.equal(String(got.client_time), String(want.client_time));
        assert.equal(got.server_tick, want.server_tick);
        break;
      default: {
        const tail = got.type === 'Event' ? got.event : got.results;
        assert.ok(tail instanceof Uint8Array && tail.length > 0);
        assert.deepEqual(Array.from(tail), Array.from(bytes.subarray(1)), 'everything after the tag');
      }
    }
  }
});

test('invalid server messages are DecodeErrors', () => {
  for (const { dir, hex, why } of protocol.invalid) {
    if (dir !== 'server') continue;
    const bytes = fromHex(hex);
    // Events and results are the game's to decode (tests/golden/protocol.test.mjs).
    if (bytes[0] === 4 || bytes[0] === 5) continue;
    assert.throws(() => {
      const m = decodeServerMessage(bytes);
      // A State's body is the schema's to read.
      if (m.type === 'State') arena.decode(m.body);
    }, DecodeError, `${hex}: ${why}`);
  }
  assert.throws(() => decodeServerMessage(new Uint8Array(0)), DecodeError);
  assert.throws(() => decodeServerMessage('text'), DecodeError);
});
