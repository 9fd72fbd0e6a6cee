// The chat panel every game page shows (arena's and soccer's): the engine's in-match chat
// through the SDK's `sendChat` and its `chat` / `chatRefused` events. The page provides the
// elements #chat-lines, #chat-form and #chat-input.

/** Most chat lines the page keeps on screen. */
const CHAT_LINES_SHOWN = 50;

/** What the page says for each chat refusal reason. */
const CHAT_REFUSALS = {
  Disabled: () => 'Chat is off in this match.',
  Empty: () => 'Nothing to send.',
  TooLong: (limit) => `Too long: at most ${limit} bytes.`,
  RateLimited: (limit) => `Slow down: wait ${Math.ceil(limit / 1000)} s.`,
  Silenced: () => 'An operator muted your chat.',
  Spectator: () => 'Spectators cannot chat in this match.',
};

/**
 * The chat panel: lines as they arrive (text only, never HTML), Enter to type, Enter to send,
 * Escape to go back to playing.
 */
export function setUpChat(client) {
  const list = document.getElementById('chat-lines');
  const form = document.getElementById('chat-form');
  const input = document.getElementById('chat-input');
  const add = (build) => {
    const li = document.createElement('li');
    build(li);
    list.append(li);
    while (list.children.length > CHAT_LINES_SHOWN) list.firstElementChild.remove();
    list.scrollTop = list.scrollHeight;
  };
  client.on('chat', (line) => add((li) => {
    const from = document.createElement('span');
    from.className = 'from';
    from.textContent = line.from === 0 ? `${line.name} (watching)` : line.name;
    li.append(from, document.createTextNode(line.text));
  }));
  client.on('chatRefused', ({ reason, limit }) => add((li) => {
    li.className = 'system';
    li.textContent = (CHAT_REFUSALS[reason] ?? (() => `Not sent (${reason}).`))(limit);
  }));
  window.addEventListener('keydown', (e) => {
    if (e.code === 'Enter' && document.activeElement !== input) {
      e.preventDefault();
      input.focus();
    }
  });
  input.addEventListener('keydown', (e) => {
    if (e.code === 'Escape') input.blur();
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const text = input.value.trim();
    if (text) client.sendChat(text);
    input.value = '';
    input.blur();
  });
}
