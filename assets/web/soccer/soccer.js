// Soccer's page on the tickwire SDK (../sdk/tickwire.js), served by the server at /soccer/: the
// SDK joins (or, with ?spectate=MATCH_ID, watches) a soccer match with soccer's schema, keeps
// the replica, interpolates and resumes; this page maps the keyboard and mouse to soccer's
// input, sends one per tick, predicts the local player's run and draws the pitch, the players
// by team, the ball, the score and the kickoff countdown. The page chrome (status, network
// HUD, banners, overlays) is arena's page's (../js/hud.js), shared.
//
// URL parameters: name=NAME, match=ID (join that match), spectate=ID, interp=MS (interpolation
// buffer, default 100), silence=MS (how long without data counts as a dead link, default 2500).
//
// `window.tickwire.snapshot()` returns the client's state as plain data (used by the
// end-to-end tests in tests/browser/ and handy in the console).

import {
  STATES, TickwireClient, lerpWrapping, loadSchema, socketUrl, toWorldUnits,
} from '../sdk/tickwire.js';
import { Hud, RateMeter } from '../js/hud.js';
import {
  DEFAULT_RULES, FLAG_CONNECTED, SOCCER_GAME, TEAMS, encodeChooseTeam, findKind, replyTeam,
  soccerEntity, soccerPredictor,
} from './game.js';
import { Controls } from './controls.js';
import { PitchRenderer } from './pitch.js';
import { setUpChat } from '../js/chat.js';
import { intParam, joinTarget, playerName, startPage } from '../js/page.js';

const END_TEXT = {
  TimeLimit: 'Full time.',
  ScoreLimit: 'The score limit was reached.',
  Admin: 'An operator ended the match.',
  Shutdown: 'The server is shutting down.',
  Abandoned: 'Every player left.',
  Aborted: 'The match was aborted by a server error.',
};

/** `/game.json?game=soccer`: the pitch, speeds and radii; the defaults if it cannot be read. */
async function loadRules() {
  try {
    const r = await fetch('../game.json?game=soccer', { cache: 'no-cache' });
    if (r.ok) return { ...DEFAULT_RULES, ...(await r.json()) };
  } catch {
    // The defaults are the server's defaults.
  }
  return { ...DEFAULT_RULES };
}

