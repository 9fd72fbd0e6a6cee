// Unit tests of soccer's page layer (assets/web/soccer/) on the SDK, in Node without a browser:
// its input bytes and event bytes against the Rust vectors (crates/soccer/src/input.rs,
// event.rs), the SDK client with soccer's hooks and served schema against a fake socket, the
// movement it predicts, and the kick's charge. Run: node --test
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { EncodeError, Reader, STATES, TickwireClient, Writer, pickSchema } from '../../assets/web/sdk/tickwire.js';
import {
  BUTTON_KICK, BUTTON_SPRINT, SOCCER_GAME, decodeSoccerEvent, encodeChooseTeam, encodeInput, findKind,
  replyTeam, soccerEntity, soccerPredictor, stepPlayer,
} from '../../assets/web/soccer/game.js';
import { Controls, KICK_CHARGE_MS, aimFromVector, kickPower } from '../../assets/web/soccer/controls.js';
import { MemoryStorage, fakeSocketClass } from '../sdk/fake_server.mjs';

const served = JSON.parse(readFileSync(new URL('../golden/arena_schema.json', import.meta.url), 'utf8'));
const SECRET = Uint8Array.from({ length: 16 }, (_, i) => i * 3);

/** Bytes written by `fill(writer)`. */
function bytes(fill) {
  const w = new Writer();
  fill(w);
  return w.finish();
}

test("soccer's input is its five bytes, as SoccerInput::payload lays them out", () => {
  const input = { move_x: -128, move_y: 127, aim: 200, buttons: 0xff, power: 9 };
  assert.deepEqual([...encodeInput(input)], [0x80, 0x7f, 200, 0xff, 9]);
  assert.deepEqual([...SOCCER_GAME.encodeInput({ move_x: 0, move_y: -1, aim: 0, buttons: BUTTON_KICK, power: 255 })],
    [0, 0xff, 0, 1, 255]);
  for (const bad of [{ ...input, power: 256 }, { ...input, move_x: 1.5 }, { ...input, aim: -1 }, { ...input, power: undefined }]) {
    assert.throws(() => encodeInput(bad), EncodeError);
  }
  assert.deepEqual([...encodeChooseTeam('away')], [1]);
  assert.throws(() => encodeChooseTeam('left'), EncodeError);
  assert.equal(replyTeam(Uint8Array.of(0)), 'home');
  assert.throws(() => replyTeam(Uint8Array.of(2)));
});

test("soccer's event bytes decode as crates/soccer/src/event.rs writes them; others do not", () => {
  assert.deepEqual(decodeSoccerEvent(Uint8Array.of(0, 1, 7, 0, 0, 0, 1, 0, 0, 0, 3, 0, 0, 0)),
    { type: 'Goal', team: 'away', scorer: 7, home: 1, away: 3 });
  assert.deepEqual(decodeSoccerEvent(Uint8Array.of(0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0)),
    { type: 'Goal', team: 'home', scorer: null, home: 2, away: 0 });
  assert.deepEqual(decodeSoccerEvent(Uint8Array.of(1, 4, 3, 2, 1, 1)), { type: 'TeamChanged', player: 0x01020304, team: 'away' });
  assert.deepEqual(decodeSoccerEvent(Uint8Array.of(2, 0)), { type: 'Kickoff', team: 'home' });
  for (const b of [[], [2], [2, 2], [2, 0, 0], [3, 0], [1, 0, 0, 0, 0, 9], [0, 0, 1]]) {
    assert.equal(decodeSoccerEvent(Uint8Array.from(b)), null, JSON.stringify(b));
  }
  // Inside the protocol's GameEvent: `Game` (tag 3) carries them behind their length.
  const game = bytes((w) => {
    w.u32(3);
    w.u64(2);
    w.bytes(Uint8Array.of(2, 1));
  });
  assert.deepEqual(SOCCER_GAME.decodeEvent(new Reader(game)), { type: 'Kickoff', team: 'away' });
  const phase = bytes((w) => [1, 1, 900].forEach((v) => w.u32(v)));
  assert.deepEqual(SOCCER_GAME.decodeEvent(new Reader(phase)), { type: 'PhaseChanged', phase: 'Running', ticks: 900 });
});

