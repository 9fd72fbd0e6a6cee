// What every game page shares at start-up: how it starts (`startPage`), and what it reads
// from its URL: `?name=` (remembered for the next page), `?match=` or `?spectate=` (the join
// target), and bounded integers such as `?interp=` and `?silence=`.

/** The page's query parameters. */
const params = new URLSearchParams(location.search);

/** Integer parameter `name` clamped to `min..=max`, or `fallback` when absent or malformed. */
export function intParam(name, fallback, min, max) {
  const v = Number.parseInt(params.get(name) ?? '', 10);
  return Number.isFinite(v) ? Math.min(max, Math.max(min, v)) : fallback;
}

/** A match id parameter (decimal digits; a BigInt beyond 2^53), or null. */
export function idParam(name) {
  const v = params.get(name);
  if (v == null || !/^\d+$/.test(v)) return null;
  const big = BigInt(v);
  return big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
}

/** The player's name: `?name=` (remembered for every page), else the remembered one, else a random one. */
export function playerName() {
  const given = params.get('name');
  if (given) {
    try {
      localStorage.setItem('tickwire.name', given);
    } catch {
      // Storage disabled: the name is still used for this page.
    }
    return given;
  }
  try {
    const stored = localStorage.getItem('tickwire.name');
    if (stored) return stored;
  } catch {
    // As above.
  }
  return `player-${Math.floor(1000 + Math.random() * 9000)}`;
}

/** The join target the URL asks for (`?spectate=`, else `?match=`, else any match), and the spectated id. */
export function joinTarget() {
  const spectateId = idParam('spectate');
  const matchId = idParam('match');
  const join = spectateId != null
    ? { type: 'Spectate', match_id: spectateId }
    : matchId != null ? { type: 'Match', match_id: matchId } : { type: 'Any' };
  return { join, spectateId };
}

/** Runs the page's `main`, showing a failure to start in the status box (and the console). */
export function startPage(main) {
  main().catch((e) => {
    console.error(e);
    const status = document.getElementById('status');
    if (status) {
      status.dataset.state = 'error';
      status.textContent = `Error: ${e.message}`;
    }
  });
}
