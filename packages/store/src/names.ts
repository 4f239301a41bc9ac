import { drainNameProblem, formatNameProblem, isBuiltinDrainName, keyProblem } from '@logyard/bus';
import { InvalidNameError } from './errors.js';

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
  const problem = formatNameProblem(name);
  if (problem) throw new InvalidNameError(problem);
}

/** Node ids end event keys, so they follow the key rules (which also keep them safe as file names). */
export function assertNodeId(nodeId: string): void {
  const problem = keyProblem(nodeId);
  if (problem) throw new InvalidNameError(`node id "${nodeId}" is not usable: ${problem}`);
}