test("the SDK client joins soccer by name with soccer's schema; pitch, events and results are soccer's", (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
  const sockets = [];
  const schema = pickSchema(served, 'soccer');
  const client = new TickwireClient({
    schema,
    game: SOCCER_GAME,
    url: 'ws://test/ws',
    name: 'ann',
    storage: new MemoryStorage(),
    WebSocket: fakeSocketClass(sockets),
    now: () => 0,
  });
  client.start();
  const socket = sockets[0];
  socket.accept();
  const hello = socket.sent[0];
  assert.equal(hello.game, 'soccer');
  assert.equal(hello.schema_hash, parseInt(schema.hash, 16), "the Hello names soccer's schema");
  let pitch = null;
  client.on('welcome', (w) => {
    pitch = w.join;
  });
  socket.deliver({
    type: 'Welcome', game: 'soccer', schema_hash: parseInt(schema.hash, 16), player_id: 4, entity_id: 9,
    match_id: 7, tick_rate: 30, tick: 100, session: { match_id: 7, player_id: 4, secret: SECRET }, resumed: false,
    join: bytes((w) => {
      w.string('pitch');
      w.u32(500);
      w.u32(300);
      w.u64(0);
    }),
  });
  assert.equal(client.state, STATES.PLAYING);
  assert.deepEqual(pitch, { name: 'pitch', width: 500, height: 300 });
  const events = [];
  client.on('event', (e) => events.push(e));
  const goal = Uint8Array.of(0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0);
  socket.deliver({ type: 'Event', event: bytes((w) => {
    w.u32(3);
    w.u64(goal.length);
    w.bytes(goal);
  }) });
  assert.deepEqual(events, [{ type: 'Goal', team: 'home', scorer: 4, home: 1, away: 0 }]);
  let results = null;
  client.on('ended', (r) => {
    results = r;
  });
  socket.deliver({
    type: 'MatchEnded',
    results: bytes((w) => {
      w.u64(7);
      w.u32(1); // ScoreLimit
      w.u32(900);
      w.u64(1);
      w.u32(4);
      w.string('ann');
      for (const v of [1, 0, 0]) w.u32(v);
    }),
  });
  assert.deepEqual(results, { match_id: 7, reason: 'ScoreLimit', ticks: 900, players: [{ player_id: 4, name: 'ann', score: 1 }] });
  client.stop();
});

test("soccer's rows read as the page draws them", () => {
  const world = new Map([
    [3, { id: 3, kind: 'ball', kindCode: 1, values: { x: 2000, y: 1200, vx: 0, vy: 0 }, strings: {} }],
    [5, { id: 5, kind: 'player', kindCode: 0, values: { x: 8, y: 16, vx: 0, vy: 0, aim: 128, team: 1, flags: 1 }, strings: { name: 'bob' } }],
    [4, { id: 4, kind: 'score', kindCode: 2, values: { home: 2, away: 1, kickoff: 7 }, strings: {} }],
  ]);
  assert.deepEqual(findKind(world, 'score'), { id: 4, kind: 'score', home: 2, away: 1, kickoff: 7 });
  assert.equal(findKind(world, 'ball').x, 2000);
  assert.equal(findKind(null, 'ball'), null);
  const bob = soccerEntity(world.get(5));
  assert.equal(bob.team, 'away');
  assert.equal(bob.name, 'bob');
});

const RULES = {
  tick_rate: 30, pitch_width: 500, pitch_height: 300, player_radius: 20, player_speed: 300, sprint_multiplier: 1.5,
};
const still = { move_x: 0, move_y: 0, aim: 0, buttons: 0, power: 0 };

