// What every game page's controls share: a stick from the movement keys, an aim byte from a
// direction, the mouse in canvas pixels, and which key events belong to the game (not to the
// chat box). Arena's `input.js` and soccer's `controls.js` add their own buttons on top.

/** Aim byte (1/256 turn, 0 along +x, 64 along +y) for a direction; null for no direction. */
export function aimFromVector(dx, dy) {
  if (dx === 0 && dy === 0) return null;
  const turns = Math.atan2(dy, dx) / (2 * Math.PI);
  return ((Math.round(turns * 256) % 256) + 256) % 256;
}

/** Movement intent (−127 … 127 per axis) from key states. */
export function moveFromKeys(up, down, left, right) {
  const x = (right ? 1 : 0) - (left ? 1 : 0);
  const y = (down ? 1 : 0) - (up ? 1 : 0);
  return { move_x: x * 127, move_y: y * 127 };
}

/**
 * The mouse event's position in `canvas` CSS pixels.
 * @param {HTMLCanvasElement} canvas
 * @param {MouseEvent} e
 */
export function canvasPoint(canvas, e) {
  const r = canvas.getBoundingClientRect();
  return { x: e.clientX - r.left, y: e.clientY - r.top };
}

/**
 * Applies a key event to the held set `down` when it is one of `handled` and not typed into a
 * field or a button (the chat box keeps its keys); returns whether it did.
 * @param {Set<string>} down
 * @param {Set<string>} handled
 * @param {KeyboardEvent} e
 */
export function trackKey(down, handled, e) {
  if (!handled.has(e.code)) return false;
  if (e.target && (e.target.tagName === 'INPUT' || e.target.tagName === 'BUTTON')) return false;
  e.preventDefault();
  if (e.type === 'keydown') down.add(e.code);
  else down.delete(e.code);
  return true;
}
