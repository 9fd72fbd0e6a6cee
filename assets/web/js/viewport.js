// Fitting a game's world into the page's canvas, for every game page's renderer.

/** Room the page's top bar, help line and sides take, CSS pixels. */
const MARGIN = { top: 58, bottom: 38, side: 16 };

/**
 * Sizes `canvas`'s backing store to its CSS size at the device pixel ratio, and fits a world
 * `width` x `height` (world units) between the top bar and the help line, centred.
 * Returns `{dpr, scale, ox, oy}`: CSS pixels per world unit and the world's top-left corner
 * in CSS pixels (`scale` 0 when there is no world yet).
 * @param {HTMLCanvasElement} canvas
 * @param {number} [width]
 * @param {number} [height]
 */
export function fitCanvas(canvas, width, height) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth;
  const h = canvas.clientHeight;
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
  }
  if (!width || !height) return { dpr, scale: 0, ox: 0, oy: 0 };
  const { top, bottom, side } = MARGIN;
  const scale = Math.max(0.05, Math.min((w - 2 * side) / width, (h - top - bottom) / height));
  return {
    dpr,
    scale,
    ox: (w - width * scale) / 2,
    oy: top + (h - top - bottom - height * scale) / 2,
  };
}
