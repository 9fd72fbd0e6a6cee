// The page around the canvas: connection status, network HUD, match phase and timer,
// scoreboard, and the overlays (reconnecting, results, seat lost), the same on every game page.

import { FLAG_CONNECTED } from './arena.js';
import { STATES } from '../sdk/tickwire.js';

/** Counts events (bytes, frames) per second over a sliding window. */
export class RateMeter {
  constructor(windowMs = 1000) {
    this.windowMs = windowMs;
    this.samples = []; // [time, amount]
    this.total = 0;
  }

  add(now, amount) {
    this.samples.push([now, amount]);
    this.total += amount;
    this.trim(now);
  }

  trim(now) {
    while (this.samples.length && this.samples[0][0] <= now - this.windowMs) {
      this.total -= this.samples.shift()[1];
    }
  }

  /** Amount per second over the window ending at `now`. */
  rate(now) {
    this.trim(now);
    return (this.total * 1000) / this.windowMs;
  }
}

const STATE_TEXT = {
  connecting: 'Connecting…',
  joining: 'Joining…',
  playing: 'Connected',
  spectating: 'Spectating',
  reconnecting: 'Reconnecting…',
  ended: 'Match over',
  'seat-lost': 'Seat lost',
  rejected: 'Not joined',
  replaced: 'Taken over',
  error: 'Error',
};

function fmtBytes(perSec) {
  if (perSec >= 1024 * 1024) return `${(perSec / 1024 / 1024).toFixed(1)} MB/s`;
  if (perSec >= 1024) return `${(perSec / 1024).toFixed(1)} kB/s`;
  return `${Math.round(perSec)} B/s`;
}

