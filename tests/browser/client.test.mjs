// Unit tests of arena's page layer (assets/web/js/) on the SDK, in Node without a browser: the
// SDK client with arena's game hooks against a fake socket (the map of the Welcome, events and
// results decoded by arena), arena's interpolation options, and the input mapping. The SDK's
// own tests are in tests/sdk/. Run: node --test
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import {
  Interpolator, SchemaCodec, STATES, TickwireClient, Writer, lerpWrapping,
} from '../../assets/web/sdk/tickwire.js';
import { ARENA_GAME, arenaEntity } from '../../assets/web/js/arena.js';
import { aimFromVector, moveFromKeys } from '../../assets/web/js/input.js';
import { RateMeter } from '../../assets/web/js/hud.js';
import { MemoryStorage, fakeSocketClass } from '../sdk/fake_server.mjs';

const schema = new SchemaCodec(JSON.parse(readFileSync(new URL('../golden/arena_schema.json', import.meta.url), 'utf8')));
const SECRET = Uint8Array.from({ length: 16 }, (_, i) => i * 3);

/** Bytes written by `fill(writer)`. */
function bytes(fill) {
  const w = new Writer();
  fill(w);
  return w.finish();
}

const MAP = bytes((w) => {
  w.string('arena');
  w.u32(1000);
  w.u32(800);
  w.u64(1);
  for (const v of [100, -20, 8, 64]) w.i32(v);
});

function arenaClient(t) {
  t.mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
  const sockets = [];
  const client = new TickwireClient({
    schema,
    game: ARENA_GAME,
    url: 'ws://test/ws',
    name: 'ann',
    storage: new MemoryStorage(),
    WebSocket: fakeSocketClass(sockets),
    now: () => 0,
  });
  client.start();
  return { client, last: () => sockets[sockets.length - 1] };
}

test("arena's Welcome carries its map, its events and results are arena's", (t) => {
  const { client, last } = arenaClient(t);
  last().accept();
  let map = null;
  client.on('welcome', (w) => {
    map = w.join;
  });
  last().deliver({
    type: 'Welcome', player_id: 4, entity_id: 9, match_id: 7, tick_rate: 30, tick: 100,
    session: { match_id: 7, player_id: 4, secret: SECRET }, resumed: false, join: MAP,
  });
  assert.equal(client.state, STATES.PLAYING);
  assert.deepEqual(map, { name: 'arena', width: 1000, height: 800, walls: [{ x: 100, y: -20, w: 8, h: 64 }] });
  const events = [];
  client.on('event', (e) => events.push(e));
  last().deliver({ type: 'Event', event: bytes((w) => [0, 4, 5, 9, 10].forEach((v) => w.u32(v))) });
  assert.deepEqual(events, [{ type: 'Kill', killer: 4, victim: 5, killer_entity: 9, victim_entity: 10 }]);
  last().deliver({
    type: 'MatchEnded',
    results: bytes((w) => {
      w.u64(7);
      w.u32(1); // ScoreLimit
      w.u32(900);
      w.u64(1);
      w.u32(4);
      w.string('ann');
      for (const v of [20, 20, 1]) w.u32(v);
    }),
  });
  last().drop(1000, 'match ended');
  assert.equal(client.state, STATES.ENDED);
  assert.deepEqual(client.results, {
    match_id: 7, reason: 'ScoreLimit', ticks: 900, players: [{ player_id: 4, name: 'ann', score: 20, kills: 20, deaths: 1 }],
  });
  client.stop();
});

test("arena's interpolation draws the past, its aim turning the short way", () => {
  const it = new Interpolator(schema, { delayMs: 100, blend: { aim: lerpWrapping(256) } });
  it.setTickRate(10); // 100 ms per tick
  const world = (x, aim) => new Map([[1, {
    id: 1, kind: 'Player', kindCode: 0, strings: { name: 'ann' },
    values: { x: x * 8, y: 0, vx: 0, vy: 0, aim, hp: 100, score: 0, flags: 3, owner: 0 },
  }]]);
  it.push(10, world(0, 250), 1000);
  it.push(11, world(10, 250), 1100);
  it.push(12, world(20, 6), 1200);
  const e = arenaEntity(it.sample(1250).get(1));
  assert.ok(Math.abs(e.x - 15) < 1e-9, `x = ${e.x}`);
  assert.equal(e.aim, 0);
  assert.equal(e.name, 'ann');
  // Teleports are not smeared.
  it.push(13, world(500, 6), 1300);
  const far = arenaEntity(it.sample(1340).get(1));
  assert.ok(far.x === 20 || far.x === 500, `teleport x = ${far.x}`);
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
