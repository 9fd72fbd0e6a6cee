// Test doubles for the SDK: the server's side of the wire (its messages encoded, the client's
// decoded, exactly as PROTOCOL.md §4 lays them out), a WebSocket that lets a test play the
// server, and an in-memory storage. Only tests use these; the SDK itself never encodes a
// server message.

import {
  JOIN_TARGETS, PHASES, REJECT_REASONS, REQUEST_REFUSAL_REASONS, Reader, Writer, readToken, toBytes,
} from '../../assets/web/sdk/tickwire.js';

const SERVER_TAGS = [
  'Welcome', 'Reject', 'State', 'Pong', 'Event', 'MatchEnded', 'Chat', 'ChatRefused', 'Reply', 'RequestRefused',
];
const CLIENT_TAGS = ['Hello', 'Input', 'Ack', 'Ping', 'Leave', 'Chat', 'Mute', 'Request'];

function writeToken(w, t) {
  w.u64(t.match_id);
  w.u32(t.player_id);
  w.bytes(t.secret);
}

/**
 * Encodes a server message. Game-specific tails are given as bytes: `join` (Welcome),
 * `event` (Event), `results` (MatchEnded); State carries `header` and the packed `body`.
 */
export function encodeServer(msg) {
  const w = new Writer(64);
  w.u32(SERVER_TAGS.indexOf(msg.type));
  switch (msg.type) {
    case 'Welcome':
      w.u16(msg.version ?? 3);
      w.string(msg.game ?? 'test');
      w.u32(msg.schema_hash ?? 0);
      w.u32(msg.player_id);
      w.u32(msg.entity_id);
      w.u64(msg.match_id);
      w.u16(msg.tick_rate);
      w.u32(msg.tick);
      writeToken(w, msg.session);
      w.bool(msg.resumed);
      w.bytes(msg.join ?? new Uint8Array(0));
      break;
    case 'Reject':
      w.u32(REJECT_REASONS.indexOf(msg.reason));
      w.string(msg.message);
      break;
    case 'State': {
      const h = msg.header;
      w.u32(h.tick);
      w.u32(h.baseline_age);
      w.u32(h.last_input ?? 0);
      w.u32(PHASES.indexOf(h.phase ?? 'Running'));
      w.u32(h.phase_ticks_left ?? 0);
      w.u64(msg.body.length);
      w.bytes(msg.body);
      break;
    }
    case 'Pong':
      w.u64(msg.client_time);
      w.u32(msg.server_tick);
      break;
    case 'Event':
      w.bytes(msg.event);
      break;
    case 'MatchEnded':
      w.bytes(msg.results);
      break;
    case 'Reply':
      w.u32(msg.id);
      w.u64(msg.payload.length);
      w.bytes(msg.payload);
      break;
    case 'RequestRefused':
      w.u32(msg.id);
      w.u32(REQUEST_REFUSAL_REASONS.indexOf(msg.reason));
      w.u32(msg.limit ?? 0);
      w.string(msg.message ?? '');
      break;
    default:
      throw new Error(`unknown server message ${msg.type}`);
  }
  return w.finish();
}

/** Decodes a client message; an Input's game bytes come out as `payload`. */
export function decodeClient(data) {
  const r = new Reader(toBytes(data));
  const type = r.variant(CLIENT_TAGS, 'ClientMsg');
  let msg;
  switch (type) {
    case 'Hello': {
      const version = r.u16();
      const game = r.option(() => r.string());
      const schema_hash = r.option(() => r.u32());
      const name = r.string();
      const session = r.option(() => readToken(r));
      const jt = r.variant(JOIN_TARGETS, 'JoinTarget');
      const join = jt === 'Any' ? { type: 'Any' } : { type: jt, match_id: r.u64() };
      if (jt === 'Reserved') join.token = r.raw(16);
      msg = { type, version, game, schema_hash, name, session, join };
      break;
    }
    case 'Input': {
      const seq = r.u32();
      const ack = r.u32();
      msg = { type, seq, ack, payload: r.raw(r.length('payload')) };
      break;
    }
      break;
    case 'Ack':
      msg = { type, tick: r.u32() };
      break;
    case 'Ping':
      msg = { type, client_time: r.u64() };
      break;
    case 'Request':
      msg = { type, id: r.u32(), payload: r.raw(r.length('payload')) };
      break;
    default:
      msg = { type };
  }
  r.end();
  return msg;
}

/** A WebSocket double: records what the client sends, lets the test play the server. */
export function fakeSocketClass(sockets) {
  return class FakeWebSocket {
    constructor(url) {
      this.url = url;
      this.readyState = 0;
      this.sent = [];
      this.closedWith = null;
      sockets.push(this);
    }

    send(bytes) {
      this.sent.push(decodeClient(bytes));
    }

    close(code, reason) {
      this.closedWith = { code, reason };
      this.readyState = 3;
    }

    /** The server accepts the upgrade. */
    accept() {
      this.readyState = 1;
      this.onopen?.();
    }

    /** The server sends `msg` (an object for encodeServer, or bytes). */
    deliver(msg) {
      const bytes = msg instanceof Uint8Array ? msg : encodeServer(msg);
      this.onmessage?.({ data: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) });
    }

    /** The link drops (1006: no close frame). */
    drop(code = 1006, reason = '') {
      this.readyState = 3;
      this.onclose?.({ code, reason });
    }
  };
}

/** sessionStorage in memory. */
export class MemoryStorage {
  constructor() {
    this.map = new Map();
  }

  getItem(k) {
    return this.map.has(k) ? this.map.get(k) : null;
  }

  setItem(k, v) {
    this.map.set(k, String(v));
  }

  removeItem(k) {
    this.map.delete(k);
  }
}
