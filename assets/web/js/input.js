// Keyboard and mouse: WASD (by physical key position, so any layout works) or the arrow keys
// move, the mouse aims, a held mouse button (or Space) fires.

import { BUTTON_FIRE } from './arena.js';

const KEYS = {
  up: ['KeyW', 'ArrowUp'],
  down: ['KeyS', 'ArrowDown'],
  left: ['KeyA', 'ArrowLeft'],
  right: ['KeyD', 'ArrowRight'],
  fire: ['Space'],
};
const HANDLED = new Set(Object.values(KEYS).flat());

/** Aim byte (1/256 turn, 0 along +x, 64 along +y) for a direction; null for no direction. */
export function aimFromVector(dx, dy) {
  if (dx === 0 && dy === 0) return null;
  const turns = Math.atan2(dy, dx) / (2 * Math.PI);
  return ((Math.round(turns * 256) % 256) + 256) % 256;
}

/** Movement intent (-127..127 per axis) from key states. */
export function moveFromKeys(up, down, left, right) {
  const x = (right ? 1 : 0) - (left ? 1 : 0);
  const y = (down ? 1 : 0) - (up ? 1 : 0);
  return { move_x: x * 127, move_y: y * 127 };
}

export class InputState {
  constructor(target, canvas) {
    this.down = new Set();
    this.mouse = null; // canvas pixels
    this.mouseFire = false;
    this.aim = 0;
    this.canvas = canvas;
    this.onKey = this.onKey.bind(this);
    target.addEventListener('keydown', this.onKey);
    target.addEventListener('keyup', this.onKey);
    target.addEventListener('blur', () => {
      this.down.clear();
      this.mouseFire = false;
    });
    canvas.addEventListener('mousemove', (e) => {
      this.mouse = this.canvasPoint(e);
    });
    canvas.addEventListener('mousedown', (e) => {
      if (e.button === 0) this.mouseFire = true;
      this.mouse = this.canvasPoint(e);
    });
    target.addEventListener('mouseup', (e) => {
      if (e.button === 0) this.mouseFire = false;
    });
    canvas.addEventListener('contextmenu', (e) => e.preventDefault());
  }

  canvasPoint(e) {
    const r = this.canvas.getBoundingClientRect();
    return { x: e.clientX - r.left, y: e.clientY - r.top };
  }

  onKey(e) {
    if (!HANDLED.has(e.code)) return;
    if (e.target && (e.target.tagName === 'INPUT' || e.target.tagName === 'BUTTON')) return;
    e.preventDefault();
    if (e.type === 'keydown') this.down.add(e.code);
    else this.down.delete(e.code);
  }

  held(name) {
    return KEYS[name].some((k) => this.down.has(k));
  }

  /**
   * The input for this tick. `toWorld` maps canvas pixels to world units and `self` is the
   * local player's position, both for aiming; without a mouse the aim is kept.
   */
  sample(self, toWorld) {
    const move = moveFromKeys(this.held('up'), this.held('down'), this.held('left'), this.held('right'));
    if (this.mouse && self && toWorld) {
      const m = toWorld(this.mouse.x, this.mouse.y);
      const aim = aimFromVector(m.x - self.x, m.y - self.y);
      if (aim !== null) this.aim = aim;
    } else if (move.move_x !== 0 || move.move_y !== 0) {
      this.aim = aimFromVector(move.move_x, move.move_y);
    }
    const fire = this.mouseFire || this.held('fire');
    return { ...move, aim: this.aim, buttons: fire ? BUTTON_FIRE : 0 };
  }
}
