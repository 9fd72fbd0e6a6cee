// Loading of the golden vectors the Rust side writes (tests/golden/), for the SDK's tests.
import { readFileSync } from 'node:fs';

/** Parses tests/golden/`name`. */
export function golden(name) {
  return JSON.parse(readFileSync(new URL(`../golden/${name}`, import.meta.url), 'utf8'));
}

/** A world (Map id → row) as the vectors write it: rows by ascending id, without kind codes. */
export function rowsOf(world) {
  return [...world.values()]
    .sort((a, b) => a.id - b.id)
    .map(({ id, kind, values, strings }) => ({ id, kind, values, strings }));
}

/**
 * A row flattened into one object of its fields, `{id, kind, ...values, ...strings}`: the form
 * of protocol.json's worlds, whose entities carry their fields by name.
 */
export function flat(row) {
  return { id: row.id, kind: row.kind, ...row.values, ...row.strings };
}
