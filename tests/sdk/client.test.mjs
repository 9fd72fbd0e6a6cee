// The SDK's client against a fake socket playing the server: the Hello, inputs with sequence
// numbers and acknowledgements, State frames into the replica, spectators' acks, the prediction
// hook, traffic counters, and resuming the seat after a drop with exponential backoff and
// jitter. The game is opaque here: its input is two bytes of the test's own.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
  DecodeError, Predictor, RequestError, STATES, SESSION_KEY, SchemaCodec, TickwireClient, backoffDelay,
  fromHex, loadSchema, loadToken, pickSchema,
} from '../../assets/web/sdk/tickwire.js';
import { MemoryStorage, fakeSocketClass } from './fake_server.mjs';
import { golden } from './vectors.mjs';

const codec = new SchemaCodec(golden('arena_schema.json'));
/** PROTOCOL.md 7.8: a full snapshot for tick 1000 with entity 5 at wire (800, -240). */
const SNAPSHOT_1000 = golden('protocol.json').messages
  .find((m) => m.dir === 'server' && m.msg.type === 'State' && m.msg.header.baseline_age === 0).hex;
const EMPTY_BODY = Uint8Array.of(0, 0, 7);
const SECRET = Uint8Array.from({ length: 16 }, (_, i) => i * 3);
const GAME = { name: 'test', encodeInput: (i) => Uint8Array.of(i.a, i.b) };

function welcome(resumed = false, playerId = 4, entityId = 5) {
  return {
    type: 'Welcome', game: 'test', schema_hash: parseInt(codec.hash, 16),
    player_id: playerId, entity_id: entityId, match_id: 7, tick_rate: 30, tick: 999,
    session: { match_id: 7, player_id: playerId, secret: SECRET }, resumed, join: Uint8Array.of(1, 2, 3),
  };
}

const frame = (tick, age, lastInput = 0, body = EMPTY_BODY) => ({
  type: 'State', header: { tick, baseline_age: age, last_input: lastInput }, body,
});