test('the predicted run is the server\'s: paused at kickoff, the stick normalized, sprint, the touchlines', () => {
  const right = { ...still, move_x: 127 };
  assert.deepEqual(stepPlayer({ x: 100, y: 100, pause: 2 }, right, RULES), { x: 100, y: 100, pause: 1 });
  assert.deepEqual(stepPlayer({ x: 100, y: 100, pause: 0 }, right, RULES), { x: 110, y: 100, pause: 0 });
  assert.deepEqual(stepPlayer({ x: 100, y: 100, pause: 0 }, { ...right, buttons: BUTTON_SPRINT }, RULES),
    { x: 115, y: 100, pause: 0 });
  // Sprinting while standing still goes nowhere; -128 is -127.
  assert.deepEqual(stepPlayer({ x: 100, y: 100, pause: 0 }, { ...still, buttons: BUTTON_SPRINT }, RULES), { x: 100, y: 100, pause: 0 });
  const diag = stepPlayer({ x: 100, y: 100, pause: 0 }, { ...still, move_x: -128, move_y: 127 }, RULES);
  assert.ok(Math.abs(Math.hypot(diag.x - 100, diag.y - 100) - 10) < 1e-9, 'a diagonal is no faster');
  assert.deepEqual(stepPlayer({ x: 485, y: 25, pause: 0 }, { ...still, move_x: 127, move_y: -127 }, RULES),
    { x: 480, y: 20, pause: 0 });
  // The predictor replays unacknowledged inputs on the server's state, pause included.
  let kickoff = 1;
  const p = soccerPredictor(RULES, () => kickoff);
  const row = { values: { x: 800, y: 800 } };
  p.reconcile(row, 0);
  p.push(1, right);
  p.push(2, right);
  assert.deepEqual(p.state, { x: 110, y: 100, pause: 0 }, 'the first tick is still paused');
  kickoff = 0;
  p.reconcile({ values: { x: 880, y: 800 } }, 1);
  assert.deepEqual(p.state, { x: 120, y: 100, pause: 0 });
});

/** A page's event targets, for Controls: listeners by type, and a way to fire them. */
function fakeTarget() {
  const listeners = new Map();
  return {
    addEventListener: (type, fn) => listeners.set(type, [...(listeners.get(type) ?? []), fn]),
    fire: (type, e) => (listeners.get(type) ?? []).forEach((fn) => fn({ preventDefault() {}, ...e })),
    getBoundingClientRect: () => ({ left: 0, top: 0 }),
  };
}

test('holding the kick charges it; it goes the way the player runs, or where the mouse points', () => {
  assert.equal(kickPower(0), Math.round(255 * 0.3));
  assert.equal(kickPower(KICK_CHARGE_MS), 255);
  assert.equal(kickPower(10 * KICK_CHARGE_MS), 255);
  assert.ok(kickPower(KICK_CHARGE_MS / 2) > kickPower(0) && kickPower(KICK_CHARGE_MS / 2) < 255);
  assert.equal(aimFromVector(0, 1), 64);
  let now = 1000;
  const win = fakeTarget();
  const canvas = fakeTarget();
  const c = new Controls(win, canvas, () => now);
  assert.deepEqual(c.sample(null, null), { move_x: 0, move_y: 0, aim: 0, buttons: 0, power: 0 });
  win.fire('keydown', { type: 'keydown', code: 'KeyS' });
  win.fire('keydown', { type: 'keydown', code: 'ShiftLeft' });
  win.fire('keydown', { type: 'keydown', code: 'Space' });
  assert.equal(c.charge(), 0);
  now += KICK_CHARGE_MS / 2;
  const s = c.sample(null, null);
  assert.deepEqual(s, { move_x: 0, move_y: 127, aim: 64, buttons: BUTTON_KICK | BUTTON_SPRINT, power: kickPower(KICK_CHARGE_MS / 2) });
  win.fire('keyup', { type: 'keyup', code: 'Space' });
  win.fire('keyup', { type: 'keyup', code: 'KeyS' });
  assert.equal(c.charge(), null);
  assert.deepEqual(c.sample(null, null), { move_x: 0, move_y: 0, aim: 64, buttons: BUTTON_SPRINT, power: 0 }, 'the aim is kept');
  // The mouse aims (world = canvas pixels here) and its button kicks too.
  canvas.fire('mousedown', { button: 0, clientX: 50, clientY: 40 });
  const m = c.sample({ x: 40, y: 40 }, (x, y) => ({ x, y }));
  assert.equal(m.aim, 0);
  assert.equal(m.buttons & BUTTON_KICK, BUTTON_KICK);
  win.fire('mouseup', { button: 0 });
  assert.equal(c.sample({ x: 40, y: 40 }, (x, y) => ({ x, y })).buttons & BUTTON_KICK, 0);
  // Keys typed into a text box are not the game's.
  win.fire('keydown', { type: 'keydown', code: 'Space', target: { tagName: 'INPUT' } });
  assert.equal(c.charge(), null);
});
