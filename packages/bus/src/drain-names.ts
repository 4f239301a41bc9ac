/** Drains whose names start with this come from the config file (builtin_drains), never from the store. */
export const BUILTIN_DRAIN_PREFIX = 'builtin.';

/** Whether `name` is a built-in drain's: the config file defines it; the store and `drain add`/`delete` refuse it. */
export function isBuiltinDrainName(name: string): boolean {
  return name.startsWith(BUILTIN_DRAIN_PREFIX);
}