function setup(t, options = {}) {
  t.mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
  const sockets = [];
  let now = 0;
  const storage = options.storage ?? new MemoryStorage();
  const states = [];
  const client = new TickwireClient({
    schema: codec,
    game: GAME,
    url: 'ws://test/ws',
    name: 'ann',
    storage,
    WebSocket: fakeSocketClass(sockets),
    now: () => now,
    ...options.client,
  });
  client.on('state', (s) => states.push(s));
  const advance = (ms) => {
    now += ms;
    t.mock.timers.tick(ms);
  };
  client.start();
  return { client, sockets, storage, states, advance, last: () => sockets[sockets.length - 1] };
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

test('a player joins, applies frames and acknowledges them in its inputs', (t) => {
  const { client, storage, last } = setup(t);
  assert.equal(client.sendInput({ a: 1, b: 2 }), null, 'nothing is sent before the seat');
  last().accept();
  // The game's name and the hash of the schema the client decodes with (served as hex).
  assert.deepEqual(last().sent[0], {
    type: 'Hello', version: 3, game: 'test', schema_hash: parseInt(codec.hash, 16), name: 'ann', session: null,
    join: { type: 'Any' },
  });
  let welcomed = null;
  client.on('welcome', (w) => {
    welcomed = w;
  });
  last().deliver(welcome());
  assert.equal(client.state, STATES.PLAYING);
  assert.deepEqual(Array.from(welcomed.join), [1, 2, 3], "the Welcome's game tail, raw without a hook");
  assert.equal(welcomed.game, 'test');
  assert.equal(welcomed.schema_hash, parseInt(codec.hash, 16));
  assert.deepEqual(loadToken(storage).secret, SECRET);
  assert.equal(client.canSendInput, false, 'inputs wait for the first frame');

  const frames = [];
  client.on('frame', (f) => frames.push(f));
  last().deliver(fromHex(SNAPSHOT_1000));
  assert.equal(frames.length, 1);
  assert.equal(client.self.id, 5);
  assert.deepEqual(client.self.values.x, 800);
  assert.equal(client.sendInput({ a: 9, b: 255 }), 1);
  assert.deepEqual(last().sent.at(-1), { type: 'Input', seq: 1, ack: 1000, payload: Uint8Array.of(9, 255) });
  last().deliver(frame(1002, 2, 1));
  assert.equal(client.sendInput({ a: 0, b: 0 }), 2);
  assert.deepEqual(last().sent.at(-1), { type: 'Input', seq: 2, ack: 1002, payload: Uint8Array.of(0, 0) });
  // A late frame is ignored (latest-wins), and not acknowledged.
  last().deliver(frame(1001, 1));
  client.sendInput({ a: 0, b: 0 });
  assert.equal(last().sent.at(-1).ack, 1002);
  const s = client.stats();
  assert.equal(s.framesApplied, 2);
  assert.equal(s.inputsSent, 3);
  assert.equal(s.tick, 1002);
  assert.ok(s.bytesIn > 50 && s.bytesOut > 20, `${s.bytesIn} in, ${s.bytesOut} out`);
  assert.equal(s.messagesOut, 4, 'the Hello and three inputs');
  client.stop();
});

test('a dropped seat is resumed with its token after backoff, and the seq counts on', (t) => {
  const { client, states, advance, sockets, last } = setup(t, {
    client: { backoffBaseMs: 100, backoffMaxMs: 1000, random: () => 1 },
  });
  last().accept();
  last().deliver(welcome());
  last().deliver(fromHex(SNAPSHOT_1000));
  client.sendInput({ a: 1, b: 1 });
  client.sendInput({ a: 1, b: 1 });
  last().drop(1006);
  assert.equal(client.state, STATES.RECONNECTING);
  // Attempt n waits base · 2^n (the jitter is pinned to its top here): 100, 200, 400 ms.
  for (const [attempt, delay] of [[1, 100], [2, 200], [3, 400]]) {
    const before = sockets.length;
    advance(delay - 1);
    assert.equal(sockets.length, before, `attempt ${attempt} waits ${delay} ms`);
    advance(1);
    assert.equal(sockets.length, before + 1, `attempt ${attempt} opens a socket`);
    if (attempt < 3) last().drop(1006);
  }
  last().accept();
  const hello = last().sent[0];
  assert.equal(hello.session.player_id, 4);
  assert.deepEqual(hello.session.secret, SECRET);
  last().deliver(welcome(true));
  assert.equal(client.state, STATES.PLAYING);
  assert.equal(client.conn.resumes, 1);
  assert.equal(client.replica.newestTick, 0, 'the replica starts over: a full snapshot follows');
  last().deliver(fromHex(SNAPSHOT_1000));
  assert.equal(client.sendInput({ a: 1, b: 1 }), 3, 'the seq goes on from where it was');
  assert.deepEqual(states.slice(-2), ['reconnecting', 'playing']);
  assert.equal(client.conn.attempt, 0, 'a Welcome resets the backoff');
  client.stop();
});

test('a silent link is dropped and resumed', (t) => {
  const { client, sockets, advance, last } = setup(t, { client: { silenceMs: 1000 } });
  last().accept();
  last().deliver(welcome());
  advance(500);
  assert.ok(last().sent.some((m) => m.type === 'Ping'), 'pings while the link is healthy');
  last().deliver({ type: 'Pong', client_time: last().sent.find((m) => m.type === 'Ping').client_time, server_tick: 3 });
  assert.equal(client.stats().rtt, 0, 'the round trip, on the test clock');
  advance(1100);
  assert.equal(client.state, STATES.RECONNECTING, 'silence for more than 1 s');
  assert.equal(sockets[0].closedWith.code, 4000);
  client.stop();
});

test('spectators acknowledge every frame, send no inputs and keep no token', (t) => {
  const { client, storage, last } = setup(t, { client: { join: { type: 'Spectate', match_id: 7 } } });
  last().accept();
  assert.deepEqual(last().sent[0].join, { type: 'Spectate', match_id: 7 });
  last().deliver({ ...welcome(false, 0, 0) });
  assert.equal(client.state, STATES.SPECTATING);
  last().deliver(fromHex(SNAPSHOT_1000));
  last().deliver(frame(1001, 1));
  assert.deepEqual(last().sent.slice(1), [{ type: 'Ack', tick: 1000 }, { type: 'Ack', tick: 1001 }]);
  assert.equal(client.sendInput({ a: 1, b: 1 }), null);
  assert.equal(storage.getItem(SESSION_KEY), null);
  client.stop();
});

test('a frame whose baseline is gone makes the client resume for a full snapshot', (t) => {
  const { client, last } = setup(t);
  last().accept();
  last().deliver(welcome());
  const errors = [];
  client.on('frameError', (e) => errors.push(e));
  last().deliver(fromHex(SNAPSHOT_1000));
  last().deliver(frame(1010, 5));
  assert.equal(errors[0].kind, 'MissingBaseline');
  assert.equal(client.state, STATES.RECONNECTING);
  client.stop();
});

test('an undecodable message is a protocol error, not retried', (t) => {
  const { client, sockets, advance, last } = setup(t);
  last().accept();
  last().deliver(Uint8Array.of(0x09));
  assert.equal(client.state, STATES.ERROR);
  assert.equal(last().closedWith.code, 1007);
  advance(10000);
  assert.equal(sockets.length, 1);
  client.stop();
});

test('an unknown game or another schema is refused for good, saying why', (t) => {
  for (const [reason, message, says] of [
    ['UnknownGame', 'unknown game "test": this server hosts arena', /does not host this game/],
    ['SchemaMismatch', "schema mismatch: server's arena schema is 1a2b3c4d, client built for b2b95987",
      /another version of the game.*reload/],
  ]) {
    const { client, sockets, last, advance } = setup(t);
    last().accept();
    last().deliver({ type: 'Reject', reason, message });
    last().drop(4001, message);
    assert.equal(client.state, STATES.REJECTED, reason);
    assert.match(client.conn.detail, says);
    assert.ok(client.conn.detail.includes(message), 'the server\'s message is shown');
    advance(60000);
    assert.equal(sockets.length, 1, 'no retry: the same Hello would be refused again');
    client.stop();
    t.mock.timers.reset();
  }
});

test('loadSchema decodes with the schema of the game it names, or the default one', async () => {
  const { hash, schema } = golden('arena_schema.json');
  const arena = { hash, schema };
  const other = { hash: '0badf00d', schema: { ...arena.schema, name: 'other' } };
  const served = { ...arena, games: { arena, other } };
  const urls = [];
  const fetch = async (url) => {
    urls.push(url);
    return { ok: true, json: async () => served };
  };
  const byName = await loadSchema('/schema.json', { game: 'other', fetch });
  assert.equal(byName.name, 'other');
  assert.equal(byName.hash, '0badf00d');
  const byDefault = await loadSchema('/schema.json', { fetch });
  assert.equal(byDefault.name, 'arena');
  assert.equal(byDefault.hash, arena.hash);
  // The older form: the fetch itself as the second argument.
  assert.equal((await loadSchema('/schema.json', fetch)).name, 'arena');
  assert.deepEqual(urls, ['/schema.json', '/schema.json', '/schema.json']);
  await assert.rejects(loadSchema('/schema.json', { game: 'chess', fetch }),
    /does not serve a schema for "chess" \(it hosts arena, other\)/);
  assert.throws(() => pickSchema(served, 'constructor'), /does not serve/);
  // A server from before `games` serves one schema, found by its declared name.
  assert.equal(pickSchema(arena, 'arena'), arena);
  assert.throws(() => pickSchema(arena, 'other'), /it hosts arena/);
  const missing = async () => ({ ok: false, status: 404 });
  await assert.rejects(loadSchema('/schema.json', { game: 'arena', fetch: missing }), /HTTP 404/);
});

test('a refused resume says the seat is gone; a match end forgets it', (t) => {
  const storage = new MemoryStorage();
  storage.setItem(SESSION_KEY, JSON.stringify({ match_id: '7', player_id: 4, secret: '00'.repeat(16) }));
  const { client, last } = setup(t, { storage });
  last().accept();
  assert.equal(last().sent[0].session.match_id, 7);
  last().deliver({ type: 'Reject', reason: 'SeatExpired', message: 'the seat was freed' });
  last().drop(4001, 'the seat was freed');
  assert.equal(client.state, STATES.SEAT_LOST);
  assert.match(client.conn.detail, /seat in match 7 is gone/);
  assert.equal(storage.getItem(SESSION_KEY), null);

  client.playAgain();
  last().accept();
  last().deliver(welcome());
  const ended = [];
  client.on('ended', (r) => ended.push(r));
  last().deliver({ type: 'MatchEnded', results: Uint8Array.of(7, 2) });
  last().drop(1000, 'match ended');
  assert.equal(client.state, STATES.ENDED);
  assert.deepEqual(Array.from(ended[0]), [7, 2], 'the results, raw without a hook');
  assert.equal(storage.getItem(SESSION_KEY), null);
  client.stop();
});

test('the prediction hook replays unacknowledged inputs on every authoritative state', (t) => {
  // A game whose input moves its player's x by `a` wire units per tick.
  const predictor = new Predictor({
    step: (s, input) => {
      s.x += input.a;
    },
    fromRow: (row) => ({ x: row.values.x }),
    distance: (p, q) => Math.abs(p.x - q.x),
  });
  const { client, last } = setup(t, { client: { predictor } });
  last().accept();
  last().deliver(welcome());
  last().deliver(fromHex(SNAPSHOT_1000));
  assert.deepEqual(predictor.state, { x: 800 });
  for (let i = 0; i < 3; i++) client.sendInput({ a: 10, b: 0 });
  assert.deepEqual(predictor.state, { x: 830 });
  // The server applied input 1 only, and has the player at 800 still (a correction of 10).
  const corrections = [];
  client.on('frame', (f) => corrections.push(f.correction));
  last().deliver(frame(1001, 1, 1));
  assert.deepEqual(predictor.pending.map((p) => p.seq), [2, 3]);
  assert.deepEqual(predictor.state, { x: 820 });
  assert.deepEqual(corrections, [10]);
  client.stop();
});

test('a bad served schema or a bad body raises DecodeError', (t) => {
  assert.throws(() => new TickwireClient({ schema: { schema: {} }, game: GAME, url: 'ws://x' }), DecodeError);
  const { client, last } = setup(t);
  last().accept();
  last().deliver(welcome());
  const errors = [];
  client.on('frameError', (e) => errors.push(e));
  last().deliver(frame(1000, 0, 0, Uint8Array.of(0xff)));
  assert.ok(errors[0] instanceof DecodeError, `${errors[0]}`);
  assert.equal(client.state, STATES.RECONNECTING, 'a resume brings a full snapshot');
  client.stop();
});

test('sendRequest resolves with the reply, rejects with the refusal, and fails on a drop', async (t) => {
  const { client, last } = setup(t);
  await assert.rejects(client.sendRequest(Uint8Array.of(0, 1)), (e) => e instanceof RequestError && e.reason === 'NotConnected');
  last().accept();
  last().deliver(welcome());
  const events = [];
  client.on('reply', (m) => events.push(m.type));
  client.on('requestRefused', (m) => events.push(m.type));
  const first = client.sendRequest(Uint8Array.of(0, 3));
  const second = client.sendRequest(Uint8Array.of(9));
  const third = client.sendRequest(new Uint8Array(300));
  assert.deepEqual(last().sent.slice(-3).map((m) => [m.type, m.id, m.payload.length]), [
    ['Request', 1, 2], ['Request', 2, 1], ['Request', 3, 300],
  ]);
  // Answers settle their own request, whatever order they come in.
  last().deliver({ type: 'RequestRefused', id: 2, reason: 'Malformed', message: 'unknown request tag 9' });
  last().deliver({ type: 'Reply', id: 1, payload: Uint8Array.of(45, 1, 0, 0) });
  last().deliver({ type: 'RequestRefused', id: 3, reason: 'TooLarge', limit: 256 });
  assert.deepEqual(Array.from(await first), [45, 1, 0, 0]);
  await assert.rejects(second, (e) => e instanceof RequestError && e.reason === 'Malformed'
    && e.refusal.message === 'unknown request tag 9' && /unknown request tag 9/.test(e.message));
  await assert.rejects(third, (e) => e.reason === 'TooLarge' && e.limit === 256);
  assert.deepEqual(events, ['RequestRefused', 'Reply', 'RequestRefused']);
  // A drop before the answer: the promise fails rather than waiting for ever.
  const lost = client.sendRequest(Uint8Array.of(0, 1));
  assert.equal(last().sent.at(-1).id, 4);
  last().drop(1006);
  await assert.rejects(lost, (e) => e.reason === 'ConnectionLost');
  assert.equal(client.pending.size, 0);
  client.stop();
});
