// Soccer's keyboard and mouse: WASD (by physical key position, so any layout works) or the
// arrow keys run, Shift sprints, Space or the left mouse button kicks. The kick charges while it
// is held: the ball goes out, as soon as it is within reach, at the power charged so far (from
// KICK_MIN_POWER at once to full after KICK_CHARGE_MS), so a player charges first and then runs
// at the ball. It goes where the mouse points, or (no mouse yet) the way the player runs.

import { BUTTON_KICK, BUTTON_SPRINT } from './game.js';
import { aimFromVector, canvasPoint, moveFromKeys, trackKey } from '../js/stick.js';

export { aimFromVector };

const KEYS = {
  up: ['KeyW', 'ArrowUp'],
  down: ['KeyS', 'ArrowDown'],
  left: ['KeyA', 'ArrowLeft'],
  right: ['KeyD', 'ArrowRight'],
  sprint: ['ShiftLeft', 'ShiftRight'],
  kick: ['Space'],
};
const HANDLED = new Set(Object.values(KEYS).flat());

/** Share of full power a kick has the moment the button goes down. */
export const KICK_MIN_POWER = 0.3;
/** Holding the kick this long charges it fully, ms. */
export const KICK_CHARGE_MS = 600;

/** Kick power byte (0 … 255) after holding the kick for `heldMs`. */
export function kickPower(heldMs) {
  const charge = Math.min(1, Math.max(0, heldMs) / KICK_CHARGE_MS);
  return Math.round(255 * (KICK_MIN_POWER + (1 - KICK_MIN_POWER) * charge));
}

/** The held keys and buttons of one page, sampled into one soccer input per tick. */
export class Controls {
  /**
   * @param {EventTarget} target where key events arrive (the window)
   * @param {HTMLCanvasElement} canvas where the mouse aims and clicks
   * @param {() => number} now the clock, ms
   */
  constructor(target, canvas, now = () => performance.now()) {
    /** @type {Set<string>} */
    this.down = new Set();
    /** The mouse in canvas CSS pixels, or null before it moved over the canvas. */
    this.mouse = null;
    this.mouseKick = false;
    /** When the kick went down (ms), or null while it is up. */
    this.kickSince = null;
    this.aim = 0;
    this.canvas = canvas;
    this.now = now;
    const onKey = (e) => this.onKey(e);
    target.addEventListener('keydown', onKey);
    target.addEventListener('keyup', onKey);
    target.addEventListener('blur', () => {
      this.down.clear();
      this.mouseKick = false;
      this.kickSince = null;
    });
    canvas.addEventListener('mousemove', (e) => {
      this.mouse = this.canvasPoint(e);
    });
    canvas.addEventListener('mousedown', (e) => {
      this.mouse = this.canvasPoint(e);
      if (e.button === 0) {
        this.mouseKick = true;
        this.updateKick();
      }
    });
    target.addEventListener('mouseup', (e) => {
      if (e.button === 0) {
        this.mouseKick = false;
        this.updateKick();
      }
    });
    canvas.addEventListener('contextmenu', (e) => e.preventDefault());
  }

  /** @param {MouseEvent} e */
  canvasPoint(e) {
    return canvasPoint(this.canvas, e);
  }

  /** @param {KeyboardEvent} e */
  onKey(e) {
    if (trackKey(this.down, HANDLED, e)) this.updateKick();
  }

  /** Starts the charge when the kick goes down, ends it when the last kick control is up. */
  updateKick() {
    const held = this.mouseKick || this.held('kick');
    if (held && this.kickSince === null) this.kickSince = this.now();
    if (!held) this.kickSince = null;
  }

  /** @param {keyof KEYS} name */
  held(name) {
    return KEYS[name].some((k) => this.down.has(k));
  }

  /** The kick's charge, 0 … 1 of the way from its least to its full power; null when not held. */
  charge() {
    if (this.kickSince === null) return null;
    return Math.min(1, (this.now() - this.kickSince) / KICK_CHARGE_MS);
  }

  /**
   * The input for this tick. `self` is the local player's position and `toWorld` maps canvas
   * pixels to world units, both for aiming at the mouse; without a mouse the aim follows the
   * run and is kept while standing.
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
    let buttons = this.held('sprint') ? BUTTON_SPRINT : 0;
    let power = 0;
    if (this.kickSince !== null) {
      buttons |= BUTTON_KICK;
      power = kickPower(this.now() - this.kickSince);
    }
    return { ...move, aim: this.aim, buttons, power };
  }
}
