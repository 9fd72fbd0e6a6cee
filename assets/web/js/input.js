// Keyboard and mouse: WASD (by physical key position, so any layout works) or the arrow keys
// move, the mouse aims, a held mouse button (or Space) fires.

import { BUTTON_FIRE } from './arena.js';
import { aimFromVector, canvasPoint, moveFromKeys, trackKey } from './stick.js';

export { aimFromVector, moveFromKeys };

const KEYS = {
  up: ['KeyW', 'ArrowUp'],
  down: ['KeyS', 'ArrowDown'],
  left: ['KeyA', 'ArrowLeft'],
  right: ['KeyD', 'ArrowRight'],
  fire: ['Space'],
};
const HANDLED = new Set(Object.values(KEYS).flat());

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
    return canvasPoint(this.canvas, e);
  }

  onKey(e) {
    trackKey(this.down, HANDLED, e);
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
