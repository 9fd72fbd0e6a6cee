// The client of one game's match: a Connection, the replica of the served schema, the
// interpolation of remote entities, the local player's inputs (sequence numbers and
// acknowledgements) and, when the game supplies one, its prediction. A game's page is this
// plus its input mapping, its drawing and its prediction rules.

import { Connection, STATES } from './connection.js';
import { encodeAck, encodeChat, encodeInput, encodeMute, encodeRequest } from './messages.js';
import { Interpolator } from './interpolation.js';
import { Replica } from './replica.js';
import { SchemaCodec } from './schema.js';

/**
 * Fetches the schemas the server serves (`GET /schema.json`: the default game's `{hash,
 * schema}` and every hosted game's under `games`) and returns the decoder of one game's:
 * `options.game` names it (default: the server's default game). `url` defaults to
 * `schema.json` beside the page; `options` may also be the `fetch` to use (the older form).
 * A game the server does not host is an Error naming the ones it does.
 *
 * @param {string} [url]
 * @param {{game?: string | null, fetch?: typeof fetch} | typeof fetch} [options]
 * @returns {Promise<SchemaCodec>}
 */
export async function loadSchema(url = 'schema.json', options = {}) {
  const { game = null, fetch: fetchImpl = globalThis.fetch } = typeof options === 'function'
    ? { fetch: options }
    : options ?? {};
  const r = await fetchImpl(url, { cache: 'no-cache' });
  if (!r.ok) throw new Error(`GET ${url}: HTTP ${r.status}`);
  return new SchemaCodec(pickSchema(await r.json(), game));
}

/**
 * The served schema of `game` in `/schema.json`'s value (null: the default game's, the
 * document's own `{hash, schema}`). An Error when the server does not host `game`.
 */
export function pickSchema(served, game = null) {
  if (game == null) return served;
  const entry = served?.games?.[game];
  // An own property only: a name like `constructor` must not find something inherited.
  if (entry && Object.hasOwn(served.games, game)) return entry;
  // A server that predates `games` serves one game, named by its declaration.
  if (!served?.games && served?.schema?.name === game) return served;
  const hosted = Object.keys(served?.games ?? {}).join(', ') || served?.schema?.name || 'none';
  throw new Error(`the server does not serve a schema for ${JSON.stringify(game)} (it hosts ${hosted})`);
}

