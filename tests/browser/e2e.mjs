// End-to-end test of the browser client in headless Chromium, driven by tests/browser.rs.
//
// The Rust test starts the real server (and a TCP proxy in front of it it can cut or stall),
// then runs this script with:
//   TICKWIRE_URL        http://127.0.0.1:PORT        the server
//   TICKWIRE_PROXY_URL  http://127.0.0.1:PORT        the same server through the proxy
//   TICKWIRE_CHROMIUM   path of the chromium binary
//   TICKWIRE_ARTIFACTS  directory for screenshots
//
// Facts about the server are asked of the Rust side, never taken from the page: the script
// prints `@@ {"id": N, "cmd": ...}` and reads the answer `{"id": N, ...}` as one line on stdin.
// Commands: `players` (every player and projectile entity of the newest snapshot of each
// arena match, plus the spectator count), `soccer` (each soccer match's phase, players with
// their teams, ball and score board), `kill_proxy` (drop every proxied connection),
// `freeze_proxy` (stop forwarding on every proxied connection, leaving them open) and
// `end_match` (end a match as an operator would).
//
// Arena's page is played first (scenario), then soccer's (soccerScenario), in one browser.

import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

import { chromium } from 'playwright-core';

const DIRECT = must('TICKWIRE_URL');
const PROXIED = must('TICKWIRE_PROXY_URL');
const CHROMIUM = must('TICKWIRE_CHROMIUM');
const ARTIFACTS = must('TICKWIRE_ARTIFACTS');

const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

function must(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run this through \`cargo test --test browser\``);
  return v;
}

const started = Date.now();
function log(...args) {
  console.log(`[${((Date.now() - started) / 1000).toFixed(1)}s]`, ...args);
}

function check(cond, message) {
  if (!cond) throw new Error(`check failed: ${message}`);
}

// ---- the Rust side ----

const answers = new Map();
let nextId = 1;
createInterface({ input: process.stdin }).on('line', (line) => {
  const msg = JSON.parse(line);
  const waiter = answers.get(msg.id);
  if (waiter) {
    answers.delete(msg.id);
    if (msg.error) waiter.reject(new Error(msg.error));
    else waiter.resolve(msg);
  }
});

function ask(cmd, args = {}) {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    answers.set(id, { resolve, reject });
    process.stdout.write(`@@ ${JSON.stringify({ id, cmd, ...args })}\n`);
  });
}

/** The server's player entity named `name` (world units), or null. */
async function serverPlayer(name) {
  const { players } = await ask('players');
  return players.find((p) => p.name === name) ?? null;
}

/** The server's player `name` once it has stopped moving. */
async function settled(name) {
  let prev = null;
  return until(`${name} to come to rest`, async () => {
    await new Promise((r) => setTimeout(r, 150));
    const p = await serverPlayer(name);
    const rest = prev && p && p.x === prev.x && p.y === prev.y;
    prev = p;
    return rest && p;
  }, 5000, 0);
}

async function until(what, fn, timeoutMs = 10000, everyMs = 100) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

// ---- the pages ----

const snap = (page) => page.evaluate(() => window.tickwire.snapshot());