function fmtClock(seconds) {
  const s = Math.max(0, Math.ceil(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

const $ = (id) => document.getElementById(id);

export class Hud {
  constructor() {
    this.el = {
      status: $('status'),
      phase: $('phase'),
      timer: $('timer'),
      ping: $('hud-ping'),
      tick: $('hud-tick'),
      rate: $('hud-rate'),
      bytes: $('hud-bytes'),
      conn: $('hud-conn'),
      interp: $('hud-interp'),
      match: $('hud-match'),
      scores: $('scores'),
      banner: $('banner'),
      overlay: $('overlay'),
      overlayTitle: $('overlay-title'),
      overlayText: $('overlay-text'),
      results: $('results'),
      overlayButton: $('overlay-button'),
      toast: $('toast'),
    };
    this.overlayAction = null;
    this.el.overlayButton.addEventListener('click', () => this.overlayAction?.());
    this.toastTimer = null;
  }

  setStatus(state, detail) {
    const { status } = this.el;
    status.dataset.state = state;
    status.textContent = STATE_TEXT[state] ?? state;
    status.title = detail || '';
    this.el.conn.textContent = state;
  }

  /** Numbers of the HUD: {rtt, tick, tickRate, framesPerSec, bytesPerSec, interpMs, matchId}. */
  setStats(s) {
    const { el } = this;
    el.ping.textContent = s.rtt == null ? '–' : `${Math.round(s.rtt)} ms`;
    el.tick.textContent = s.tick ? String(s.tick) : '–';
    el.rate.textContent = s.tickRate ? `${s.tickRate} Hz (${Math.round(s.framesPerSec)} fps in)` : '–';
    el.bytes.textContent = fmtBytes(s.bytesPerSec);
    el.interp.textContent = `${s.interpMs} ms`;
    el.match.textContent = s.matchId == null ? '–' : `#${s.matchId}${s.spectator ? ' (watching)' : ''}`;
  }

  /** Phase banner: {phase, ticksLeft, tickRate, players, minPlayers}. */
  setPhase(p) {
    const { el } = this;
    el.phase.dataset.phase = p.phase ?? '';
    if (!p.phase) {
      el.phase.textContent = '';
      el.timer.textContent = '';
      return;
    }
    if (p.phase === 'Waiting') {
      el.phase.textContent = p.players < p.minPlayers
        ? `Warm-up · waiting for players (${p.players}/${p.minPlayers})`
        : 'Warm-up';
    } else if (p.phase === 'Running') {
      el.phase.textContent = 'Match running';
    } else {
      el.phase.textContent = 'Match over';
    }
    const timed = p.phase !== 'Ended' && p.ticksLeft > 0 && p.tickRate;
    el.timer.textContent = timed ? fmtClock(p.ticksLeft / p.tickRate) : '';
  }

  /** Scoreboard from the world's player entities. */
  setScores(players, selfId) {
    const rows = [...players].sort((a, b) => b.score - a.score || a.id - b.id);
    const list = this.el.scores;
    const key = rows.map((p) => `${p.id}:${p.score}:${p.flags}:${p.hp}`).join('|') + `/${selfId}`;
    if (list.dataset.key === key) return;
    list.dataset.key = key;
    list.replaceChildren(...rows.map((p) => {
      const li = document.createElement('li');
      if (p.id === selfId) li.className = 'self';
      if (!(p.flags & FLAG_CONNECTED)) li.classList.add('offline');
      const name = document.createElement('span');
      name.className = 'name';
      name.textContent = p.name || `#${p.id}`;
      const score = document.createElement('span');
      score.className = 'score';
      score.textContent = String(p.score);
      li.append(name, score);
      return li;
    }));
  }

  banner(text) {
    const { banner } = this.el;
    banner.hidden = !text;
    banner.textContent = text || '';
  }

  toast(text, ms = 2500) {
    const { toast } = this.el;
    toast.textContent = text;
    toast.hidden = false;
    clearTimeout(this.toastTimer);
    this.toastTimer = setTimeout(() => {
      toast.hidden = true;
    }, ms);
  }

  /**
   * Shows a modal card; `results` is a MatchResults or null (the row of player `selfId` is
   * highlighted); `action` = [label, fn] or null.
   */
  overlay(title, text, results, action, selfId = null) {
    const { el } = this;
    el.overlay.hidden = false;
    el.overlay.dataset.kind = title;
    el.overlayTitle.textContent = title;
    el.overlayText.textContent = text;
    el.results.replaceChildren();
    el.results.hidden = !results;
    if (results) {
      const head = document.createElement('tr');
      for (const h of ['#', 'Player', 'Score', 'Kills', 'Deaths']) {
        const th = document.createElement('th');
        th.textContent = h;
        head.append(th);
      }
      el.results.append(head);
      results.players.forEach((p, i) => {
        const tr = document.createElement('tr');
        if (p.player_id === selfId) tr.className = 'self';
        for (const v of [i + 1, p.name, p.score, p.kills, p.deaths]) {
          const td = document.createElement('td');
          td.textContent = String(v);
          tr.append(td);
        }
        el.results.append(tr);
      });
    }
    el.overlayButton.hidden = !action;
    if (action) {
      el.overlayButton.textContent = action[0];
      this.overlayAction = action[1];
    }
  }

  /**
   * Shows what a connection state means, the same on every game page, and returns true; false
   * for the match's end (the game's own results) and states with nothing to show, which the
   * page handles itself. `grace` says how long a dropped seat is kept ("about 10 s").
   */
  connectionState(client, state, detail, grace) {
    const again = ['Join a new match', () => client.playAgain()];
    switch (state) {
      case STATES.RECONNECTING: {
        const seat = client.conn.isSpectator ? '' : ` Your seat is kept for ${grace}.`;
        this.banner(`Connection lost (${detail}). Reconnecting…${seat}`);
        return true;
      }
      case STATES.PLAYING:
      case STATES.SPECTATING:
        this.banner('');
        return true;
      case STATES.SEAT_LOST:
        this.banner('');
        this.overlay('Your seat is gone', `${detail} The server keeps a dropped seat only for a short grace period.`, null, again);
        return true;
      case STATES.REJECTED:
        this.banner('');
        this.overlay('Could not join', detail, null, again);
        return true;
      case STATES.REPLACED:
        this.banner('');
        this.overlay('Playing elsewhere', `${detail[0].toUpperCase()}${detail.slice(1)}.`, null,
          ['Take the seat back', () => location.reload()]);
        return true;
      case STATES.ERROR:
        this.banner('');
        this.overlay('Connection error', detail, null, ['Reload', () => location.reload()]);
        return true;
      default:
        return false;
    }
  }

  hideOverlay() {
    this.el.overlay.hidden = true;
    this.overlayAction = null;
  }
}
