// Unit tests of the browser client's connection logic, interpolation and input mapping, in
// Node without a browser (a fake WebSocket stands in for the server). Run: node --test
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { GameConnection, STATES, SESSION_KEY, backoffDelay, loadToken } from '../../assets/web/js/net.js';
import { Interpolator, lerpAim } from '../../assets/web/js/interp.js';
import { aimFromVector, moveFromKeys } from '../../assets/web/js/input.js';
import { RateMeter } from '../../assets/web/js/hud.js';
import { decodeClient, encodeServer } from '../../assets/web/js/proto.js';

class MemoryStorage {
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

/** A WebSocket double: records what the client sends, lets the test play the server. */
function fakeSocketClass(sockets) {
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
    // The server's side.
    accept() {
      this.readyState = 1;
      this.onopen?.();
    }
    deliver(msg) {
      const bytes = encodeServer(msg);
      this.onmessage?.({ data: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) });
    }
    drop(code = 1006, reason = '') {
      this.readyState = 3;
      this.onclose?.({ code, reason });
    }
  };
}

const SECRET = Uint8Array.from({ length: 16 }, (_, i) => i * 3);

function welcome(resumed = false, player_id = 4) {
  return {
    type: 'Welcome', version: 1, player_id, entity_id: 9, match_id: 7, tick_rate: 30, tick: 100,
    session: { match_id: 7, player_id, secret: SECRET }, resumed,
    map: { name: 'arena', width: 1000, height: 1000, walls: [] },
  };
}

function setup(t, options = {}) {
  t.mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
  const sockets = [];
  let now = 0;
  const storage = options.storage ?? new MemoryStorage();
  const states = [];
  const conn = new GameConnection({
    url: 'ws://test/ws',
    name: 'ann',
    join: options.join,
    storage,
    WebSocket: fakeSocketClass(sockets),
    now: () => now,
    callbacks: { onState: (s) => states.push(s) },
    ...options.conn,
  });
  const advance = (ms) => {
    now += ms;
    t.mock.timers.tick(ms);
  };
  conn.start();
  return { conn, sockets, storage, states, advance, last: () => sockets[sockets.length - 1] };
}

test('backoff grows exponentially, is capped and jittered', () => {
  assert.equal(backoffDelay(0, 250, 5000, () => 0), 125);
  assert.equal(backoffDelay(0, 250, 5000, () => 1), 250);
  assert.equal(backoffDelay(3, 250, 5000, () => 1), 2000);
  assert.equal(backoffDelay(10, 250, 5000, () => 1), 5000);
  assert.equal(backoffDelay(50, 250, 5000, () => 0), 2500);
  const spread = new Set(Array.from({ length: 20 }, () => backoffDelay(2, 250, 5000)));
  assert.ok(spread.size > 10, 'random jitter');
});

test('a player joins, stores its token and resumes the seat after a drop', (t) => {
  const { conn, storage, states, advance, last } = setup(t);
  last().accept();
  const hello = last().sent[0];
  assert.equal(hello.type, 'Hello');
  assert.equal(hello.session, null);
  assert.deepEqual(hello.join, { type: 'Any' });
  last().deliver(welcome());
  assert.equal(conn.state, STATES.PLAYING);
  assert.deepEqual(loadToken(storage).secret, SECRET);

  last().drop(1006);
  assert.equal(conn.state, STATES.RECONNECTING);
  advance(300); // the first retry comes within the base delay
  last().accept();
  const resume = last().sent[0];
  assert.equal(resume.session.player_id, 4);
  assert.deepEqual(Array.from(resume.session.secret), Array.from(SECRET));
  last().deliver(welcome(true));
  assert.equal(conn.state, STATES.PLAYING);
  assert.equal(conn.resumes, 1);
  assert.deepEqual(states.slice(-3), ['playing', 'reconnecting', 'playing']);
  assert.deepEqual(conn.history, ['connecting', 'joining', 'playing', 'reconnecting', 'playing']);
  conn.stop();
});

test('a silent link is dropped and retried with growing delays', (t) => {
  const { conn, sockets, advance, last } = setup(t, { conn: { silenceMs: 1000 } });
  last().accept();
  last().deliver(welcome());
  advance(500);
  assert.equal(conn.state, STATES.PLAYING);
  // Pings go out while the link is healthy.
  assert.ok(last().sent.some((m) => m.type === 'Ping'));
  advance(700);
  assert.equal(conn.state, STATES.RECONNECTING, 'silence for more than 1 s');
  assert.equal(sockets[0].closedWith.code, 4000);
  // Retries that fail keep backing off: attempt n waits at most 250 * 2^n ms.
  let opened = sockets.length;
  for (let attempt = 1; attempt <= 4; attempt++) {
    advance(250 * 2 ** (attempt - 1) + 1);
    assert.equal(sockets.length, opened + 1, `attempt ${attempt} opened a socket`);
    opened = sockets.length;
    last().drop(1006);
  }
  assert.ok(conn.attempt >= 5);
  conn.stop();
});

