// Arena's page on the tickwire SDK (../sdk/tickwire.js): the SDK joins (or, with
// ?spectate=MATCH_ID, watches) a match, keeps the replica, interpolates and resumes; this page
// maps the keyboard and mouse to arena's input, sends one per tick, predicts the local player
// with arena's movement rules and draws the arena and its HUD.
//
// URL parameters: name=NAME, match=ID (join that match), spectate=ID, interp=MS (interpolation
// buffer, default 100), silence=MS (how long without data counts as a dead link, default 2500).
//
// `window.tickwire.snapshot()` returns the client's state as plain data (used by the
// end-to-end tests in tests/browser/ and handy in the console).

import {
  STATES, TickwireClient, lerpWrapping, loadSchema, socketUrl, toWorldUnits,
} from '../sdk/tickwire.js';
import { ARENA_GAME, arenaEntity, dequantize } from './arena.js';
import { DEFAULT_PHYSICS, Movement, arenaPredictor } from './predict.js';
import { InputState } from './input.js';
import { Renderer } from './render.js';
import { Hud, RateMeter } from './hud.js';
import { setUpChat } from './chat.js';
import { intParam, joinTarget, playerName, startPage } from './page.js';

const END_TEXT = {
  TimeLimit: 'Time is up.',
  ScoreLimit: 'The score limit was reached.',
  Admin: 'An operator ended the match.',
  Shutdown: 'The server is shutting down.',
  Abandoned: 'Every player left.',
  Aborted: 'The match was aborted by a server error.',
};

/** Seconds a dropped seat is kept by default (the server's reconnect grace). */
const DEFAULT_GRACE_S = 10;

async function loadPhysics() {
  try {
    const r = await fetch('game.json', { cache: 'no-cache' });
    if (r.ok) return { ...DEFAULT_PHYSICS, ...(await r.json()) };
  } catch {
    // An older server without /game.json: the defaults are the server's defaults.
  }
  return { ...DEFAULT_PHYSICS };
}

