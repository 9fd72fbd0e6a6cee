// Tag's page on the tickwire SDK: the SDK joins a tag match, keeps the replica and
// interpolates; this page maps the arrow keys to tag's two input bytes, sends one input per
// tick and draws the board. Served at /tag/ from the files crates/tag embeds.

import { TickwireClient, socketUrl } from '/sdk/tickwire.js';

const canvas = document.getElementById('board');
const ctx = canvas.getContext('2d');
const status = document.getElementById('status');

/** Arrow keys held, as tag's input: the sign of each axis. */
const held = new Set();
const KEYS = ['ArrowLeft', 'ArrowRight', 'ArrowUp', 'ArrowDown'];
addEventListener('keydown', (e) => {
  if (KEYS.includes(e.key)) { held.add(e.key); e.preventDefault(); }
});
addEventListener('keyup', (e) => held.delete(e.key));
addEventListener('blur', () => held.clear());

function readInput() {
  const axis = (neg, pos) => (held.has(pos) ? 1 : 0) - (held.has(neg) ? 1 : 0);
  return { dx: axis('ArrowLeft', 'ArrowRight'), dy: axis('ArrowUp', 'ArrowDown') };
}

/** Tag's game layer for the SDK: its name and its input's bytes (dx, dy as i8). */
const TAG_GAME = {
  name: 'tag',
  encodeInput: ({ dx, dy }) => Uint8Array.of(dx & 0xff, dy & 0xff),
};

async function fetchJson(url) {
  const r = await fetch(url, { cache: 'no-cache' });
  if (!r.ok) throw new Error(`GET ${url}: HTTP ${r.status}`);
  return r.json();
}

function draw(client, rules, phase) {
  const scale = canvas.width / rules.board;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const me = client.welcome?.entity_id;
  const world = client.interpolator.sample(performance.now());
  for (const row of world.values()) {
    if (row.kind !== 'player') continue;
    const { x, y, it } = row.values;
    ctx.beginPath();
    ctx.arc(x * scale, y * scale, rules.radius * scale, 0, 2 * Math.PI);
    ctx.fillStyle = it ? '#fb4934' : row.id === me ? '#b8bb26' : '#83a598';
    ctx.fill();
    ctx.fillStyle = '#ebdbb2';
    ctx.font = '12px system-ui, sans-serif';
    ctx.textAlign = 'center';
    // The name above the player, or below it at the top edge.
    const r = rules.radius * scale;
    const above = y * scale - r - 4;
    ctx.fillText(row.strings.name ?? '', x * scale, above > 12 ? above : y * scale + r + 14);
  }
  const mine = client.self;
  if (phase) status.textContent = `${phase.text}${mine?.values.it ? ' · you are it!' : ''}`;
}

async function main() {
  // /schema.json lists every hosted game; tag's entry is under games.tag.
  const [served, rules] = await Promise.all([fetchJson('/schema.json'), fetchJson('/game.json?game=tag')]);
  const client = new TickwireClient({
    schema: served.games.tag,
    game: TAG_GAME,
    url: socketUrl(location),
    name: `player-${Math.floor(1000 + Math.random() * 9000)}`,
    join: { type: 'Any' },
    storage: sessionStorage,
  });
  let phase = { text: 'Connecting…' };
  client.on('state', (s, detail) => { phase = { text: detail?.message ?? s }; });
  client.on('frame', ({ header }) => {
    const secs = Math.ceil(header.phase_ticks_left / rules.tick_rate);
    phase = { text: header.phase === 'Running' ? `${secs} s left` : 'Waiting for players' };
  });
  client.on('ended', () => { phase = { text: 'Match over: reload to play again' }; });
  client.start();
  setInterval(() => client.sendInput(readInput()), 1000 / rules.tick_rate);
  const frame = () => { draw(client, rules, phase); requestAnimationFrame(frame); };
  requestAnimationFrame(frame);
}

main().catch((e) => { status.textContent = `tag: ${e.message}`; });
