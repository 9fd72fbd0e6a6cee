// One player's or spectator's link to a match, across reconnections: the WebSocket, the Hello
// and its Welcome, the session token (kept in storage, so a reload resumes the seat), the
// heartbeat (silence detection, and application-level pings for the round-trip time),
// reconnection with exponential backoff and jitter, and the close codes' meaning
// (PROTOCOL.md §3, §6). It counts the bytes both ways. It knows nothing of a game's state.

import {
  CLOSE, PROTOCOL_VERSION, decodeServerMessage, encodeHello, encodePing, encodeLeave,
} from './messages.js';
import { DecodeError, fromHex, toHex } from './wire.js';

/** Default storage key of the seat token (sessionStorage: per tab, so a reload resumes it). */
export const SESSION_KEY = 'tickwire.session';

/** Connection states, as a page shows them. */
export const STATES = Object.freeze({
  CONNECTING: 'connecting', // first connection, or retrying one that never got a seat
  JOINING: 'joining', // socket open, Hello sent, waiting for the Welcome
  PLAYING: 'playing', // seated
  SPECTATING: 'spectating', // watching without a seat
  RECONNECTING: 'reconnecting', // lost the link, retrying with the token while the seat lasts
  ENDED: 'ended', // the match ended
  SEAT_LOST: 'seat-lost', // the server says the seat is gone (grace period over)
  REJECTED: 'rejected', // the join was refused (full, no such match)
  REPLACED: 'replaced', // another tab resumed this seat
  ERROR: 'error', // a protocol error: a bug somewhere, not retried
});

/**
 * Delay before reconnect attempt `attempt` (0-based): exponential from `baseMs`, capped at
 * `maxMs`, with "equal jitter" (half fixed, half random) so that clients dropped together do
 * not come back together.
 */
export function backoffDelay(attempt, baseMs, maxMs, random = Math.random) {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 20));
  return ceiling / 2 + random() * (ceiling / 2);
}

/** Reads the seat token stored under `key`, or null (absent, unreadable or malformed). */
export function loadToken(storage, key = SESSION_KEY) {
  try {
    const raw = storage?.getItem(key);
    if (!raw) return null;
    const t = JSON.parse(raw);
    const secret = fromHex(t.secret);
    if (secret.length !== 16) return null;
    const matchId = /^\d+$/.test(String(t.match_id)) ? BigInt(t.match_id) : null;
    if (matchId === null || !Number.isInteger(t.player_id)) return null;
    return {
      match_id: matchId <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(matchId) : matchId,
      player_id: t.player_id,
      secret,
    };
  } catch {
    return null;
  }
}

/** Stores the seat token under `key`. */
export function saveToken(storage, token, key = SESSION_KEY) {
  try {
    storage?.setItem(key, JSON.stringify({
      match_id: String(token.match_id),
      player_id: token.player_id,
      secret: toHex(token.secret).replace(/ /g, ''),
    }));
  } catch {
    // Storage can be disabled; the seat then simply does not survive a reload.
  }
}

/** Forgets the seat token stored under `key`. */
export function clearToken(storage, key = SESSION_KEY) {
  try {
    storage?.removeItem(key);
  } catch {
    // See saveToken.
  }
}

/**
 * One link to a match across reconnections.
 *
 * Options: `url` (ws:// or wss://…/ws), `name`, `join` (`{type: 'Any'}`, `{type: 'Match',
 * match_id}` or `{type: 'Spectate', match_id}`), `storage` (for the token; null: none),
 * `sessionKey`, `game` (the game's hooks for its message tails, its name), `schemaHash`,
 * `silenceMs`, `welcomeTimeoutMs`, `pingIntervalMs`, `backoffBaseMs`, `backoffMaxMs`,
 * `random` (for the jitter), `WebSocket`, `now` (ms clock), `callbacks`.
 *
 * Callbacks (all optional): `onWelcome(msg)`, `onMessage(msg, byteLength)`,
 * `onState(state, detail)`, `onPong(rttMs, serverTick)`, `onBytes(inBytes, outBytes)`.
 */
