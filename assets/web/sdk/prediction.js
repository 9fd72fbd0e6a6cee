// The prediction hook for the local player: the game supplies how one tick of its input moves
// its player (`step`) and how to read its player out of a replicated row (`fromRow`); this
// keeps the inputs the server has not applied yet and replays them on top of every
// authoritative state (reconciliation against `FrameHeader.last_input`, PROTOCOL.md §8.6).

/**
 * The local player's predicted state.
 *
 * Options, all supplied by the game layer:
 * - `step(state, input)`: advances `state` by one tick of `input`, in place, exactly as the
 *   server does;
 * - `fromRow(row)`: the authoritative state in the local entity's row of the newest world
 *   (wire units), or null when there is nothing to predict (no entity, dead);
 * - `rebase(authoritative, predicted)`: the state to replay from, given the authoritative one
 *   and what was predicted for the same input (null if unknown); default: the authoritative
 *   state. A game whose rows lack something its step needs (arena: an exact velocity) takes
 *   it from `predicted`;
 * - `distance(a, b)`: how far apart two states are, for the correction measure and for
 *   `snapDistance` (default: always 0);
 * - `snapDistance`: a correction larger than this (a respawn, a teleport) restarts the
 *   prediction instead of replaying on top of it (default: never);
 * - `clone(state)`: a copy of a state (default: a shallow copy);
 * - `maxPending`: most inputs kept unacknowledged (default 120: the server queues only a few,
 *   so a long backlog means they are being lost).
 */
export class Predictor {
  /** @param {object} game the game's functions, see the class comment */
  constructor(game) {
    this.game = game;
    this.distance = game.distance ?? (() => 0);
    this.clone = game.clone ?? ((s) => ({ ...s }));
    this.maxPending = game.maxPending ?? 120;
    /** Predicted state after the newest sent input; null until the first authoritative one. */
    this.state = null;
    /** Sent inputs the server has not reported applied: [{seq, input, state}]. */
    this.pending = [];
    /** Distance between prediction and server at the last reconciliation. */
    this.lastError = 0;
  }

  /** Forgets everything (after a reconnect, a death or a respawn). */
  reset() {
    this.state = null;
    this.pending = [];
  }

  /** Applies a freshly sent input (sequence number `seq`) locally. */
  push(seq, input) {
    if (!this.state) return;
    this.game.step(this.state, input);
    this.pending.push({ seq, input, state: this.clone(this.state) });
    if (this.pending.length > this.maxPending) this.pending.shift();
  }

  /**
   * Reconciles with the local entity's row (null: none) of a frame whose authoritative state
   * includes every input up to `lastInput`: drops the acknowledged inputs, restarts from the
   * server's state and replays the rest. Returns the correction distance.
   */
  reconcile(row, lastInput) {
    const authoritative = row ? this.game.fromRow(row) : null;
    if (!authoritative) {
      this.reset();
      return 0;
    }
    if (this.state && this.game.snapDistance !== undefined
      && this.distance(this.state, authoritative) > this.game.snapDistance) {
      this.reset();
    }
    return this.reconcileState(authoritative, lastInput);
  }

  /** `reconcile` with the authoritative state itself (already read out of its row). */
  reconcileState(authoritative, lastInput) {
    let acked = null;
    while (this.pending.length && this.pending[0].seq <= lastInput) acked = this.pending.shift();
    // What was predicted for `lastInput`: the acknowledged input's state, or the current one
    // when every input sent so far is applied.
    let predicted = null;
    if (acked) predicted = acked.state;
    else if (this.state && lastInput > 0 && !this.pending.length) predicted = this.state;
    const before = this.state;
    const s = this.game.rebase ? this.game.rebase(authoritative, predicted) : this.clone(authoritative);
    for (const p of this.pending) {
      this.game.step(s, p.input);
      p.state = this.clone(s);
    }
    this.state = s;
    this.lastError = before ? this.distance(before, s) : 0;
    return this.lastError;
  }
}
