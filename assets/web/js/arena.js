// Arena's own pieces of the protocol, for the SDK (../sdk/tickwire.js): the bytes of its input,
// the map its Welcome carries, its events and its results (PROTOCOL.md §4), and its entities'
// fields as the page draws them. Everything else (framing, State bodies, the replica) is the
// SDK's, driven by the schema the server serves.

import { DecodeError, EncodeError } from '../sdk/tickwire.js';

/** Arena's wire positions are world units times this (its schema's `scale`). */
export const POS_SCALE = 8;
/** Entity flag: alive (a dead player waits to respawn). */
export const FLAG_ALIVE = 1;
/** Entity flag: the player's client is connected. */
export const FLAG_CONNECTED = 2;
/** Input button bit: fire. */
export const BUTTON_FIRE = 1;

const EVENT_TAGS = Object.freeze(['Kill', 'PhaseChanged', 'Emote', 'Game']);
/** Arena's emotes, by kind (an Emote request's second byte). */
export const EMOTE_NAMES = Object.freeze([
  'wave', 'laugh', 'taunt', 'thanks', 'sorry', 'good game', 'help', 'cheer',
]);
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
 * Arena's input fields as the Input message carries them: `move_x` and `move_y` (i8, −127 …
 * 127), `aim` (u8, 1/256 turn) and `buttons` (u8, bit 1 = fire), one raw byte each.
 */
export function encodeInput({ move_x, move_y, aim, buttons }) {
  checkInt(move_x, -128, 127, 'move_x');
  checkInt(move_y, -128, 127, 'move_y');
  checkInt(aim, 0, 255, 'aim');
  checkInt(buttons, 0, 255, 'buttons');
  return Uint8Array.of(move_x & 0xff, move_y & 0xff, aim, buttons);
}

/** The Welcome's map: `{name, width, height, walls: [{x, y, w, h}]}` in world units. */
export function decodeMap(r) {
  const name = r.string();
  const width = r.u32();
  const height = r.u32();
  const walls = r.vec(() => ({ x: r.i32(), y: r.i32(), w: r.i32(), h: r.i32() }), 'walls');
  return { name, width, height, walls };
}

/**
 * An arena event: `{type: 'Kill', killer, victim, killer_entity, victim_entity}`,
 * `{type: 'PhaseChanged', phase, ticks}` or `{type: 'Emote', player, kind}`; another game's
 * event, which arena never sends, is `{type: 'Game', payload}` with its bytes.
 */
export function decodeEvent(r) {
  const type = r.variant(EVENT_TAGS, 'GameEvent');
  switch (type) {
    case 'Kill':
      return { type, killer: r.u32(), victim: r.u32(), killer_entity: r.u32(), victim_entity: r.u32() };
    case 'PhaseChanged':
      return { type, phase: r.variant(PHASES, 'Phase'), ticks: r.u32() };
    case 'Game':
      return { type, payload: r.raw(r.length('game event')) };
    default:
      return { type, player: r.u32(), kind: r.u8() };
  }
}

/**
 * Arena's one request, an emote (PROTOCOL.md §4.4): tag `00`, then `kind` (0..=7, see
 * EMOTE_NAMES). Send it with `client.sendRequest`; the reply is the tick it was shown at.
 */
export function encodeEmote(kind) {
  checkInt(kind, 0, 255, 'emote kind');
  return Uint8Array.of(0, kind);
}

/** The tick of arena's reply to an emote: its 4 payload bytes, little-endian. */
export function replyTick(payload) {
  if (!(payload instanceof Uint8Array) || payload.length !== 4) {
    throw new DecodeError(`an emote's reply is 4 bytes, not ${payload?.length}`);
  }
  return new DataView(payload.buffer, payload.byteOffset, 4).getUint32(0, true);
}

/** Arena's results: `{match_id, reason, ticks, players: [{player_id, name, score, kills, deaths}]}`. */
export function decodeResults(r) {
  const results = { match_id: r.u64(), reason: r.variant(END_REASONS, 'EndReason'), ticks: r.u32(), players: null };
  results.players = r.vec(() => ({
    player_id: r.u32(),
    name: r.string(),
    score: r.u32(),
    kills: r.u32(),
    deaths: r.u32(),
  }), 'players');
  return results;
}

/** What the SDK's client needs of arena: its name, its input's bytes and its message tails. */
export const ARENA_GAME = Object.freeze({
  name: 'arena',
  encodeInput,
  decodeJoinInfo: decodeMap,
  decodeEvent,
  decodeResults,
});

/**
 * An entity as the page draws it, from a row of arena's schema: `{id, kind, x, y, vx, vy, aim,
 * hp, score, flags, owner, name}` (in the row's units).
 */
export function arenaEntity(row) {
  return { id: row.id, kind: row.kind, ...row.values, name: row.strings.name ?? '' };
}

/** World units from a wire coordinate. */
export function dequantize(v) {
  return v / POS_SCALE;
}

/** Wire coordinate from world units: round half away from zero, like Rust's `f32::round`. */
export function quantize(v) {
  const x = v * POS_SCALE;
  let r = Math.trunc(x);
  if (Math.abs(x - r) >= 0.5) r += Math.sign(x);
  return r;
}