export class Connection {
  /** @param {object} options see the class comment */
  constructor(options) {
    this.url = options.url;
    this.name = options.name ?? '';
    this.join = options.join ?? { type: 'Any' };
    this.storage = options.storage ?? null;
    this.sessionKey = options.sessionKey ?? SESSION_KEY;
    this.game = options.game ?? {};
    this.schemaHash = options.schemaHash ?? null;
    this.silenceMs = options.silenceMs ?? 2500;
    this.welcomeTimeoutMs = options.welcomeTimeoutMs ?? 5000;
    this.pingIntervalMs = options.pingIntervalMs ?? 1000;
    this.backoffBaseMs = options.backoffBaseMs ?? 250;
    this.backoffMaxMs = options.backoffMaxMs ?? 5000;
    this.random = options.random ?? Math.random;
    this.WebSocket = options.WebSocket ?? globalThis.WebSocket;
    this.now = options.now ?? (() => performance.now());
    this.callbacks = options.callbacks ?? {};

    this.state = STATES.CONNECTING;
    this.detail = '';
    /** Every state this connection went through, oldest first (for the page and tests). */
    this.history = [STATES.CONNECTING];
    this.ws = null;
    this.welcome = null;
    this.token = this.isSpectator ? null : loadToken(this.storage, this.sessionKey);
    this.attempt = 0;
    this.reconnects = 0;
    this.resumes = 0;
    this.lastClose = null;
    this.lastMessageAt = 0;
    this.openedAt = 0;
    this.lastPingAt = -Infinity;
    /** The newest round-trip time, ms, or null before the first Pong. */
    this.rtt = null;
    /** Bytes received and sent over every socket of this connection. */
    this.bytesIn = 0;
    this.bytesOut = 0;
    this.messagesIn = 0;
    this.messagesOut = 0;
    this.retryTimer = null;
    this.retryAt = 0;
    this.matchEnded = null;
    this.pendingReject = null;
    this.stopped = false;
    this.watchdog = null;
  }

  /** True when joined (or joining) as a spectator. */
  get isSpectator() {
    return this.join.type === 'Spectate';
  }

  /** True while seated or watching with an open socket. */
  get live() {
    return this.state === STATES.PLAYING || this.state === STATES.SPECTATING;
  }

  /** Opens the first socket and starts the watchdog. */
  start() {
    this.stopped = false;
    if (!this.watchdog) this.watchdog = setInterval(() => this.tick(), 100);
    this.open();
  }

