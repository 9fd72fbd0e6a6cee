// Soccer's own pieces of the protocol, for the SDK (../sdk/tickwire.js): the bytes of its input,
// the pitch its Welcome carries, its events (goals, team changes, kickoffs: soccer's bytes inside
// the protocol's `Game` event), its results, its one request (choose a team), its entities'
// fields as the page draws them, and its movement rule for predicting the local player. The
// Rust side of each is in crates/soccer/src/ (input.rs, event.rs, request.rs, lib.rs).

import { DecodeError, EncodeError, Predictor } from '../sdk/tickwire.js';

/** Soccer's wire positions are world units times this (its schema's `scale`). */
export const POS_SCALE = 8;
/** Input button bit: kick the ball (when it is within reach). */
export const BUTTON_KICK = 1;
/** Input button bit: sprint. */
export const BUTTON_SPRINT = 2;
/** Player flag: its client is connected. */
export const FLAG_CONNECTED = 1;
/** Player flag: sprinting this tick. */
export const FLAG_SPRINTING = 2;
/** The teams by code: 0 defends the left goal, 1 the right one. */
export const TEAMS = Object.freeze(['home', 'away']);

/** The protocol's event tags (PROTOCOL.md §4); soccer sends only PhaseChanged and Game. */
const EVENT_TAGS = Object.freeze(['Kill', 'PhaseChanged', 'Emote', 'Game']);
const PHASES = Object.freeze(['Waiting', 'Running', 'Ended']);
const END_REASONS = Object.freeze([
  'TimeLimit', 'ScoreLimit', 'Admin', 'Shutdown', 'Abandoned', 'Aborted',
]);

function checkInt(v, min, max, what) {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new EncodeError(`${what} must be an integer in ${min}..=${max}, got ${v}`);
  }
}

/**
 * Soccer's input as the Input message carries it, 5 bytes: `move_x`, `move_y` (i8, −127 …
 * 127), `aim` (u8, 1/256 turn), `buttons` (u8: BUTTON_KICK, BUTTON_SPRINT), `power` (u8, kick
 * power 0 … 255).
 *
 * @param {{move_x: number, move_y: number, aim: number, buttons: number, power: number}} input
 * @returns {Uint8Array}
 */
export function encodeInput({ move_x, move_y, aim, buttons, power }) {
  checkInt(move_x, -128, 127, 'move_x');
  checkInt(move_y, -128, 127, 'move_y');
  checkInt(aim, 0, 255, 'aim');
  checkInt(buttons, 0, 255, 'buttons');
  checkInt(power, 0, 255, 'power');
  return Uint8Array.of(move_x & 0xff, move_y & 0xff, aim, buttons, power);
}

/** The Welcome's pitch: `{name, width, height}` in world units (soccer has no walls). */
export function decodePitch(r) {
  const name = r.string();
  const width = r.u32();
  const height = r.u32();
  r.vec(() => [r.i32(), r.i32(), r.i32(), r.i32()], 'walls');
  return { name, width, height };
}

/**
 * Soccer's event bytes (crates/soccer/src/event.rs), little-endian: `00 team scorer:u32
 * home:u32 away:u32` a goal (`scorer` 0: nobody credited), `01 player:u32 team` a team change,
 * `02 team` a kickoff. Returns `{type: 'Goal', team, scorer, home, away}`, `{type:
 * 'TeamChanged', player, team}` or `{type: 'Kickoff', team}` (teams as 'home' / 'away'), or
 * null for bytes that are none of them.
 *
 * @param {Uint8Array} bytes
 */
export function decodeSoccerEvent(bytes) {
  const team = (code) => TEAMS[code] ?? null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u32 = (at) => view.getUint32(at, true);
  switch (bytes[0]) {
    case 0:
      if (bytes.length !== 14 || !team(bytes[1])) return null;
      return { type: 'Goal', team: team(bytes[1]), scorer: u32(2) || null, home: u32(6), away: u32(10) };
    case 1:
      if (bytes.length !== 6 || !team(bytes[5])) return null;
      return { type: 'TeamChanged', player: u32(1), team: team(bytes[5]) };
    case 2:
      if (bytes.length !== 2 || !team(bytes[1])) return null;
      return { type: 'Kickoff', team: team(bytes[1]) };
    default:
      return null;
  }
}

/**
 * An event as the page sees it: soccer's own (decodeSoccerEvent) for the protocol's `Game`
 * event, `{type: 'PhaseChanged', phase, ticks}`, or `{type: 'Unknown', tag}` for what soccer
 * never sends (arena's kills and emotes) and bytes that are not a soccer event.
 */
export function decodeEvent(r) {
  const tag = r.variant(EVENT_TAGS, 'GameEvent');
  switch (tag) {
    case 'PhaseChanged':
      return { type: tag, phase: r.variant(PHASES, 'Phase'), ticks: r.u32() };
    case 'Game':
      return decodeSoccerEvent(r.raw(r.length('game event'))) ?? { type: 'Unknown', tag };
    default:
      // The rest of the message is arena's; nothing of it is soccer's to read.
      r.rest();
      return { type: 'Unknown', tag };
  }
}

