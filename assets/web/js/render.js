// Canvas drawing: the arena and its walls, players with names and health, projectiles, and
// the local player's aim. World units are scaled to fit the window.

import { FLAG_ALIVE, FLAG_CONNECTED } from './arena.js';
import { fitCanvas } from './viewport.js';

const COLORS = {
  page: '#0d1117',
  floor: '#161d27',
  grid: '#1f2935',
  border: '#3b4b5f',
  wall: '#56657a',
  wallEdge: '#8494a8',
  wallShadow: 'rgba(0, 0, 0, 0.35)',
  self: '#38e1c6',
  text: '#e6edf3',
  dim: '#7d8590',
  hpBack: 'rgba(0, 0, 0, 0.55)',
  hpGood: '#3fb950',
  hpMid: '#d29922',
  hpLow: '#f85149',
  projectile: '#ffd866',
};

/** A stable colour per entity id (golden-angle hues), the local player's is fixed. */
export function playerColor(id, isSelf) {
  if (isSelf) return COLORS.self;
  const hue = (id * 137.508 + 20) % 360;
  return `hsl(${hue.toFixed(0)}, 75%, 62%)`;
}

export class Renderer {
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d');
    this.map = null;
    this.radius = 16;
    this.projectileRadius = 4;
    this.scale = 1;
    this.ox = 0;
    this.oy = 0;
    this.dpr = 1;
  }

  setMap(map, physics) {
    this.map = map;
    this.radius = physics.player_radius ?? 16;
    this.projectileRadius = physics.projectile_radius ?? 4;
  }

  resize() {
    const fit = fitCanvas(this.canvas, this.map?.width, this.map?.height);
    this.dpr = fit.dpr;
    if (!this.map) return;
    ({ scale: this.scale, ox: this.ox, oy: this.oy } = fit);
  }

  /** Canvas CSS pixels to world units. */
  toWorld(px, py) {
    return { x: (px - this.ox) / this.scale, y: (py - this.oy) / this.scale };
  }

  /**
   * Draws one frame. `view` = {entities: Map id -> entity (world units), selfId,
   * self: {x, y, aim} | null (the predicted local player), aimAt: {x, y} | null}.
   */
  draw(view) {
    const { ctx } = this;
    this.resize();
    ctx.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
    ctx.fillStyle = COLORS.page;
    ctx.fillRect(0, 0, this.canvas.clientWidth, this.canvas.clientHeight);
    if (!this.map) return;
    ctx.save();
    ctx.translate(this.ox, this.oy);
    ctx.scale(this.scale, this.scale);
    this.drawArena();
    const players = [];
    for (const e of view.entities.values()) {
      if (e.kind === 'Projectile') this.drawProjectile(e, view.entities);
      else players.push(e);
    }
    for (const e of players) {
      const isSelf = e.id === view.selfId;
      const shown = isSelf && view.self ? { ...e, x: view.self.x, y: view.self.y, aim: view.self.aim } : e;
      this.drawPlayer(shown, isSelf);
    }
    ctx.restore();
  }

  drawArena() {
    const { ctx, map } = this;
    ctx.fillStyle = COLORS.floor;
    ctx.fillRect(0, 0, map.width, map.height);
    ctx.strokeStyle = COLORS.grid;
    ctx.lineWidth = 1 / this.scale;
    ctx.beginPath();
    for (let x = 50; x < map.width; x += 50) {
      ctx.moveTo(x, 0);
      ctx.lineTo(x, map.height);
    }
    for (let y = 50; y < map.height; y += 50) {
      ctx.moveTo(0, y);
      ctx.lineTo(map.width, y);
    }
    ctx.stroke();
    ctx.strokeStyle = COLORS.border;
    ctx.lineWidth = 4 / this.scale;
    ctx.strokeRect(0, 0, map.width, map.height);
    const shadow = 6;
    ctx.fillStyle = COLORS.wallShadow;
    for (const w of map.walls) ctx.fillRect(w.x + shadow, w.y + shadow, w.w, w.h);
    for (const w of map.walls) {
      ctx.fillStyle = COLORS.wall;
      ctx.fillRect(w.x, w.y, w.w, w.h);
      ctx.strokeStyle = COLORS.wallEdge;
      ctx.lineWidth = 2 / this.scale;
      ctx.strokeRect(w.x, w.y, w.w, w.h);
    }
  }

  drawProjectile(e, entities) {
    const { ctx } = this;
    const r = Math.max(this.projectileRadius, 3 / this.scale);
    const owner = entities.get(e.owner);
    const ang = (e.aim / 256) * 2 * Math.PI;
    ctx.strokeStyle = owner ? playerColor(owner.id, false) : COLORS.projectile;
    ctx.globalAlpha = 0.5;
    ctx.lineWidth = r;
    ctx.beginPath();
    ctx.moveTo(e.x - Math.cos(ang) * r * 4, e.y - Math.sin(ang) * r * 4);
    ctx.lineTo(e.x, e.y);
    ctx.stroke();
    ctx.globalAlpha = 1;
    ctx.fillStyle = COLORS.projectile;
    ctx.beginPath();
    ctx.arc(e.x, e.y, r, 0, 2 * Math.PI);
    ctx.fill();
  }

  drawPlayer(e, isSelf) {
    const { ctx } = this;
    const r = this.radius;
    const alive = (e.flags & FLAG_ALIVE) !== 0;
    const connected = (e.flags & FLAG_CONNECTED) !== 0;
    const color = playerColor(e.id, isSelf);
    const px = 1 / this.scale;
    ctx.globalAlpha = alive ? (connected ? 1 : 0.45) : 0.25;
    const ang = (e.aim / 256) * 2 * Math.PI;
    // Barrel.
    ctx.strokeStyle = color;
    ctx.lineWidth = 6 * px;
    ctx.lineCap = 'round';
    ctx.beginPath();
    ctx.moveTo(e.x, e.y);
    ctx.lineTo(e.x + Math.cos(ang) * r * 1.6, e.y + Math.sin(ang) * r * 1.6);
    ctx.stroke();
    // Body.
    ctx.fillStyle = color;
    ctx.beginPath();
    ctx.arc(e.x, e.y, r, 0, 2 * Math.PI);
    ctx.fill();
    ctx.lineWidth = (isSelf ? 3 : 1.5) * px;
    ctx.strokeStyle = isSelf ? '#ffffff' : 'rgba(0,0,0,0.6)';
    ctx.stroke();
    if (!alive) {
      ctx.strokeStyle = COLORS.text;
      ctx.lineWidth = 3 * px;
      ctx.beginPath();
      ctx.moveTo(e.x - r * 0.5, e.y - r * 0.5);
      ctx.lineTo(e.x + r * 0.5, e.y + r * 0.5);
      ctx.moveTo(e.x + r * 0.5, e.y - r * 0.5);
      ctx.lineTo(e.x - r * 0.5, e.y + r * 0.5);
      ctx.stroke();
    }
    ctx.globalAlpha = 1;
    // Health bar.
    const bw = r * 2.4;
    const bh = 5 * px;
    const by = e.y - r - 10 * px;
    ctx.fillStyle = COLORS.hpBack;
    ctx.fillRect(e.x - bw / 2, by, bw, bh);
    const hp = Math.max(0, Math.min(100, e.hp)) / 100;
    ctx.fillStyle = hp > 0.6 ? COLORS.hpGood : hp > 0.3 ? COLORS.hpMid : COLORS.hpLow;
    ctx.fillRect(e.x - bw / 2, by, bw * hp, bh);
    // Name (and state).
    ctx.font = `${isSelf ? 'bold ' : ''}${13 * px}px system-ui, sans-serif`;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'bottom';
    let label = e.name || `#${e.id}`;
    if (!connected) label += ' (offline)';
    ctx.lineWidth = 3 * px;
    ctx.strokeStyle = 'rgba(0,0,0,0.75)';
    ctx.strokeText(label, e.x, by - 2 * px);
    ctx.fillStyle = isSelf ? COLORS.self : connected ? COLORS.text : COLORS.dim;
    ctx.fillText(label, e.x, by - 2 * px);
  }
}