async function open(context, url, label) {
  const page = await context.newPage();
  page.on('pageerror', (e) => log(`${label}: page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.text().includes('willReadFrequently')) return; // the test's own pixel reads
    if (m.type() === 'error' || m.type() === 'warning') log(`${label}: console ${m.type()}: ${m.text()}`);
  });
  await page.goto(url);
  await page.waitForFunction(() => window.tickwire !== undefined, null, { timeout: 10000 });
  return page;
}

async function waitState(page, state, timeoutMs = 10000) {
  await page.waitForFunction((s) => window.tickwire.snapshot().connection === s, state, {
    timeout: timeoutMs,
  });
  return snap(page);
}

/** Waits until the element's text contains `text`. */
async function textIncludes(page, selector, text, what) {
  try {
    await page.waitForFunction(([sel, t]) => {
      const el = document.querySelector(sel);
      return el && el.textContent.includes(t) && el.textContent !== '–';
    }, [selector, text], { timeout: 5000 });
  } catch {
    throw new Error(`check failed: ${what} (${selector}: ${JSON.stringify(await page.textContent(selector))})`);
  }
}

/** The canvas colour at world point (x, y) of a page. */
function pixelAt(page, x, y) {
  return page.evaluate(([wx, wy]) => {
    const p = window.tickwire.screenOf(wx, wy);
    const canvas = document.getElementById('game');
    const dpr = canvas.width / canvas.clientWidth;
    const d = canvas.getContext('2d').getImageData(Math.round(p.x * dpr), Math.round(p.y * dpr), 1, 1).data;
    return [d[0], d[1], d[2]];
  }, [x, y]);
}

/**
 * Holds movement keys for `ms`: towards the arena centre, or (`back`) away from it, the way
 * the first walk came; returns the keys used.
 */
async function walkToCentre(page, from, ms, back = false) {
  const right = (from.x < 500) !== back;
  const down = (from.y < 500) !== back;
  const keys = [right ? 'KeyD' : 'KeyA', down ? 'KeyS' : 'KeyW'];
  await page.bringToFront();
  for (const k of keys) await page.keyboard.down(k);
  await page.waitForTimeout(ms);
  for (const k of keys) await page.keyboard.up(k);
  return keys;
}

const dist = (a, b) => Math.hypot(a.x - b.x, a.y - b.y);

/** Distance along a ray from `from` (unit direction d) to the first wall or arena edge. */
function freeRun(map, from, dx, dy) {
  let best = Infinity;
  const boxes = map.walls.map((w) => [w.x - 4, w.y - 4, w.x + w.w + 4, w.y + w.h + 4]);
  for (const [x0, y0, x1, y1] of boxes) {
    let tmin = 0;
    let tmax = Infinity;
    for (const [p, d, lo, hi] of [[from.x, dx, x0, x1], [from.y, dy, y0, y1]]) {
      if (Math.abs(d) < 1e-9) {
        if (p < lo || p > hi) tmax = -1;
      } else {
        const t0 = (lo - p) / d;
        const t1 = (hi - p) / d;
        tmin = Math.max(tmin, Math.min(t0, t1));
        tmax = Math.min(tmax, Math.max(t0, t1));
      }
    }
    if (tmax >= tmin) best = Math.min(best, tmin);
  }
  const edge = Math.min(
    dx > 0 ? (map.width - from.x) / dx : dx < 0 ? -from.x / dx : Infinity,
    dy > 0 ? (map.height - from.y) / dy : dy < 0 ? -from.y / dy : Infinity,
  );
  return Math.min(best, edge);
}

/**
 * Where to aim from `me`: at `other` when the line is clear and long enough for the shots to be
 * seen in flight, else down the longest free lane.
 */
function clearShot(map, me, other) {
  const d = dist(me, other);
  if (d > 150 && freeRun(map, me, (other.x - me.x) / d, (other.y - me.y) / d) >= d) return other;
  let best = null;
  for (let i = 0; i < 32; i++) {
    const ang = (i / 32) * 2 * Math.PI;
    const run = freeRun(map, me, Math.cos(ang), Math.sin(ang));
    if (!best || run > best.run) best = { run, ang };
  }
  const reach = Math.min(best.run, 300);
  return { x: me.x + Math.cos(best.ang) * reach, y: me.y + Math.sin(best.ang) * reach };
}

async function main() {
  const profile = mkdtempSync(join(tmpdir(), 'tickwire-chromium-'));
  mkdirSync(ARTIFACTS, { recursive: true });
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_FLAGS,
    viewport: { width: 1280, height: 800 },
  });
  try {
    const { alice } = await scenario(context);
    await soccerScenario(context, alice);
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

async function scenario(context) {
  // 1. A player joins (through the proxy) and sees itself.
  const alice = await open(context, `${PROXIED}/?name=alice`, 'alice');
  let a = await waitState(alice, 'playing');
  await alice.waitForFunction(() => {
    const s = window.tickwire.snapshot();
    return s.entities.some((e) => e.id === s.entityId) && s.self !== null;
  }, null, { timeout: 5000 });
  a = await snap(alice);
  log(`alice joined match ${a.matchId} as player ${a.playerId} (entity ${a.entityId})`);
  const matchId = a.matchId;
  const onServer = await until('alice on the server', () => serverPlayer('alice'));
  check(onServer.entity_id === a.entityId, 'the server seats alice in the entity the page controls');
  await textIncludes(alice, '#scores', 'alice', 'the scoreboard lists alice');
  await textIncludes(alice, '#status', 'Connected', 'the status says Connected');
  // The HUD: ping, tick, tick rate, bytes per second, connection state.
  await textIncludes(alice, '#hud-ping', ' ms', 'the HUD shows the ping');
  await textIncludes(alice, '#hud-rate', '30 Hz', 'the HUD shows the tick rate');
  await textIncludes(alice, '#hud-bytes', 'B/s', 'the HUD shows the bytes received per second');
  await textIncludes(alice, '#hud-conn', 'playing', 'the HUD shows the connection state');
  check(/^\d+$/.test(await alice.textContent('#hud-tick')), 'the HUD shows the tick');
  // The page is arena's layer on the SDK, which reports the traffic both ways.
  const sdkLoaded = await alice.evaluate(() => performance.getEntriesByType('resource')
    .some((e) => new URL(e.name).pathname === '/sdk/tickwire.js'));
  check(sdkLoaded, 'the page loads the SDK from /sdk/tickwire.js');
  a = await snap(alice);
  check(a.bytesIn > 0 && a.bytesOut > 0, `the SDK counts bytes in and out (${a.bytesIn}, ${a.bytesOut})`);
  const self = a.entities.find((e) => e.id === a.entityId);
  await alice.waitForTimeout(100);
  const [r, g, b] = await pixelAt(alice, self.x, self.y);
  check(Math.abs(r - 0x38) < 30 && Math.abs(g - 0xe1) < 30 && Math.abs(b - 0xc6) < 30,
    `alice is drawn at her position in her colour (got rgb ${r},${g},${b})`);

  // 2. A second player joins the same match directly and sees the first.
  const bob = await open(context, `${DIRECT}/?name=bob`, 'bob');
  const bs = await waitState(bob, 'playing');
  check(bs.matchId === matchId, 'bob joins the same match');
  await bob.waitForFunction(() => window.tickwire.snapshot().entities.some((e) => e.name === 'alice'),
    null, { timeout: 5000 });
  log('bob joined and sees alice');

  // 3. Keys pressed on alice's page move her on the server, and bob sees it.
  const before = await serverPlayer('alice');
  const keys = await walkToCentre(alice, before, 700);
  const after = await settled('alice');
  log(`alice pressed ${keys.join('+')}: server moved her from (${before.x}, ${before.y}) to (${after.x}, ${after.y})`);
  check(dist(before, after) > 60, `alice moved on the server (${dist(before, after).toFixed(1)} units)`);
  // The prediction settles exactly where the server put her.
  await until('alice prediction to match the server', async () => {
    const [s, p] = await Promise.all([snap(alice), serverPlayer('alice')]);
    return s.self && dist(s.self, p) < 0.2;
  }, 5000);
  a = await snap(alice);
  check(a.inputsSent > 20 && a.lastInput > 0, 'alice sends inputs and the server applies them');
  // Bob's replica and his interpolated view both follow.
  await until('bob to see alice move', async () => {
    const s = await snap(bob);
    const seen = s.entities.find((e) => e.name === 'alice');
    const drawn = s.view.find((e) => e.name === 'alice');
    return seen && drawn && dist(seen, after) < 1 && dist(drawn, after) < 1;
  }, 5000);
  log('bob sees alice where the server has her');

  // 3b. Chat: a line typed on alice's page reaches bob's, as text, cleaned by the server.
  await alice.bringToFront();
  await alice.keyboard.press('Enter');
  check(await alice.evaluate(() => document.activeElement?.id === 'chat-input'), 'Enter focuses the chat box');
  await alice.keyboard.type('gg <b>bob</b>\u200b');
  await alice.keyboard.press('Enter');
  await textIncludes(bob, '#chat-lines', 'alice', 'bob sees who chatted');
  await textIncludes(bob, '#chat-lines', 'gg <b>bob</b>', 'bob sees the line as text, not HTML');
  await textIncludes(alice, '#chat-lines', 'gg <b>bob</b>', 'alice sees her own line');
  check(await bob.evaluate(() => document.querySelector('#chat-lines b') === null), 'chat is never parsed as HTML');
  check(await alice.evaluate(() => document.activeElement?.id !== 'chat-input'), 'sending returns to the game');
  log('alice chatted and bob read it');

  // 4. Cutting alice's connection: the page shows it, reconnects and resumes the same seat.
  await alice.evaluate(() => {
    window.__shown = [];
    const record = () => {
      const banner = document.getElementById('banner');
      const status = document.getElementById('status').textContent;
      window.__shown.push(`${status}|${banner.hidden ? '' : banner.textContent}`);
    };
    const seen = new MutationObserver(record);
    for (const id of ['banner', 'status']) {
      seen.observe(document.getElementById(id), { childList: true, characterData: true, subtree: true, attributes: true });
    }
  });
  const cut = await ask('kill_proxy');
  log(`cut ${cut.killed} proxied connections`);
  await until('alice to resume after the cut', async () => {
    const s = await snap(alice);
    return s.connection === 'playing' && s.resumes >= 1 && s;
  }, 10000);
  a = await snap(alice);
  check(a.history.includes('reconnecting'), `the page went through reconnecting (${a.history.join(' > ')})`);
  const shown = await alice.evaluate(() => window.__shown);
  check(shown.some((t) => t.startsWith('Reconnecting…|Connection lost')),
    `the page showed the lost connection (${JSON.stringify(shown.slice(0, 4))})`);
  check(a.resumed === true && a.entityId === onServer.entity_id, 'the same seat was resumed');
  let players = (await ask('players')).players;
  check(players.length === 2, `still two players on the server (${players.length})`);
  const resumed = players.find((p) => p.name === 'alice');
  check(resumed.entity_id === onServer.entity_id, 'alice kept her entity');
  await until('alice to be connected again on the server', async () => {
    const p = await serverPlayer('alice');
    return (p.flags & 2) !== 0;
  }, 3000);
  const beforeResumeMove = await settled('alice');
  await walkToCentre(alice, beforeResumeMove, 400, true);
  const afterResumeMove = await settled('alice');
  check(dist(beforeResumeMove, afterResumeMove) > 30, 'alice still moves after resuming');
  log('alice resumed her seat after the cut and still moves');

  // 5. A link that goes silent (stalled, not closed) is detected and resumed too.
  const frozen = await ask('freeze_proxy');
  log(`stalled ${frozen.frozen} proxied connections`);
  const resumesBefore = a.resumes;
  await until('alice to resume after the stall', async () => {
    const s = await snap(alice);
    return s.connection === 'playing' && s.resumes > resumesBefore && s;
  }, 12000);
  a = await snap(alice);
  check(a.entityId === onServer.entity_id, 'the same seat was resumed after the stall');
  log(`alice resumed after the stall (${a.history.join(' > ')})`);

  // 6. A spectator watches the match without a seat.
  const watcher = await open(context, `${DIRECT}/?spectate=${matchId}`, 'spectator');
  let w = await waitState(watcher, 'spectating');
  await until('the spectator to see both players', async () => {
    const s = await snap(watcher);
    const names = s.view.filter((e) => e.kind === 'Player').map((e) => e.name).sort();
    return names.join(',') === 'alice,bob';
  }, 5000);
  w = await snap(watcher);
  check(w.playerId === 0 && w.inputsSent === 0 && w.acksSent > 0, 'the spectator sends acks, no inputs');
  const counts = await ask('players');
  check(counts.spectators === 1 && counts.players.length === 2, 'the server counts one spectator and two players');
  await textIncludes(watcher, '#status', 'Spectating', 'the spectator page says so');
  log('the spectator sees alice and bob');

  // 7. Reloading a page keeps its seat (the token is in sessionStorage).
  const bobBefore = await snap(bob);
  await bob.reload();
  await bob.waitForFunction(() => window.tickwire?.snapshot().connection === 'playing', null, { timeout: 10000 });
  const bobAfter = await snap(bob);
  check(bobAfter.resumed === true && bobAfter.entityId === bobBefore.entityId,
    'a reloaded page resumes its seat');
  check((await ask('players')).players.length === 2, 'still two players after the reload');
  log('bob reloaded his page and kept his seat');

  // 8. A screenshot of the running match: alice shoots (at bob when nothing is in between).
  await alice.waitForFunction(() => document.getElementById('toast').hidden, null, { timeout: 5000 });
  a = await snap(alice);
  const map = await alice.evaluate(() => window.tickwire.game.welcome.map);
  const me = a.entities.find((e) => e.id === a.entityId);
  const bobNow = a.entities.find((e) => e.name === 'bob');
  const target = clearShot(map, me, bobNow);
  const aimAt = await alice.evaluate(([x, y]) => window.tickwire.screenOf(x, y), [target.x, target.y]);
  const under = await alice.evaluate(([x, y]) => document.elementFromPoint(x, y)?.id, [aimAt.x, aimAt.y]);
  log(`alice at (${me.x}, ${me.y}) aims at (${target.x.toFixed(0)}, ${target.y.toFixed(0)}), screen (${aimAt.x.toFixed(0)}, ${aimAt.y.toFixed(0)}) over #${under}`);
  await alice.bringToFront();
  await alice.mouse.move(aimAt.x, aimAt.y);
  await alice.mouse.down();
  let shotsSeen = 0;
  const firing = Date.now();
  while (Date.now() - firing < 1300) {
    const { projectiles } = await ask('players');
    shotsSeen = Math.max(shotsSeen, projectiles.filter((p) => p.owner === a.entityId).length);
    await new Promise((r) => setTimeout(r, 100));
  }
  const shot = await alice.screenshot({ path: join(ARTIFACTS, 'match.png') });
  await watcher.screenshot({ path: join(ARTIFACTS, 'spectator.png') });
  await alice.mouse.up();
  if (shotsSeen === 0) {
    log('no projectiles:', JSON.stringify(await snap(alice)).slice(0, 1500), JSON.stringify(await ask('players')));
  }
  check(shotsSeen > 0, 'alice\'s clicks fired projectiles on the server');
  const canvasStats = await alice.evaluate(() => {
    const c = document.getElementById('game');
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    const colours = new Set();
    let lit = 0;
    let n = 0;
    for (let i = 0; i < d.length; i += 4 * 97) {
      colours.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
      if (d[i] + d[i + 1] + d[i + 2] > 60) lit += 1;
      n += 1;
    }
    return { colours: colours.size, lit: lit / n };
  });
  log(`screenshot: ${shot.length} bytes, ${canvasStats.colours} colours, ${(canvasStats.lit * 100).toFixed(0)}% lit; ` +
    `up to ${shotsSeen} of alice's projectiles in flight on the server`);
  check(shot.length > 20000, 'the screenshot is not blank (size)');
  check(canvasStats.colours >= 8 && canvasStats.lit > 0.3, 'the canvas is not blank');
  a = await snap(alice);
  log(`alice: ${a.framesApplied} frames applied, ${a.inputsSent} inputs sent, ${a.corrections} prediction corrections`);
  check(a.corrections <= a.framesApplied / 10, 'prediction rarely needs correcting');

  // 9. A page holding a token for a seat that does not exist says plainly that it is gone.
  const ghost = await context.newPage();
  await ghost.addInitScript((id) => {
    sessionStorage.setItem('tickwire.session', JSON.stringify({
      match_id: id, player_id: 99, secret: '00112233445566778899aabbccddeeff',
    }));
  }, matchId);
  await ghost.goto(`${DIRECT}/?name=ghost`);
  await ghost.waitForFunction(() => window.tickwire?.snapshot().connection === 'seat-lost', null, { timeout: 5000 });
  const title = await ghost.textContent('#overlay-title');
  check(title === 'Your seat is gone', `the page says the seat is gone (${title})`);
  writeFileSync(join(ARTIFACTS, 'seat-lost.txt'), await ghost.textContent('#overlay-text'));
  log('a stale token is reported as a lost seat');

  // 10. The end of the match: every page shows the results.
  check((await ask('end_match', { match_id: matchId })).ended, 'the server ends the match');
  for (const [page, who] of [[alice, 'alice'], [bob, 'bob'], [watcher, 'the spectator']]) {
    await page.waitForFunction(() => window.tickwire.snapshot().connection === 'ended', null, { timeout: 5000 });
    const s = await snap(page);
    check(s.overlay === 'Match over', `${who} sees the end of the match`);
    const table = await page.textContent('#results');
    check(table.includes('alice') && table.includes('bob'), `${who} sees the results table (${table})`);
    check(s.results.reason === 'Admin', `${who} knows why it ended`);
  }
  await textIncludes(alice, '#phase', 'Match over', 'the top bar says the match is over');
  await alice.screenshot({ path: join(ARTIFACTS, 'results.png') });
  log('every page shows the results');

  // 11. "Play again" seats the player in a new match.
  await alice.click('#overlay-button');
  const again = await waitState(alice, 'playing');
  check(again.matchId !== matchId && again.resumed === false, `alice plays again in a new match (${again.matchId})`);
  await until('alice in the new match on the server', async () => {
    const { players } = await ask('players');
    return players.some((p) => p.name === 'alice' && p.match_id === again.matchId);
  }, 5000);
  log(`alice plays again in match ${again.matchId}`);
  return { alice };
}

// ---- soccer ----

/** The server's soccer match `matchId` (see the `soccer` command), or null. */
async function serverSoccer(matchId) {
  const { matches } = await ask('soccer');
  return matches.find((m) => m.match_id === matchId) ?? null;
}

/** Holds `keys` on `page` for `ms` (the page in front, so that it has the keyboard). */
async function hold(page, keys, ms) {
  await page.bringToFront();
  for (const k of keys) await page.keyboard.down(k);
  await page.waitForTimeout(ms);
  for (const k of keys) await page.keyboard.up(k);
}

/** Soccer's page played by two pages; `arenaPage` is a page of arena's, for its link. */
async function soccerScenario(context, arenaPage) {
  // 12. Arena's page offers soccer's, and soccer's links back.
  const arenaLinks = await arenaPage.evaluate(() => [...document.querySelectorAll('#games a')].map((a) => a.href));
  check(arenaLinks.some((h) => new URL(h).pathname === '/soccer/'), `arena's page links to /soccer/ (${arenaLinks})`);

  // 13. Two pages open /soccer/ and join one soccer match, on opposite teams.
  const sam = await open(context, `${DIRECT}/soccer/?name=sam`, 'sam');
  let s = await waitState(sam, 'playing');
  check(s.game === 'soccer' && s.pitch?.width === 500 && s.pitch?.height === 300,
    `sam joined soccer on the test's pitch (${s.game}, ${JSON.stringify(s.pitch)})`);
  const loaded = await sam.evaluate(() => performance.getEntriesByType('resource').map((e) => new URL(e.name).pathname));
  check(loaded.includes('/sdk/tickwire.js') && loaded.includes('/soccer/soccer.js'),
    'soccer\'s page loads its own module and the shared SDK');
  const backLinks = await sam.evaluate(() => [...document.querySelectorAll('#games a')].map((a) => a.href));
  check(backLinks.some((h) => new URL(h).pathname === '/'), `soccer's page links back to arena's (${backLinks})`);
  // Alone in the warm-up, sam switches team with T (soccer's ChooseTeam request) and back.
  const samTeam = async () => (await serverSoccer(s.matchId))?.players.find((p) => p.name === 'sam')?.team;
  // (A team is a number, and home's is 0: wait for it by comparing.)
  await until('sam at home on the server', async () => await samTeam() === 0, 3000);
  for (const team of [1, 0]) {
    await sam.bringToFront();
    await sam.keyboard.press('KeyT');
    await until(`sam to be on team ${team} on the server`, async () => await samTeam() === team, 3000);
  }
  await textIncludes(sam, '#toast', 'You play for home now.', 'sam\'s page says which team he joined');
  log('sam switched to away and back with T during the warm-up');
  const tess = await open(context, `${DIRECT}/soccer/?name=tess`, 'tess');
  let t = await waitState(tess, 'playing');
  check(t.matchId === s.matchId, 'tess joins sam\'s soccer match');
  const matchId = s.matchId;
  const teams = await until('both players on the server\'s pitch', async () => {
    const m = await serverSoccer(matchId);
    return m?.players.length === 2 && m;
  }, 5000);
  const teamOf = (name) => teams.players.find((p) => p.name === name).team;
  check(teamOf('sam') === 0 && teamOf('tess') === 1, `the server puts sam at home and tess away (${JSON.stringify(teams.players)})`);
  await until('the pages to know their teams', async () => {
    [s, t] = await Promise.all([snap(sam), snap(tess)]);
    return s.team === 'home' && t.team === 'away';
  }, 5000);
  log(`sam (home) and tess (away) play soccer match ${matchId}`);

  // 13b. Soccer's page has the engine's chat too: tess's line reaches sam's page.
  await tess.bringToFront();
  await tess.keyboard.press('Enter');
  check(await tess.evaluate(() => document.activeElement?.id === 'chat-input'), 'Enter focuses soccer\'s chat box');
  await tess.keyboard.type('nice pass');
  await tess.keyboard.press('Enter');
  await textIncludes(sam, '#chat-lines', 'tess', 'sam sees who chatted on the pitch');
  await textIncludes(sam, '#chat-lines', 'nice pass', 'sam reads tess\'s line');
  check(await tess.evaluate(() => document.activeElement?.id !== 'chat-input'), 'sending returns to soccer');
  log('tess chatted on the pitch and sam read it');

  // 14. The match runs once both are in; the kickoff pause ends.
  const running = await until('the soccer match to run, past its kickoff pause', async () => {
    const m = await serverSoccer(matchId);
    return m?.phase === 1 && m.score?.kickoff === 0 && m;
  }, 5000);
  const ballAt = running.ball;
  check(Math.abs(ballAt.x - 250) < 1 && Math.abs(ballAt.y - 150) < 1, `the ball is on the centre spot (${JSON.stringify(ballAt)})`);
  await until('tess to see the ball on the centre spot', async () => {
    t = await snap(tess);
    return t.ball && Math.abs(t.ball.x - 250) < 1 && t.score?.kickoff === 0;
  }, 3000);

  // 15. Tess steps out of the way (up); sam charges a kick and runs at the ball (right, the way
  // home attacks): the kick goes out the moment it is within reach.
  await hold(tess, ['KeyW'], 500);
  const aside = await until('tess to have stepped aside', async () => {
    const m = await serverSoccer(matchId);
    const p = m?.players.find((q) => q.name === 'tess');
    return p && p.y < 80 && p;
  }, 3000);
  log(`tess stepped aside to (${aside.x}, ${aside.y})`);
  await sam.bringToFront();
  await sam.keyboard.down('Space');
  await sam.waitForTimeout(250);
  await sam.keyboard.down('KeyD');
  let kicked = null;
  const runStart = Date.now();
  while (!kicked && Date.now() - runStart < 1500) {
    const m = await serverSoccer(matchId);
    if (m && (m.score.home > 0 || Math.abs(m.ball.x - 250) > 5)) kicked = m;
    else await new Promise((r) => setTimeout(r, 30));
  }
  await sam.keyboard.up('KeyD');
  await sam.keyboard.up('Space');
  check(kicked, 'sam\'s kick moved the ball on the server');

  // 16. Tess's page sees the ball move, then the goal: the board, the event and the scoreline.
  await until('tess to see the ball move', async () => {
    t = await snap(tess);
    return (t.ball && Math.abs(t.ball.x - 250) > 5) || t.goals.length > 0;
  }, 3000);
  const goal = await until('the goal on the server', async () => {
    const m = await serverSoccer(matchId);
    return m?.score.home === 1 && m;
  }, 5000);
  check(goal.score.away === 0, `one goal, for home (${JSON.stringify(goal.score)})`);
  await tess.bringToFront();
  t = await until('tess to see the goal', async () => {
    const v = await snap(tess);
    return v.score?.home === 1 && v.goals.length === 1 && v.scoreline === '1-0' && v;
  }, 3000);
  s = await snap(sam);
  check(t.goals[0].team === 'home' && t.goals[0].home === 1 && t.goals[0].away === 0,
    `tess heard home's goal (${JSON.stringify(t.goals)})`);
  check(t.goals[0].scorer === s.playerId, `the goal is sam's: he kicked it last (${t.goals[0].scorer}, sam is ${s.playerId})`);
  log(`sam kicked (ball at ${kicked.ball.x}, ${kicked.ball.y}) and scored: tess sees ${t.scoreline}`);
  await sam.bringToFront();
  await sam.waitForTimeout(100);
  const shot = await sam.screenshot({ path: join(ARTIFACTS, 'soccer.png') });
  const colours = await sam.evaluate(() => {
    const c = document.getElementById('game');
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    const seen = new Set();
    for (let i = 0; i < d.length; i += 4 * 97) seen.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
    return seen.size;
  });
  check(shot.length > 20000 && colours >= 8, `the pitch is drawn (${shot.length} bytes, ${colours} colours)`);
  log(`sam: ${s.framesApplied} frames applied, ${s.inputsSent} inputs sent, ${s.corrections} prediction corrections`);

  // 17. The end: both pages show soccer's results, sam's goal in them, as the server counted it.
  check((await ask('end_match', { match_id: matchId })).ended, 'the server ends the soccer match');
  for (const [page, who] of [[sam, 'sam'], [tess, 'tess']]) {
    await page.waitForFunction(() => window.tickwire.snapshot().connection === 'ended', null, { timeout: 5000 });
    const v = await snap(page);
    check(v.overlay === 'Match over' && v.results.reason === 'Admin', `${who} sees the end of the match`);
    const samLine = v.results.players.find((p) => p.name === 'sam');
    check(samLine?.score === 1, `${who}'s results credit sam's goal (${JSON.stringify(v.results.players)})`);
    const table = await page.textContent('#results');
    check(table.includes('sam') && table.includes('tess'), `${who} sees the results table (${table})`);
  }
  log('both soccer pages show the results');
}

main().then(
  () => {
    process.stdout.write('@@ {"cmd":"done"}\n');
    process.exit(0);
  },
  (e) => {
    console.error(`browser test failed: ${e.stack || e}`);
    process.exit(1);
  },
);
