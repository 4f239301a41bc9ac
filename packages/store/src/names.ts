import { isBuiltinDrainName, keyProblem } from '@logyard/bus';
import { InvalidNameError } from './errors.js';

export const MAX_DRAIN_NAME_BYTES = 128;
const NAME_RE = /^[A-Za-z0-9_.-]+$/;

/** Why `name` cannot be a drain name (docs/store.md), or null when it can. */
export function drainNameProblem(name: string): string | null {
  return nameProblem('drain', name, MAX_DRAIN_NAME_BYTES);
}


export function assertDrainName(name: string): void {
  const problem = drainNameProblem(name);
  if (problem) throw new InvalidNameError(problem);
}

/** A drain name that may be written to or deleted from the store. */
export function assertStoreDrainName(name: string): void {
  assertDrainName(name);
  if (isBuiltinDrainName(name)) throw new InvalidNameError(`drain "${name}" is builtin: builtin.* drains are defined by the config file`);
}

export function assertFormatName(name: string): void {
  const problem = nameProblem('format', name, MAX_DRAIN_NAME_BYTES);
  if (problem) throw new InvalidNameError(problem);
}

/** Node ids end event keys, so they follow the key rules (which also keep them safe as file names). */
export function assertNodeId(nodeId: string): void {
  const problem = keyProblem(nodeId);
  if (problem) throw new InvalidNameError(`node id "${nodeId}" is not usable: ${problem}`);
}

function nameProblem(kind: string, name: string, maxBytes: number): string | null {
  if (name === '') return `${kind} name is empty`;
  if (Buffer.byteLength(name) > maxBytes) return `${kind} name is longer than ${maxBytes} bytes`;
  if (!NAME_RE.test(name)) return `${kind} name "${name}" may only contain [A-Za-z0-9_.-]`;
  // Backends keep names as path segments (file names, etcd key segments), where these two are special.
  if (name === '.' || name === '..') return `${kind} name must not be "${name}"`;
  return null;
}
