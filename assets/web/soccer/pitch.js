// Canvas drawing of a soccer match: the pitch and its markings, the goals behind the left and
// right walls, players in their team's colour (the local one ringed, with its kick charge), the
// ball, and the kickoff countdown. World units are scaled to fit the window.

import { FLAG_CONNECTED } from './game.js';
import { fitCanvas } from '../js/viewport.js';

/** Depth of a goal behind its line, world units (crates/soccer: GOAL_DEPTH). */
const GOAL_DEPTH = 40;

/** Colours; the team ones match soccer.css's. */
export const COLORS = Object.freeze({
  page: '#0d1117',
  grass: '#1f6b3a',
  grassStripe: '#237542',
  line: 'rgba(255, 255, 255, 0.75)',
  net: 'rgba(255, 255, 255, 0.28)',
  home: '#4aa3ff',
  away: '#ff6b6b',
  self: '#ffffff',
  ball: '#f5f5f5',
  text: '#e6edf3',
  dim: '#7d8590',
  charge: '#ffd866',
});

/** The colour of a team ('home' or 'away'). */
export function teamColor(team) {
  return team === 'away' ? COLORS.away : COLORS.home;
}

/** Draws the match on a canvas; `scale`, `ox` and `oy` map world units to CSS pixels. */
export class PitchRenderer {
  /** @param {HTMLCanvasElement} canvas */
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d');
    /** The rules in use (`/game.json?game=soccer`), or null before the Welcome. */
    this.rules = null;
    this.scale = 1;
    this.ox = 0;
    this.oy = 0;
    this.dpr = 1;
  }

  /** Sets the pitch's size (the Welcome's) and the rest of the rules. */
  setRules(rules) {
    this.rules = rules;
  }

  resize() {
    // The goals stand behind the side walls: fit them in too, then start at the pitch's edge.
    const r = this.rules;
    const fit = fitCanvas(this.canvas, r && r.pitch_width + 2 * GOAL_DEPTH, r?.pitch_height);
    this.dpr = fit.dpr;
    if (!r) return;
    ({ scale: this.scale, oy: this.oy } = fit);
    this.ox = fit.ox + GOAL_DEPTH * fit.scale;
  }

  /** Canvas CSS pixels to world units. */
  toWorld(px, py) {
    return { x: (px - this.ox) / this.scale, y: (py - this.oy) / this.scale };
  }

  /** World units to canvas CSS pixels. */
  toScreen(x, y) {
    return { x: this.ox + x * this.scale, y: this.oy + y * this.scale };
  }

  /**
   * Draws one frame. `view` = {players: [entity], ball: entity | null, selfId, self: {x, y,
   * aim} | null (the local player as predicted), charge: 0 … 1 | null (the kick being held),
   * kickoffSeconds: number (0: play is on)}, in world units.
   */
  draw(view) {
    const { ctx } = this;
    this.resize();
    ctx.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
    ctx.fillStyle = COLORS.page;
    ctx.fillRect(0, 0, this.canvas.clientWidth, this.canvas.clientHeight);
    if (!this.rules) return;
    ctx.save();
    ctx.translate(this.ox, this.oy);
    ctx.scale(this.scale, this.scale);
    this.drawPitch();
    for (const p of view.players) {
      const isSelf = p.id === view.selfId;
      const shown = isSelf && view.self ? { ...p, ...view.self } : p;
      this.drawPlayer(shown, isSelf, isSelf ? view.charge : null);
    }
    if (view.ball) this.drawBall(view.ball);
    ctx.restore();
    if (view.kickoffSeconds > 0) this.drawCountdown(view.kickoffSeconds);
  }

  drawPitch() {
    const { ctx } = this;
    const { pitch_width: W, pitch_height: H, goal_width: G } = this.rules;
    const px = 1 / this.scale;
    ctx.fillStyle = COLORS.grass;
    ctx.fillRect(0, 0, W, H);
    // Mowing stripes: ten across the pitch.
    ctx.fillStyle = COLORS.grassStripe;
    const stripe = W / 10;
    for (let i = 0; i < 10; i += 2) ctx.fillRect(i * stripe, 0, stripe, H);
    ctx.strokeStyle = COLORS.line;
    ctx.lineWidth = 2 * px;
    ctx.strokeRect(0, 0, W, H);
    ctx.beginPath();
    ctx.moveTo(W / 2, 0);
    ctx.lineTo(W / 2, H);
    ctx.stroke();
    const circle = Math.min(W, H) * 0.15;
    ctx.beginPath();
    ctx.arc(W / 2, H / 2, circle, 0, 2 * Math.PI);
    ctx.stroke();
    ctx.fillStyle = COLORS.line;
    ctx.beginPath();
    ctx.arc(W / 2, H / 2, 3 * px, 0, 2 * Math.PI);
    ctx.fill();
    // Penalty areas: twice the goal mouth wide (at most most of the side), a goal mouth deep
    // (markings only: soccer has no penalties).
    const areaH = Math.min(0.8 * H, 2 * G);
    const areaW = Math.min(W / 4, G);
    ctx.strokeRect(0, (H - areaH) / 2, areaW, areaH);
    ctx.strokeRect(W - areaW, (H - areaH) / 2, areaW, areaH);
    // The goals: a net behind each mouth, its posts in the defending team's colour.
    const y = (H - G) / 2;
    for (const [x, team] of [[-GOAL_DEPTH, 'home'], [W, 'away']]) {
      ctx.fillStyle = 'rgba(0, 0, 0, 0.35)';
      ctx.fillRect(x, y, GOAL_DEPTH, G);
      ctx.strokeStyle = COLORS.net;
      ctx.lineWidth = 1 * px;
      ctx.beginPath();
      for (let gy = y; gy <= y + G; gy += 10) {
        ctx.moveTo(x, gy);
        ctx.lineTo(x + GOAL_DEPTH, gy);
      }
      for (let gx = x; gx <= x + GOAL_DEPTH; gx += 10) {
        ctx.moveTo(gx, y);
        ctx.lineTo(gx, y + G);
      }
      ctx.stroke();
      ctx.strokeStyle = teamColor(team);
      ctx.lineWidth = 4 * px;
      ctx.strokeRect(x, y, GOAL_DEPTH, G);
    }
  }

  drawPlayer(p, isSelf, charge) {
    const { ctx } = this;
    const r = this.rules.player_radius;
    const px = 1 / this.scale;
    const color = teamColor(p.team);
    ctx.globalAlpha = (p.flags & FLAG_CONNECTED) !== 0 ? 1 : 0.45;
    // Facing: where a kick would go.
    const ang = (p.aim / 256) * 2 * Math.PI;
    ctx.strokeStyle = color;
    ctx.lineWidth = 4 * px;
    ctx.lineCap = 'round';
    ctx.beginPath();
    ctx.moveTo(p.x + Math.cos(ang) * r, p.y + Math.sin(ang) * r);
    ctx.lineTo(p.x + Math.cos(ang) * r * 1.5, p.y + Math.sin(ang) * r * 1.5);
    ctx.stroke();
    ctx.fillStyle = color;
    ctx.beginPath();
    ctx.arc(p.x, p.y, r, 0, 2 * Math.PI);
    ctx.fill();
    ctx.lineWidth = (isSelf ? 3 : 1.5) * px;
    ctx.strokeStyle = isSelf ? COLORS.self : 'rgba(0, 0, 0, 0.6)';
    ctx.stroke();
    if (charge !== null && charge !== undefined) {
      ctx.strokeStyle = COLORS.charge;
      ctx.lineWidth = 4 * px;
      ctx.beginPath();
      ctx.arc(p.x, p.y, r + 6 * px, -Math.PI / 2, -Math.PI / 2 + 2 * Math.PI * Math.max(0.05, charge));
      ctx.stroke();
    }
    ctx.globalAlpha = 1;
    ctx.font = `${isSelf ? 'bold ' : ''}${13 * px}px system-ui, sans-serif`;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'bottom';
    const label = p.name || `#${p.id}`;
    ctx.lineWidth = 3 * px;
    ctx.strokeStyle = 'rgba(0, 0, 0, 0.75)';
    ctx.strokeText(label, p.x, p.y - r - 6 * px);
    ctx.fillStyle = isSelf ? COLORS.self : COLORS.text;
    ctx.fillText(label, p.x, p.y - r - 6 * px);
  }

  drawBall(b) {
    const { ctx } = this;
    const r = Math.max(this.rules.ball_radius, 3 / this.scale);
    ctx.fillStyle = 'rgba(0, 0, 0, 0.3)';
    ctx.beginPath();
    ctx.arc(b.x + r * 0.3, b.y + r * 0.3, r, 0, 2 * Math.PI);
    ctx.fill();
    ctx.fillStyle = COLORS.ball;
    ctx.beginPath();
    ctx.arc(b.x, b.y, r, 0, 2 * Math.PI);
    ctx.fill();
    ctx.strokeStyle = '#222';
    ctx.lineWidth = 1.5 / this.scale;
    ctx.stroke();
  }

  /** The kickoff countdown, big, over the centre spot (CSS pixels). */
  drawCountdown(seconds) {
    const { ctx } = this;
    const c = this.toScreen(this.rules.pitch_width / 2, this.rules.pitch_height / 2);
    ctx.font = 'bold 48px system-ui, sans-serif';
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    ctx.lineWidth = 6;
    ctx.strokeStyle = 'rgba(0, 0, 0, 0.6)';
    const text = seconds >= 1 ? String(Math.ceil(seconds)) : 'Kickoff!';
    ctx.strokeText(text, c.x, c.y - 60);
    ctx.fillStyle = COLORS.text;
    ctx.fillText(text, c.x, c.y - 60);
  }
}
