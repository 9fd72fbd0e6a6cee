// The replica's rules (PROTOCOL.md §5), over a small schema of the test's own: prediction by
// velocity, residuals and replaced fields, the baselines kept and dropped as acknowledgements
// move forward, full snapshots, strings sent once, and every refusal.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { ApplyError, MAX_WORLDS, Replica, SchemaCodec } from '../../assets/web/sdk/tickwire.js';

// A ship with a predicted position (px, pvx) and an unpredicted one (h), a mutable integer and
// a name; a mine with just a position.
const codec = new SchemaCodec({
  hash: '00000000',
  schema: {
    name: 'ships',
    groups: ['MOVE', 'STATE'],
    short_masks: [['MOVE']],
    kinds: [
      {
        name: 'ship',
        fields: [
          { name: 'px', group: 'MOVE', kind: { type: 'pos', scale: 4 } },
          { name: 'pvx', group: 'MOVE', kind: { type: 'vel', of: 'px', create_order: 2 } },
          { name: 'h', group: 'MOVE', kind: { type: 'pos', scale: 2 } },
          { name: 'fuel', group: 'STATE', kind: { type: 'u_int', coding: { bits: 8 } } },
          { name: 'name', group: null, kind: { type: 'str', max_bytes: 8 } },
        ],
      },
      { name: 'mine', fields: [{ name: 'mx', group: 'MOVE', kind: { type: 'pos', scale: 1 } }] },
    ],
  },
});

const ship = (id, px, pvx, h, fuel, name) => ({
  id, kind: 'ship', kindCode: 0, values: { px, pvx, h, fuel }, strings: { name },
});
const mine = (id, mx) => ({ id, kind: 'mine', kindCode: 1, values: { mx }, strings: {} });
const delta = (d) => ({ removed: [], created: [], updated: [], strings_elided: [], ...d });
const full = (...created) => delta({ created });
const rows = (world) => [...world.values()].sort((a, b) => a.id - b.id);
const refused = (kind) => (e) => e instanceof ApplyError && e.kind === kind;

test('entities move on by their velocity, then take residuals and new values', () => {
  const r = new Replica(codec);
  r.apply(10, 0, full(ship(1, 100, 3, 50, 9, 'ann'), mine(2, -7)));
  // Three ticks later, nothing sent: the ship is predicted on, the rest stays.
  let w = r.apply(13, 3, delta({}));
  assert.deepEqual(rows(w), [ship(1, 109, 3, 50, 9, 'ann'), mine(2, -7)]);
  // The velocity changes by -5 first, the position is predicted with the new one, then the
  // residuals are added; fuel is replaced.
  w = r.apply(15, 2, delta({ updated: [{ index: 0, mask: 3, values: { px: 1, pvx: -5, h: -4, fuel: 200 } }] }));
  assert.deepEqual(rows(w)[0], ship(1, 109 - 4 + 1, -2, 46, 200, 'ann'));
  // Sums wrap as i32.
  r.apply(16, 0, full(ship(1, 0x7fff_ffff, 1, 0, 0, '')));
  w = r.apply(17, 1, delta({}));
  assert.equal(rows(w)[0].values.px, -0x8000_0000);
});

test('acknowledgements only move forward: older worlds are dropped, full snapshots keep them', () => {
  const r = new Replica(codec);
  r.apply(1, 0, full(mine(5, 0)));
  r.apply(2, 1, delta({}));
  r.apply(3, 2, delta({}));
  // A full snapshot after them keeps them: a delta computed before the server saw the newest
  // acknowledgement may still come.
  r.apply(4, 0, full(mine(5, 4)));
  assert.deepEqual(r.worlds.map((x) => x.tick), [1, 2, 3, 4]);
  // A delta against tick 2 drops every world before it.
  const w = r.apply(6, 4, delta({ updated: [{ index: 0, mask: 1, values: { mx: 1 } }] }));
  assert.deepEqual(rows(w), [mine(5, 1)]);
  assert.deepEqual(r.worlds.map((x) => x.tick), [2, 3, 4, 6]);
  assert.equal(r.newestTick, 6, 'what the next Input acknowledges');
  assert.throws(() => r.apply(7, 6, delta({})), refused('MissingBaseline'), 'tick 1 was dropped');
  assert.throws(() => r.apply(6, 2, delta({})), refused('Stale'));
  assert.throws(() => r.apply(5, 1, delta({})), refused('Stale'));
  assert.throws(() => r.apply(8, 9, delta({})), refused('BadBaselineAge'));
  // None of the refusals changed what is held.
  assert.deepEqual(r.worlds.map((x) => x.tick), [2, 3, 4, 6]);
  assert.equal(r.worldAt(3).get(5).values.mx, 0);
});

test('strings are sent once: a create that leaves them out takes the ones held', () => {
  const r = new Replica(codec);
  r.apply(1, 0, full(ship(1, 0, 0, 0, 0, 'ann'), ship(2, 0, 0, 0, 0, '')));
  assert.deepEqual(r.stringsOf(1), { name: 'ann' });
  assert.equal(r.stringsOf(2), null, 'empty strings are not worth remembering');
  // Out of view and back: created again, its name left out.
  const w = r.apply(2, 0, delta({ created: [ship(1, 8, 0, 0, 0, '')], strings_elided: [1] }));
  assert.equal(w.get(1).strings.name, 'ann');
  assert.throws(() => r.apply(3, 0, delta({ created: [ship(2, 0, 0, 0, 0, '')], strings_elided: [2] })),
    refused('UnknownName'));
  assert.throws(() => r.apply(4, 0, delta({ created: [ship(9, 0, 0, 0, 0, '')], strings_elided: [9] })),
    refused('UnknownName'));
  r.reset();
  assert.equal(r.stringsOf(1), null, 'a new connection starts over');
  assert.equal(r.newestTick, 0);
});

test('removals, updates past the baseline and duplicate creates are refused', () => {
  const r = new Replica(codec);
  r.apply(1, 0, full(mine(1, 0), mine(2, 0)));
  assert.throws(() => r.apply(2, 1, delta({ removed: [2] })), refused('UnknownIndex'));
  assert.throws(() => r.apply(3, 2, delta({ updated: [{ index: 5, mask: 1, values: { mx: 1 } }] })), refused('UnknownIndex'));
  assert.throws(() => r.apply(4, 3, delta({ removed: [0], updated: [{ index: 0, mask: 1, values: { mx: 1 } }] })),
    refused('UnknownIndex'), 'removed and updated at once');
  assert.throws(() => r.apply(5, 4, delta({ created: [mine(2, 1)] })), refused('DuplicateEntity'));
  // An identity change: removed and created again in one frame.
  const w = r.apply(6, 5, delta({ removed: [1], created: [ship(2, 0, 0, 0, 0, 'bo')] }));
  assert.deepEqual(rows(w).map((e) => e.kind), ['mine', 'ship']);
});

test('the decoded body drives the replica: the empty body keeps the world as predicted', () => {
  const r = new Replica(codec);
  r.apply(1, 0, full(ship(1, 0, 2, 0, 0, 'x')));
  // `00 00 07`: four orders of 0 and three empty lists, the body of "nothing to correct".
  const w = r.applyBody(3, 2, Uint8Array.of(0, 0, 7));
  assert.equal(w.get(1).values.px, 4);
});

test('at most MAX_WORLDS worlds are held', () => {
  const r = new Replica(codec);
  for (let t = 1; t <= MAX_WORLDS + 10; t++) r.apply(t, 0, full());
  assert.equal(r.worlds.length, MAX_WORLDS);
  assert.equal(r.worlds[0].tick, 11);
});
