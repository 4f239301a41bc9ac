/** Drains whose names start with this come from the config file (builtin_drains), never from the store. */
export const BUILTIN_DRAIN_PREFIX = 'builtin.';

/** Whether `name` is a built-in drain's: the config file defines it; the store and `drain add`/`delete` refuse it. */
export function isBuiltinDrainName(name: string): boolean {
  return name.startsWith(BUILTIN_DRAIN_PREFIX);
}

export const MAX_DRAIN_NAME_BYTES = 128;
const NAME_RE = /^[A-Za-z0-9_.-]+$/;

/** Why `name` cannot be a drain name (docs/store.md), or null when it can. */
export function drainNameProblem(name: string): string | null {
  return nameProblem('drain', name);
}

/** Why `name` cannot be a format name, or null when it can (the same rules as drain names). */
export function formatNameProblem(name: string): string | null {
  return nameProblem('format', name);
}

function nameProblem(kind: string, name: string): string | null {
  if (name === '') return `${kind} name is empty`;
  if (Buffer.byteLength(name) > MAX_DRAIN_NAME_BYTES) return `${kind} name is longer than ${MAX_DRAIN_NAME_BYTES} bytes`;
  if (!NAME_RE.test(name)) return `${kind} name "${name}" may only contain [A-Za-z0-9_.-]`;
  // Stores keep names as path segments (file names, etcd key segments), where these two are special.
  if (name === '.' || name === '..') return `${kind} name must not be "${name}"`;
  return null;
}