/** The WebSocket URL of the game server that served `location` (`ws[s]://host/ws`). */
export function socketUrl(location = globalThis.location) {
  return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/ws`;
}

/**
 * Why a `sendRequest` promise was rejected: the server's refusal (`reason` one of
 * REQUEST_REFUSAL_REASONS, with its `limit` and `message` and the whole `refusal`), or
 * `NotConnected` (it could not be sent) or `ConnectionLost` (the link dropped before the
 * answer; the request may or may not have been handled).
 */
export class RequestError extends Error {
  constructor(reason, message, refusal = null) {
    super(message);
    this.name = 'RequestError';
    this.reason = reason;
    this.limit = refusal?.limit ?? 0;
    this.refusal = refusal;
  }
}

/**
 * A match client for any game.
 *
 * Options:
 * - `schema`: a SchemaCodec, or `/schema.json`'s value;
 * - `game`: the game layer's protocol pieces: `encodeInput(input) -> Uint8Array` (the game's
 *   input fields; required to play), and optionally `name`, `decodeJoinInfo(reader)`,
 *   `decodeEvent(reader)`, `decodeResults(reader)` (see messages.js);
 * - `predictor`: a Predictor (prediction.js) for the local player, or null;
 * - `interpolation`: Interpolator options (`delayMs`, `teleportUnits`, `blend`);
 * - everything a Connection takes (`url`, `name`, `join`, `storage`, `silenceMs`, backoff,
 *   `WebSocket`, `now`, …).
 *
 * Events (`on(type, fn)`, which returns an unsubscribe function):
 * - `state` `(state, detail)`: the connection state changed (STATES);
 * - `welcome` `(msg)`: seated or watching; the replica has been reset;
 * - `frame` `({header, world, correction})`: a State frame was applied;
 * - `event` `(event)`: a game event (its decoded form, or raw bytes);
 * - `ended` `(results)`: MatchEnded arrived;
 * - `chat` `({seq, tick, from, name, text})`: a chat line (ours too; `from` 0 is a spectator);
 * - `chatRefused` `({reason, limit})`: our last chat line was not delivered;
 * - `reply` `({id, payload})`, `requestRefused` `({id, reason, limit, message})`: the answer
 *   to one of our requests (also settles its `sendRequest` promise);
 * - `pong` `(rttMs, serverTick)`; `bytes` `(inBytes, outBytes)`;
 * - `message` `(msg, byteLength)`: every server message, after the client handled it;
 * - `frameError` `(error)`: a frame did not apply (the client resumes to get a full snapshot).
 */
export class TickwireClient {
  /** @param {object} options see the class comment */
  constructor(options) {
    this.codec = options.schema instanceof SchemaCodec ? options.schema : new SchemaCodec(options.schema);
    this.game = options.game ?? {};
    this.replica = new Replica(this.codec);
    this.interpolator = new Interpolator(this.codec, options.interpolation);
    this.predictor = options.predictor ?? null;
    this.listeners = new Map();
    /** The newest State header applied, or null. */
    this.header = null;
    /** The newest input sequence number sent. */
    this.seq = 0;
    this.inputsSent = 0;
    this.acksSent = 0;
    this.framesApplied = 0;
    this.firstFrame = false;
    this.results = null;
    /** The newest request id used (ids are u32 and wrap). */
    this.requestId = 0;
    /** Requests waiting for their answer: id → {resolve, reject}. */
    this.pending = new Map();
    this.now = options.now ?? (() => performance.now());
    this.conn = new Connection({
      ...options,
      game: this.game,
      schemaHash: this.codec.hash,
      now: this.now,
      callbacks: {
        onWelcome: (msg) => this.onWelcome(msg),
        onMessage: (msg, n) => this.onMessage(msg, n),
        onState: (s, detail) => {
          // Answers come on the connection that carried the request: once it is gone, none will.
          if (s !== STATES.PLAYING && s !== STATES.SPECTATING) this.failRequests(`connection ${s}`);
          this.emit('state', s, detail);
        },
        onPong: (rtt, tick) => this.emit('pong', rtt, tick),
        onBytes: (i, o) => this.emit('bytes', i, o),
      },
    });
  }

  /** Subscribes `fn` to events of `type`; returns the function that unsubscribes it. */
  on(type, fn) {
    if (!this.listeners.has(type)) this.listeners.set(type, new Set());
    this.listeners.get(type).add(fn);
    return () => this.listeners.get(type)?.delete(fn);
  }

  /** Calls every listener of `type` (internal). */
  emit(type, ...args) {
    for (const fn of this.listeners.get(type) ?? []) fn(...args);
  }

  /** Connects (and keeps reconnecting as the connection rules say). */
  start() {
    this.conn.start();
  }

  /** Disconnects for good. */
  stop() {
    this.conn.stop();
  }

  /** Starts over in a new seat of any match. */
  playAgain() {
    this.conn.playAgain();
  }

  /** Leaves the match for good (the seat is freed at once). */
  leave() {
    this.conn.leave();
  }

  /** The connection state (one of STATES). */
  get state() {
    return this.conn.state;
  }

  /** The Welcome of the current seat, or null. */
  get welcome() {
    return this.conn.welcome;
  }

  /** True when watching without a seat. */
  get isSpectator() {
    return this.conn.isSpectator;
  }

  /** True when inputs can be sent now (seated, connected, first frame applied). */
  get canSendInput() {
    return this.conn.state === STATES.PLAYING && this.firstFrame;
  }

  /** The local player's row in the newest world, or null. */
  get self() {
    const w = this.replica.world;
    const id = this.conn.welcome?.entity_id;
    return w && id ? w.get(id) ?? null : null;
  }

  /**
   * Ping, traffic and progress: `{state, rtt, bytesIn, bytesOut, messagesIn, messagesOut,
   * framesApplied, inputsSent, acksSent, tick, reconnects, resumes}`.
   */
  stats() {
    const c = this.conn;
    return {
      state: c.state,
      rtt: c.rtt,
      bytesIn: c.bytesIn,
      bytesOut: c.bytesOut,
      messagesIn: c.messagesIn,
      messagesOut: c.messagesOut,
      framesApplied: this.framesApplied,
      inputsSent: this.inputsSent,
      acksSent: this.acksSent,
      tick: this.replica.newestTick,
      reconnects: c.reconnects,
      resumes: c.resumes,
    };
  }

  /**
   * Sends one input of the local player: the next sequence number, the newest applied tick as
   * the acknowledgement, and the game's bytes (`game.encodeInput(input)`); the predictor, if
   * any, applies it at once. Returns the sequence number, or null when it was not sent.
   */
  sendInput(input) {
    if (!this.canSendInput) return null;
    const payload = this.game.encodeInput(input);
    const seq = this.seq + 1;
    if (!this.conn.send(encodeInput({ seq, ack: this.replica.newestTick, payload }))) return null;
    this.seq = seq;
    this.inputsSent += 1;
    this.predictor?.push(seq, input);
    return seq;
  }

  /**
   * Sends one line of chat; every player (and spectator, if the server allows) hears it as a
   * `chat` event, ours included. Returns false when it could not be sent (not connected).
   */
  sendChat(text) {
    return this.conn.send(encodeChat(text));
  }

  /** Stops (`muted` true) or resumes hearing one player's chat lines. */
  mute(player, muted = true) {
    return this.conn.send(encodeMute(player, muted));
  }

  /**
   * Sends a game-defined request (`payload`: the game's bytes, see the game's documentation;
   * the server refuses more than MAX_REQUEST_BYTES). Resolves with the reply's payload
   * (Uint8Array) when the game answers, in tick order; rejects with a RequestError when it is
   * refused (`reason`: Malformed, TooLarge, RateLimited with `limit` ms to wait, Refused with
   * the game's `message`, NotPlayer), could not be sent, or the connection dropped first.
   */
  sendRequest(payload) {
    const id = (this.requestId + 1) >>> 0;
    const bytes = encodeRequest(id, payload);
    if (!this.conn.send(bytes)) {
      return Promise.reject(new RequestError('NotConnected', 'not connected: the request was not sent'));
    }
    this.requestId = id;
    return new Promise((resolve, reject) => this.pending.set(id, { resolve, reject }));
  }

  /** Rejects every request still waiting for its answer (internal). */
  failRequests(why) {
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) p.reject(new RequestError('ConnectionLost', `no answer: ${why}`));
  }

  /** A new seat or a resume: the server starts again with a full snapshot. */
  onWelcome(msg) {
    this.replica.reset();
    this.interpolator.reset();
    this.interpolator.setTickRate(msg.tick_rate);
    this.predictor?.reset();
    this.header = null;
    this.firstFrame = false;
    this.emit('welcome', msg);
  }

  /** Every decoded server message. */
  onMessage(msg, n) {
    switch (msg.type) {
      case 'State':
        this.onFrame(msg);
        break;
      case 'Event':
        this.emit('event', msg.event);
        break;
      case 'MatchEnded':
        this.results = msg.results;
        this.emit('ended', msg.results);
        break;
      case 'Chat':
        this.emit('chat', msg);
        break;
      case 'ChatRefused':
        this.emit('chatRefused', msg);
        break;
      case 'Reply': {
        const p = this.pending.get(msg.id);
        this.pending.delete(msg.id);
        p?.resolve(msg.payload);
        this.emit('reply', msg);
        break;
      }
      case 'RequestRefused': {
        const p = this.pending.get(msg.id);
        this.pending.delete(msg.id);
        const why = msg.message ? `${msg.reason}: ${msg.message}` : msg.reason;
        p?.reject(new RequestError(msg.reason, `request ${msg.id} refused (${why})`, msg));
        this.emit('requestRefused', msg);
        break;
      }
      default:
        break;
    }
    this.emit('message', msg, n);
  }

  /** Applies a State frame, acknowledges it and reconciles the prediction. */
  onFrame(msg) {
    const h = msg.header;
    let world;
    try {
      world = this.replica.applyBody(h.tick, h.baseline_age, msg.body);
    } catch (e) {
      // Latest-wins delivery: an older frame after a newer one is simply ignored.
      if (e.kind === 'Stale') return;
      // A body that does not decode or a baseline that is gone (a bug, or a corrupted stream):
      // a resume brings a full snapshot.
      this.emit('frameError', e);
      this.conn.reconnectNow(`cannot apply a state frame (${e.kind ?? e.name})`);
      return;
    }
    this.header = h;
    this.framesApplied += 1;
    this.interpolator.push(h.tick, world, this.now());
    let correction = 0;
    if (this.conn.isSpectator) {
      // No inputs carry the acknowledgement: acknowledge every applied frame so deltas stay small.
      if (this.conn.send(encodeAck(h.tick))) this.acksSent += 1;
    } else {
      if (!this.firstFrame) {
        // Keep counting above whatever the server already applied (a reloaded page restarts).
        this.seq = Math.max(this.seq, h.last_input);
        this.firstFrame = true;
      }
      if (this.predictor) correction = this.predictor.reconcile(this.self, h.last_input);
    }
    this.emit('frame', { header: h, world, correction });
  }
}