async function main() {
  const canvas = document.getElementById('game');
  const hud = new Hud();
  const renderer = new Renderer(canvas);
  const input = new InputState(window, canvas);
  const [physics, schema] = await Promise.all([loadPhysics(), loadSchema('schema.json')]);
  const { join, spectateId } = joinTarget();
  const interpMs = intParam('interp', 100, 0, 1000);
  const name = playerName();
  document.getElementById('hud-name').textContent = spectateId != null ? '(spectator)' : name;

  const client = new TickwireClient({
    schema,
    game: ARENA_GAME,
    url: socketUrl(location),
    name,
    join,
    storage: window.sessionStorage,
    silenceMs: intParam('silence', 2500, 500, 60000),
    // Aim is a byte of 1/256 turn: it turns the short way round.
    interpolation: { delayMs: interpMs, blend: { aim: lerpWrapping(256) } },
  });

  // What the page itself keeps: arena's view of the match on top of the SDK's.
  const game = {
    welcome: null,
    periodMs: 1000 / physics.tick_rate,
    inputPeriodMs: 1000 / physics.tick_rate,
    nextInputAt: 0,
    results: null,
    shown: null, // the local player's drawn position, chasing the prediction
    lastRender: 0,
    corrections: 0,
    events: [],
  };
  const bytesIn = new RateMeter(1000);
  const framesIn = new RateMeter(1000);

  client.on('welcome', onWelcome);
  client.on('state', onConnState);
  client.on('event', onEvent);
  client.on('ended', (results) => {
    game.results = results;
  });
  client.on('bytes', (n) => {
    if (n > 0) bytesIn.add(performance.now(), n);
  });
  client.on('frame', ({ correction }) => {
    framesIn.add(performance.now(), 1);
    if (correction > 0.5) game.corrections += 1;
  });
  client.on('frameError', (e) => console.warn('tickwire: cannot apply a state frame:', e.message));
  setUpChat(client);

  /** The local player's entity in the newest world (wire units), or null. */
  function selfEntity() {
    const row = client.self;
    return row ? arenaEntity(row) : null;
  }

  function onWelcome(msg) {
    game.welcome = { ...msg, map: msg.join };
    game.periodMs = 1000 / msg.tick_rate;
    game.inputPeriodMs = game.periodMs;
    game.shown = null;
    const movement = new Movement({ ...physics, tick_rate: msg.tick_rate }, msg.join);
    client.predictor = arenaPredictor(movement);
    renderer.setMap(msg.join, physics);
    hud.hideOverlay();
    hud.banner('');
    if (msg.resumed) hud.toast('Reconnected: you kept your seat.');
  }

  function onEvent(ev) {
    game.events.push(ev);
    if (game.events.length > 50) game.events.shift();
    const me = game.welcome?.player_id;
    if (ev.type === 'Kill') {
      // Entity ids name the players: the replica holds every name it was sent.
      const name = (entity) => client.replica.stringsOf(entity)?.name ?? 'a player';
      if (ev.victim === me) hud.toast(`You were eliminated by ${name(ev.killer_entity)}. Respawning…`);
      else if (ev.killer === me) hud.toast(`You eliminated ${name(ev.victim_entity)}!`);
    } else if (ev.type === 'PhaseChanged') {
      if (ev.phase === 'Running') hud.toast('The match has started: scores count now!');
    }
  }

  function sendInput() {
    const p = client.predictor;
    const self = selfEntity();
    const at = p?.state ?? (self ? { x: dequantize(self.x), y: dequantize(self.y) } : null);
    const sample = input.sample(game.shown ?? at, (x, y) => renderer.toWorld(x, y));
    client.sendInput(sample);
  }

  /** Sends one input per tick; the pace bends slightly to keep a small queue at the server. */
  function pumpInputs() {
    if (!client.canSendInput) {
      game.nextInputAt = 0;
      return;
    }
    const now = performance.now();
    if (game.nextInputAt === 0 || now - game.nextInputAt > 250) game.nextInputAt = now;
    let sent = 0;
    while (now >= game.nextInputAt && sent < 3) {
      sendInput();
      sent += 1;
      const backlog = client.seq - (client.header?.last_input ?? client.seq);
      const target = Math.ceil((client.conn.rtt ?? 50) / game.periodMs) + 2;
      const pace = backlog > target + 2 ? 1.08 : backlog < target ? 0.95 : 1;
      game.inputPeriodMs = game.periodMs * pace;
      game.nextInputAt += game.inputPeriodMs;
    }
  }
  setInterval(pumpInputs, 4);

  function onConnState(state, detail) {
    hud.setStatus(state, detail);
    if (hud.connectionState(client, state, detail, `about ${DEFAULT_GRACE_S} s`)) return;
    if (state === STATES.ENDED) {
      hud.banner('');
      const r = game.results;
      const text = r ? END_TEXT[r.reason] ?? `The match ended (${r.reason}).` : detail;
      hud.overlay('Match over', text, r, ['Play again', () => client.playAgain()], game.welcome?.player_id);
    }
  }

  /** Every entity of the newest world, as the page draws them (world units). */
  function worldEntities() {
    const w = client.replica.world;
    return w ? [...w.values()].map((row) => arenaEntity(toWorldUnits(schema, row))) : [];
  }

  function refreshHud(now) {
    const conn = client.conn;
    const h = client.header;
    hud.setStats({
      rtt: conn.rtt,
      tick: client.replica.newestTick,
      tickRate: game.welcome?.tick_rate,
      framesPerSec: framesIn.rate(now),
      bytesPerSec: bytesIn.rate(now),
      interpMs,
      matchId: game.welcome?.match_id,
      spectator: conn.isSpectator,
    });
    const players = worldEntities().filter((e) => e.kind === 'Player');
    hud.setPhase({
      // No frame follows the end of a match: the results are the last word.
      phase: conn.state === STATES.ENDED ? 'Ended' : h?.phase,
      ticksLeft: h?.phase_ticks_left ?? 0,
      tickRate: game.welcome?.tick_rate,
      players: players.length,
      minPlayers: physics.min_players ?? 2,
    });
    hud.setScores(players, game.welcome?.entity_id);
    if (conn.state === STATES.RECONNECTING && conn.retryAt) {
      const left = Math.max(0, (conn.retryAt - now) / 1000);
      const seat = conn.isSpectator ? '' : ' Your seat is kept for a few seconds.';
      hud.banner(`Connection lost (${conn.detail}). Reconnecting (attempt ${conn.attempt}, ${left > 0 ? `next try in ${left.toFixed(1)} s` : 'trying now'})…${seat}`);
    }
  }

  let lastHud = 0;
  function frame() {
    const now = performance.now();
    const dt = game.lastRender ? now - game.lastRender : 16;
    game.lastRender = now;
    const entities = new Map();
    for (const [id, row] of client.interpolator.sample(now)) entities.set(id, arenaEntity(row));
    let self = null;
    const p = client.predictor;
    if (!client.isSpectator && p?.state) {
      const target = { x: p.state.x, y: p.state.y };
      if (!game.shown || Math.hypot(game.shown.x - target.x, game.shown.y - target.y) > 64) {
        game.shown = target;
      } else {
        // Chase the prediction: hides the tick steps and eases small corrections.
        const k = 1 - Math.exp(-dt / 25);
        game.shown = {
          x: game.shown.x + (target.x - game.shown.x) * k,
          y: game.shown.y + (target.y - game.shown.y) * k,
        };
      }
      self = { ...game.shown, aim: input.aim };
    } else {
      game.shown = null;
    }
    // The local player's own fields (health, score) come from the newest world, not the past.
    const mine = client.self;
    if (mine) entities.set(mine.id, arenaEntity(toWorldUnits(schema, mine)));
    renderer.draw({ entities, selfId: game.welcome?.entity_id, self });
    if (now - lastHud > 200) {
      lastHud = now;
      refreshHud(now);
    }
    requestAnimationFrame(frame);
  }

  window.tickwire = {
    client,
    conn: client.conn,
    game,
    /** Where world point (x, y) is drawn, in canvas CSS pixels. */
    screenOf(x, y) {
      return { x: renderer.ox + x * renderer.scale, y: renderer.oy + y * renderer.scale };
    },
    /** The client's state as plain JSON-friendly data. */
    snapshot() {
      const conn = client.conn;
      const entities = worldEntities().map((e) => ({
        id: e.id, kind: e.kind, name: e.name, x: e.x, y: e.y,
        hp: e.hp, score: e.score, flags: e.flags, owner: e.owner,
      }));
      const view = [...client.interpolator.sample(performance.now()).values()].map((row) => {
        const e = arenaEntity(row);
        return { id: e.id, kind: e.kind, name: e.name, x: e.x, y: e.y };
      });
      const now = performance.now();
      const stats = client.stats();
      const p = client.predictor;
      return {
        connection: conn.state,
        detail: conn.detail,
        history: [...conn.history],
        reconnects: conn.reconnects,
        resumes: conn.resumes,
        resumed: game.welcome?.resumed ?? null,
        lastClose: conn.lastClose,
        spectator: conn.isSpectator,
        name,
        matchId: game.welcome ? String(game.welcome.match_id) : null,
        playerId: game.welcome?.player_id ?? null,
        entityId: game.welcome?.entity_id ?? null,
        tickRate: game.welcome?.tick_rate ?? null,
        tick: stats.tick,
        phase: client.header?.phase ?? null,
        phaseTicksLeft: client.header?.phase_ticks_left ?? null,
        lastInput: client.header?.last_input ?? null,
        seq: client.seq,
        inputsSent: stats.inputsSent,
        acksSent: stats.acksSent,
        framesApplied: stats.framesApplied,
        corrections: game.corrections,
        rtt: stats.rtt,
        bytesPerSec: bytesIn.rate(now),
        bytesIn: stats.bytesIn,
        bytesOut: stats.bytesOut,
        interpMs,
        self: p?.state ? { x: p.state.x, y: p.state.y } : null,
        entities,
        view,
        results: game.results,
        banner: document.getElementById('banner').hidden ? '' : document.getElementById('banner').textContent,
        overlay: document.getElementById('overlay').hidden ? '' : document.getElementById('overlay-title').textContent,
      };
    },
  };

  hud.setStatus(client.state, '');
  client.start();
  requestAnimationFrame(frame);
}

startPage(main);