/** The results: `{match_id, reason, ticks, players: [{player_id, name, score}]}` (score: goals). */
export function decodeResults(r) {
  const results = { match_id: r.u64(), reason: r.variant(END_REASONS, 'EndReason'), ticks: r.u32(), players: null };
  results.players = r.vec(() => {
    const p = { player_id: r.u32(), name: r.string(), score: r.u32() };
    // Kills and deaths: always 0 in soccer.
    r.u32();
    r.u32();
    return p;
  }, 'players');
  return results;
}

/** Soccer's one request: move to `team` ('home' or 'away'), 1 byte; allowed before kickoff only. */
export function encodeChooseTeam(team) {
  const code = TEAMS.indexOf(team);
  if (code < 0) throw new EncodeError(`team must be "home" or "away", got ${JSON.stringify(team)}`);
  return Uint8Array.of(code);
}

/** The team of the reply to a ChooseTeam request (its one byte). */
export function replyTeam(payload) {
  const team = payload instanceof Uint8Array && payload.length === 1 ? TEAMS[payload[0]] : undefined;
  if (!team) throw new DecodeError('a team choice\'s reply is one team byte');
  return team;
}

/** What the SDK's client needs of soccer: its name, its input's bytes and its message tails. */
export const SOCCER_GAME = Object.freeze({
  name: 'soccer',
  encodeInput,
  decodeJoinInfo: decodePitch,
  decodeEvent,
  decodeResults,
});

/**
 * An entity as the page draws it, from a row of soccer's schema (in the row's units): a
 * player `{id, kind: 'player', x, y, vx, vy, aim, team: 'home'|'away', flags, name}`, the ball
 * `{id, kind: 'ball', x, y, vx, vy}` or the board `{id, kind: 'score', home, away, kickoff}`.
 */
export function soccerEntity(row) {
  const e = { id: row.id, kind: row.kind, ...row.values };
  if (row.kind === 'player') {
    e.team = TEAMS[row.values.team] ?? 'home';
    e.name = row.strings.name ?? '';
  }
  return e;
}

/** The first entity of `kind` in a world (a Map of rows), as soccerEntity gives it, or null. */
export function findKind(world, kind) {
  for (const row of world?.values() ?? []) if (row.kind === kind) return soccerEntity(row);
  return null;
}

/**
 * One tick of a player's movement as the server makes it (crates/soccer/src/lib.rs,
 * `move_players`): nothing during a kickoff pause; otherwise the stick (normalized past
 * length 1) at walking or sprint speed, kept inside the pitch for the player's radius.
 * `state` is `{x, y, pause}` in world units, with the kickoff pause ticks left; it is changed in
 * place. `rules` is `/game.json?game=soccer` (`player_speed`, `sprint_multiplier`,
 * `player_radius`, `pitch_width`, `pitch_height`, `tick_rate`).
 */
export function stepPlayer(state, input, rules) {
  if (state.pause > 0) {
    state.pause -= 1;
    return state;
  }
  let mx = Math.max(input.move_x, -127) / 127;
  let my = Math.max(input.move_y, -127) / 127;
  const lenSq = mx * mx + my * my;
  if (lenSq > 1) {
    const len = Math.sqrt(lenSq);
    mx /= len;
    my /= len;
  }
  const moving = mx !== 0 || my !== 0;
  const sprint = moving && (input.buttons & BUTTON_SPRINT) !== 0;
  const speed = rules.player_speed * (sprint ? rules.sprint_multiplier : 1);
  const dt = 1 / rules.tick_rate;
  const r = rules.player_radius;
  state.x = Math.min(rules.pitch_width - r, Math.max(r, state.x + mx * speed * dt));
  state.y = Math.min(rules.pitch_height - r, Math.max(r, state.y + my * speed * dt));
  return state;
}

/**
 * The local player's predictor (the SDK's Predictor with soccer's movement). `kickoffLeft()`
 * reads the kickoff pause ticks left of the newest world (the board's `kickoff`), which holds
 * every player still. A jump of more than a few ticks' run (a kickoff puts everyone back on
 * their spots) restarts the prediction.
 */
export function soccerPredictor(rules, kickoffLeft) {
  const perTick = (rules.player_speed * rules.sprint_multiplier) / rules.tick_rate;
  return new Predictor({
    step: (state, input) => stepPlayer(state, input, rules),
    fromRow: (row) => ({ x: row.values.x / POS_SCALE, y: row.values.y / POS_SCALE, pause: kickoffLeft() }),
    distance: (a, b) => Math.hypot(a.x - b.x, a.y - b.y),
    snapDistance: perTick * 8,
  });
}

/** Rules the page assumes when `/game.json?game=soccer` cannot be read: the server's defaults. */
export const DEFAULT_RULES = Object.freeze({
  tick_rate: 30,
  pitch_width: 1600,
  pitch_height: 1000,
  goal_width: 300,
  player_radius: 20,
  ball_radius: 10,
  player_speed: 250,
  sprint_multiplier: 1.5,
  kick_reach: 40,
  max_kick_speed: 900,
  kickoff_pause_ticks: 60,
  score_limit: 5,
  team_size: 5,
  min_players: 2,
});