async function main() {
  const canvas = /** @type {HTMLCanvasElement} */ (document.getElementById('game'));
  const hud = new Hud();
  const renderer = new PitchRenderer(canvas);
  const controls = new Controls(window, canvas);
  const [rules, schema] = await Promise.all([
    loadRules(),
    loadSchema('../schema.json', { game: SOCCER_GAME.name }),
  ]);
  const { join, spectateId } = joinTarget();
  const interpMs = intParam('interp', 100, 0, 1000);
  const name = playerName();
  document.getElementById('hud-name').textContent = spectateId != null ? '(spectator)' : name;

  const client = new TickwireClient({
    schema,
    game: SOCCER_GAME,
    url: socketUrl(location),
    name,
    join,
    // Its own key: a tab can hold an arena seat and a soccer seat, one per page.
    storage: window.sessionStorage,
    sessionKey: 'tickwire.soccer.session',
    silenceMs: intParam('silence', 2500, 500, 60000),
    // Aim is a byte of 1/256 turn: it turns the short way round.
    interpolation: { delayMs: interpMs, blend: { aim: lerpWrapping(256) } },
  });

  // What the page keeps beside the SDK's state.
  const game = {
    welcome: null,
    rules,
    periodMs: 1000 / rules.tick_rate,
    nextInputAt: 0,
    results: null,
    goals: [],
    events: [],
    corrections: 0,
  };
  const bytesIn = new RateMeter(1000);
  const framesIn = new RateMeter(1000);

  /** The board's kickoff pause ticks left in the newest world (0 without a board). */
  const kickoffLeft = () => findKind(client.replica.world, 'score')?.kickoff ?? 0;

  client.on('welcome', (msg) => {
    game.welcome = msg;
    // The Welcome's pitch is the match's own; the rest of the rules come from /game.json.
    game.rules = { ...rules, tick_rate: msg.tick_rate, pitch_width: msg.join.width, pitch_height: msg.join.height };
    game.periodMs = 1000 / msg.tick_rate;
    client.predictor = soccerPredictor(game.rules, kickoffLeft);
    renderer.setRules(game.rules);
    hud.hideOverlay();
    hud.banner('');
    if (msg.resumed) hud.toast('Reconnected: you kept your seat.');
  });
  client.on('state', onConnState);
  client.on('event', onEvent);
  setUpChat(client);
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

  function onEvent(ev) {
    game.events.push(ev);
    if (game.events.length > 50) game.events.shift();
    if (ev.type === 'Goal') {
      game.goals.push(ev);
      const by = ev.scorer !== null && ev.scorer === game.welcome?.player_id ? ' Yours!' : '';
      hud.toast(`Goal for ${ev.team}: ${ev.home} – ${ev.away}.${by}`);
    } else if (ev.type === 'TeamChanged' && ev.player === game.welcome?.player_id) {
      hud.toast(`You play for ${ev.team} now.`);
    } else if (ev.type === 'PhaseChanged' && ev.phase === 'Running') {
      hud.toast('Kickoff: the match has started!');
    }
  }

  /** Asks to play for the other team (the server allows it during the warm-up only). */
  async function switchTeam() {
    const mine = client.self ? soccerEntity(client.self) : null;
    if (!mine) return;
    try {
      replyTeam(await client.sendRequest(encodeChooseTeam(mine.team === 'home' ? 'away' : 'home')));
    } catch (e) {
      hud.toast(e.refusal?.message ? `Cannot switch: ${e.refusal.message}.` : `Cannot switch (${e.message}).`);
    }
  }
  window.addEventListener('keydown', (e) => {
    if (e.code === 'KeyT' && !e.repeat && !client.isSpectator) switchTeam();
  });

  /** The local player's position for aiming: the prediction, else the newest world. */
  function selfPosition() {
    const p = client.predictor?.state;
    if (p) return { x: p.x, y: p.y };
    const row = client.self;
    return row ? toWorldUnits(schema, row).values : null;
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
      client.sendInput(controls.sample(selfPosition(), (x, y) => renderer.toWorld(x, y)));
      sent += 1;
      const backlog = client.seq - (client.header?.last_input ?? client.seq);
      const target = Math.ceil((client.conn.rtt ?? 50) / game.periodMs) + 2;
      const pace = backlog > target + 2 ? 1.08 : backlog < target ? 0.95 : 1;
      game.nextInputAt += game.periodMs * pace;
    }
  }
  setInterval(pumpInputs, 4);

  function onConnState(state, detail) {
    hud.setStatus(state, detail);
    if (hud.connectionState(client, state, detail, 'a few seconds')) return;
    if (state === STATES.ENDED) {
      hud.banner('');
      const r = game.results;
      const why = r ? END_TEXT[r.reason] ?? `The match ended (${r.reason}).` : detail;
      const board = findKind(client.replica.world, 'score');
      const score = board ? ` Home ${board.home} – ${board.away} Away.` : '';
      hud.overlay('Match over', `${why}${score}`, null, ['Play again', () => client.playAgain()]);
      if (r) showResults(r);
    }
  }

  /** The results table: every player's goals, best first (text only, never HTML). */
  function showResults(results) {
    const table = document.getElementById('results');
    const row = (cells, tag, cls = '') => {
      const tr = document.createElement('tr');
      if (cls) tr.className = cls;
      for (const v of cells) {
        const td = document.createElement(tag);
        td.textContent = String(v);
        tr.append(td);
      }
      return tr;
    };
    table.replaceChildren(row(['#', 'Player', 'Goals'], 'th'));
    results.players.forEach((p, i) => {
      table.append(row([i + 1, p.name, p.score], 'td', p.player_id === game.welcome?.player_id ? 'self' : ''));
    });
    table.hidden = false;
  }

  /** Every entity of the newest world (world units), as soccerEntity gives them. */
  function worldEntities() {
    const w = client.replica.world;
    return w ? [...w.values()].map((row) => soccerEntity(toWorldUnits(schema, row))) : [];
  }

  /** The two teams' rosters in the side panel, the local player highlighted. */
  function showTeams(players, selfId) {
    const list = document.getElementById('scores');
    const rows = [...players].sort((a, b) => TEAMS.indexOf(a.team) - TEAMS.indexOf(b.team) || a.id - b.id);
    const key = rows.map((p) => `${p.id}:${p.team}:${p.flags & FLAG_CONNECTED}`).join('|') + `/${selfId}`;
    if (list.dataset.key === key) return;
    list.dataset.key = key;
    list.replaceChildren(...rows.map((p) => {
      const li = document.createElement('li');
      li.classList.add(`team-${p.team}`);
      if (p.id === selfId) li.classList.add('self');
      if (!(p.flags & FLAG_CONNECTED)) li.classList.add('offline');
      const label = document.createElement('span');
      label.className = 'name';
      label.textContent = p.name || `#${p.id}`;
      const team = document.createElement('span');
      team.className = 'score';
      team.textContent = p.team;
      li.append(label, team);
      return li;
    }));
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
    const entities = worldEntities();
    const players = entities.filter((e) => e.kind === 'player');
    hud.setPhase({
      phase: conn.state === STATES.ENDED ? 'Ended' : h?.phase,
      ticksLeft: h?.phase_ticks_left ?? 0,
      tickRate: game.welcome?.tick_rate,
      players: players.length,
      minPlayers: rules.min_players ?? 2,
    });
    const board = entities.find((e) => e.kind === 'score');
    document.getElementById('score-home').textContent = String(board?.home ?? 0);
    document.getElementById('score-away').textContent = String(board?.away ?? 0);
    const mine = players.find((p) => p.id === game.welcome?.entity_id);
    document.getElementById('hud-team').textContent = mine ? mine.team : '–';
    showTeams(players, game.welcome?.entity_id);
    if (conn.state === STATES.RECONNECTING && conn.retryAt) {
      const left = Math.max(0, (conn.retryAt - now) / 1000);
      const seat = conn.isSpectator ? '' : ' Your seat is kept for a few seconds.';
      hud.banner(`Connection lost (${conn.detail}). Reconnecting (attempt ${conn.attempt}, ${left > 0 ? `next try in ${left.toFixed(1)} s` : 'trying now'})…${seat}`);
    }
  }

  let lastHud = 0;
  function frame() {
    const now = performance.now();
    const players = [];
    let ball = null;
    for (const row of client.interpolator.sample(now).values()) {
      const e = soccerEntity(row);
      if (e.kind === 'player') players.push(e);
      else if (e.kind === 'ball') ball = e;
    }
    const p = client.predictor;
    const self = !client.isSpectator && p?.state ? { x: p.state.x, y: p.state.y, aim: controls.aim } : null;
    const kickoff = kickoffLeft();
    renderer.draw({
      players,
      ball,
      selfId: game.welcome?.entity_id,
      self,
      charge: client.isSpectator ? null : controls.charge(),
      kickoffSeconds: kickoff > 0 ? kickoff / (game.welcome?.tick_rate ?? rules.tick_rate) : 0,
    });
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
      return renderer.toScreen(x, y);
    },
    /** The client's state as plain JSON-friendly data (world units). */
    snapshot() {
      const conn = client.conn;
      const stats = client.stats();
      const entities = worldEntities();
      const mine = entities.find((e) => e.id === game.welcome?.entity_id) ?? null;
      const board = entities.find((e) => e.kind === 'score') ?? null;
      const ball = entities.find((e) => e.kind === 'ball') ?? null;
      const p = client.predictor;
      return {
        game: game.welcome?.game ?? null,
        connection: conn.state,
        detail: conn.detail,
        spectator: conn.isSpectator,
        name,
        matchId: game.welcome ? String(game.welcome.match_id) : null,
        playerId: game.welcome?.player_id ?? null,
        entityId: game.welcome?.entity_id ?? null,
        tickRate: game.welcome?.tick_rate ?? null,
        pitch: game.welcome?.join ?? null,
        tick: stats.tick,
        phase: client.header?.phase ?? null,
        team: mine?.team ?? null,
        players: entities.filter((e) => e.kind === 'player')
          .map((e) => ({ id: e.id, name: e.name, team: e.team, x: e.x, y: e.y, flags: e.flags })),
        ball: ball && { x: ball.x, y: ball.y, vx: ball.vx, vy: ball.vy },
        score: board && { home: board.home, away: board.away, kickoff: board.kickoff },
        goals: [...game.goals],
        self: p?.state ? { x: p.state.x, y: p.state.y } : null,
        inputsSent: stats.inputsSent,
        framesApplied: stats.framesApplied,
        corrections: game.corrections,
        scoreline: `${document.getElementById('score-home').textContent}-${document.getElementById('score-away').textContent}`,
        results: game.results,
        overlay: document.getElementById('overlay').hidden ? '' : document.getElementById('overlay-title').textContent,
      };
    },
  };

  hud.setStatus(client.state, '');
  client.start();
  requestAnimationFrame(frame);
}

startPage(main);