  /** Stops for good (no reconnect). */
  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.watchdog);
    this.watchdog = null;
    this.detach(CLOSE.NORMAL, 'page closed');
  }

  /** Starts over in a new seat: forgets the token and joins any match. */
  playAgain() {
    clearToken(this.storage, this.sessionKey);
    this.token = null;
    this.join = { type: 'Any' };
    this.welcome = null;
    this.matchEnded = null;
    this.attempt = 0;
    clearTimeout(this.retryTimer);
    this.detach(CLOSE.NORMAL, 'starting over');
    this.setState(STATES.CONNECTING, '');
    this.start();
  }

  /** Leaves the match for good (the seat is freed at once). */
  leave() {
    this.send(encodeLeave());
    clearToken(this.storage, this.sessionKey);
    this.token = null;
  }

  /** Moves to `state` and tells the page. */
  setState(state, detail = '') {
    const changed = state !== this.state;
    this.state = state;
    this.detail = detail;
    if (changed) {
      this.history.push(state);
      if (this.history.length > 100) this.history.splice(1, this.history.length - 100);
    }
    this.callbacks.onState?.(state, detail);
  }

  /** Sends one encoded message; false when no socket is open. */
  send(bytes) {
    const ws = this.ws;
    if (!ws || ws.readyState !== 1) return false;
    ws.send(bytes);
    this.bytesOut += bytes.length;
    this.messagesOut += 1;
    this.callbacks.onBytes?.(0, bytes.length);
    return true;
  }

  /** Opens a socket and sends the Hello (resuming with the token when there is one). */
  open() {
    if (this.stopped) return;
    let ws;
    try {
      ws = new this.WebSocket(this.url);
    } catch (e) {
      this.scheduleRetry(`cannot connect: ${e.message}`);
      return;
    }
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    this.openedAt = this.now();
    this.lastMessageAt = this.openedAt;
    ws.onopen = () => {
      if (ws !== this.ws) return;
      this.lastMessageAt = this.now();
      if (!this.welcome) this.setState(STATES.JOINING, '');
      this.send(encodeHello({
        version: PROTOCOL_VERSION,
        name: this.name,
        session: this.token,
        join: this.join,
        game: this.game.name ?? null,
        schemaHash: this.schemaHash,
      }));
    };
    ws.onmessage = (ev) => {
      if (ws !== this.ws) return;
      this.onMessage(ev.data);
    };
    ws.onclose = (ev) => {
      if (ws !== this.ws) return;
      this.ws = null;
      this.onClose(ev.code, ev.reason);
    };
    ws.onerror = () => {
      // A close event always follows.
    };
  }

  /** Drops the current socket without waiting for its close handshake. */
  detach(code, reason) {
    const ws = this.ws;
    this.ws = null;
    if (!ws) return;
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    try {
      ws.close(code, reason);
    } catch {
      // Already closing.
    }
  }

  /** Called every 100 ms: silence detection, pings, the Welcome deadline. */
  tick() {
    const ws = this.ws;
    if (!ws) return;
    const now = this.now();
    if (ws.readyState === 0 && now - this.openedAt > this.welcomeTimeoutMs) {
      this.lostLink('the server does not answer');
      return;
    }
    if (ws.readyState !== 1) return;
    if (!this.live) {
      if (now - this.openedAt > this.welcomeTimeoutMs) this.lostLink('no Welcome from the server');
      return;
    }
    // State frames arrive every tick: this much silence means the link is dead or stalled.
    if (now - this.lastMessageAt > this.silenceMs) {
      this.lostLink(`no data for ${Math.round((now - this.lastMessageAt) / 100) / 10} s`);
      return;
    }
    if (now - this.lastPingAt >= this.pingIntervalMs) {
      this.lastPingAt = now;
      this.send(encodePing(Math.floor(now * 1000)));
    }
  }

  /** The link is unusable (silent or broken): reconnect, resuming the seat. */
  lostLink(why) {
    this.detach(CLOSE.IDLE_TIMEOUT, why.slice(0, 100));
    this.lastClose = { code: null, reason: why };
    this.scheduleRetry(why);
  }

  /** Forces a new connection (e.g. the replica lost its baseline: a resume gives a full snapshot). */
  reconnectNow(why) {
    this.lostLink(why);
  }

  /** One message from the server: decoded, then handled and handed to the page. */
  onMessage(data) {
    this.lastMessageAt = this.now();
    const bytes = data.byteLength ?? data.length ?? 0;
    this.bytesIn += bytes;
    this.messagesIn += 1;
    this.callbacks.onBytes?.(bytes, 0);
    let msg;
    try {
      msg = decodeServerMessage(data, this.game);
    } catch (e) {
      if (e instanceof DecodeError) {
        this.detach(CLOSE.DECODE_ERROR, 'undecodable server message');
        this.setState(STATES.ERROR, `the server sent an undecodable message: ${e.message}`);
        return;
      }
      throw e;
    }
    switch (msg.type) {
      case 'Welcome':
        this.onWelcome(msg);
        break;
      case 'Reject':
        this.pendingReject = msg;
        break;
      case 'Pong':
        this.rtt = this.now() - Number(msg.client_time) / 1000;
        this.callbacks.onPong?.(this.rtt, msg.server_tick);
        break;
      case 'MatchEnded':
        this.matchEnded = msg.results;
        break;
      default:
        break;
    }
    this.callbacks.onMessage?.(msg, bytes);
  }

  /** Seated (or watching): keeps the token for a resume. */
  onWelcome(msg) {
    const resumed = msg.resumed;
    this.welcome = msg;
    this.attempt = 0;
    this.lastPingAt = -Infinity; // measure the round trip at once
    if (resumed) this.resumes += 1;
    if (this.isSpectator) {
      this.setState(STATES.SPECTATING, '');
    } else {
      this.token = msg.session;
      saveToken(this.storage, msg.session, this.sessionKey);
      this.setState(STATES.PLAYING, resumed ? 'resumed' : '');
    }
    this.callbacks.onWelcome?.(msg);
  }

  /** The socket closed: what the code and the last Reject say decides what comes next. */
  onClose(code, reason) {
    this.lastClose = { code, reason };
    const reject = this.pendingReject;
    this.pendingReject = null;
    if (this.stopped) return;
    if (this.matchEnded) {
      // MatchEnded always precedes the close (1000, 1001 on shutdown, 1011 when aborted).
      clearToken(this.storage, this.sessionKey);
      this.token = null;
      this.setState(STATES.ENDED, reason || 'the match ended');
      return;
    }
    if (reject) {
      this.onReject(reject);
      return;
    }
    switch (code) {
      case CLOSE.SESSION_REPLACED:
        this.setState(STATES.REPLACED, 'this seat was resumed in another tab or window');
        return;
      case CLOSE.NORMAL:
        if (this.welcome) {
          clearToken(this.storage, this.sessionKey);
          this.token = null;
          this.setState(STATES.ENDED, reason || 'left the match');
          return;
        }
        break;
      case CLOSE.PROTOCOL_ERROR:
      case CLOSE.UNSUPPORTED_DATA:
      case CLOSE.DECODE_ERROR:
      case CLOSE.POLICY:
      case CLOSE.TOO_BIG:
        this.setState(STATES.ERROR, `the server closed the connection (${code}${reason ? `: ${reason}` : ''})`);
        return;
      default:
        break;
    }
    // 1006 (dropped), 4000 (idle), 1011 (server error), refused connections: try again.
    this.scheduleRetry(reason || (code === CLOSE.ABNORMAL ? 'connection lost' : `closed with ${code}`));
  }

  /** A refused join: a lost seat, a retry later, or a plain refusal. */
  onReject(reject) {
    const { reason, message } = reject;
    if (reason === 'SeatExpired' || reason === 'BadSession') {
      const matchId = this.token?.match_id;
      clearToken(this.storage, this.sessionKey);
      this.token = null;
      this.setState(STATES.SEAT_LOST,
        `Your seat${matchId != null ? ` in match ${matchId}` : ''} is gone: ${message}.`);
      return;
    }
    if (reason === 'Draining') {
      this.scheduleRetry('the server is restarting');
      return;
    }
    if (reason === 'AddressLimit') {
      this.scheduleRetry(message);
      return;
    }
    const text = {
      Full: 'The server is full.',
      NoSuchMatch: this.isSpectator ? 'There is no such match to watch.' : 'There is no such match.',
      VersionMismatch: 'This page speaks another protocol version than the server: reload it.',
      UnknownGame: 'This server does not host this game.',
      SchemaMismatch: 'This page was built for another version of the game than the server runs: reload it.',
    }[reason] ?? `The server refused to join (${reason}).`;
    this.setState(STATES.REJECTED, `${text} (${message})`);
  }

  /** Tries again after the backoff delay of the next attempt. */
  scheduleRetry(why) {
    if (this.stopped) return;
    clearTimeout(this.retryTimer);
    const delay = backoffDelay(this.attempt, this.backoffBaseMs, this.backoffMaxMs, this.random);
    this.attempt += 1;
    this.reconnects += 1;
    this.retryAt = this.now() + delay;
    this.setState(this.welcome ? STATES.RECONNECTING : STATES.CONNECTING, why);
    this.retryTimer = setTimeout(() => this.open(), delay);
  }
}