test('a refused resume says plainly that the seat is gone', (t) => {
  const storage = new MemoryStorage();
  storage.setItem(SESSION_KEY, JSON.stringify({ match_id: '7', player_id: 4, secret: '00'.repeat(16) }));
  const { conn, last } = setup(t, { storage });
  last().accept();
  assert.equal(last().sent[0].session.match_id, 7);
  last().deliver({ type: 'Reject', reason: 'SeatExpired', message: 'the seat was freed' });
  last().drop(4001, 'the seat was freed');
  assert.equal(conn.state, STATES.SEAT_LOST);
  assert.match(conn.detail, /seat in match 7 is gone/);
  assert.equal(storage.getItem(SESSION_KEY), null, 'the dead token is forgotten');
  conn.stop();
});

test('a seat taken over by another tab is not fought for', (t) => {
  const { conn, sockets, advance, last } = setup(t);
  last().accept();
  last().deliver(welcome());
  last().drop(4002, 'session resumed by another connection');
  assert.equal(conn.state, STATES.REPLACED);
  advance(10000);
  assert.equal(sockets.length, 1, 'no reconnect');
  conn.stop();
});

test('the end of the match shows results and forgets the seat', (t) => {
  const { conn, storage, last } = setup(t);
  last().accept();
  last().deliver(welcome());
  last().deliver({
    type: 'MatchEnded',
    results: { match_id: 7, reason: 'ScoreLimit', ticks: 900, players: [{ player_id: 4, name: 'ann', score: 20, kills: 20, deaths: 1 }] },
  });
  last().drop(1000, 'match ended');
  assert.equal(conn.state, STATES.ENDED);
  assert.equal(conn.matchEnded.players[0].name, 'ann');
  assert.equal(storage.getItem(SESSION_KEY), null);
  conn.stop();
});

test('spectators join without a token and never store one', (t) => {
  const { conn, storage, last } = setup(t, { join: { type: 'Spectate', match_id: 7 } });
  last().accept();
  assert.deepEqual(last().sent[0].join, { type: 'Spectate', match_id: 7 });
  last().deliver({ ...welcome(false, 0), entity_id: 0 });
  assert.equal(conn.state, STATES.SPECTATING);
  assert.equal(storage.getItem(SESSION_KEY), null);
  conn.stop();
});

test('interpolation draws the past between two snapshots', () => {
  const it = new Interpolator(100);
  it.setTickRate(10); // 100 ms per tick
  const world = (x) => new Map([[1, { id: 1, kind: 'Player', x: x * 8, y: 0, aim: 0, flags: 3 }]]);
  it.push(10, world(0), 1000);
  it.push(11, world(10), 1100);
  it.push(12, world(20), 1200);
  // At local 1250 the render tick is 11.5 - 1 (100 ms behind) = 11.5 - 1.0 → between 11 and 12.
  const e = it.sample(1250).get(1);
  assert.ok(Math.abs(e.x - 15) < 1e-9, `x = ${e.x}`);
  // Teleports are not smeared.
  it.push(13, world(500), 1300);
  const t = it.sample(1340).get(1);
  assert.ok(t.x === 20 || t.x === 500, `teleport x = ${t.x}`);
  assert.equal(lerpAim(250, 6, 0.5), 0);
  assert.equal(lerpAim(0, 100, 0.25), 25);
});

test('keys and mouse map to the wire input', () => {
  assert.deepEqual(moveFromKeys(true, false, false, true), { move_x: 127, move_y: -127 });
  assert.deepEqual(moveFromKeys(true, true, true, true), { move_x: 0, move_y: 0 });
  assert.equal(aimFromVector(1, 0), 0);
  assert.equal(aimFromVector(0, 1), 64);
  assert.equal(aimFromVector(-1, 0), 128);
  assert.equal(aimFromVector(0, -1), 192);
  assert.equal(aimFromVector(0, 0), null);
});

test('the rate meter reports per second over its window', () => {
  const m = new RateMeter(1000);
  m.add(0, 500);
  m.add(500, 500);
  assert.equal(m.rate(900), 1000);
  assert.equal(m.rate(1200), 500);
  assert.equal(m.rate(3000), 0);
});
