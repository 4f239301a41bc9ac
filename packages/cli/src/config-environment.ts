import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { nodeFormats, type CheckedConfig, type LogyardConfig } from '@logyard/config';
import { DrainUriError, fileDrainPathProblem, parseDrainUri, UNKNOWN_FORMAT } from '@logyard/drains';
import { isProcessAlive } from '@logyard/core';

/** A problem found in the machine rather than in the file, at the file's key path. */
export interface EnvironmentProblem {
  path: Array<string | number>;
  problem: string;
}

/**
 * What `start` would refuse that only the machine can tell: listeners that cannot bind (a port
 * taken, an address not this machine's), files that cannot be read, file roots that are not
 * directories, built-in drains whose URI is bad or whose file path is outside the roots, a
 * journal directory that cannot be read, the journal client without journalctl.
 * `storeFormats` names the formats the store holds (null when it could not be asked).
 */
export async function checkEnvironment(config: LogyardConfig, storeFormats: Record<string, string> | null): Promise<EnvironmentProblem[]> {
  const problems: EnvironmentProblem[] = [];
  const held = listenersOfRunningReceiver(config.runDir);
  for (const kind of ['syslog', 'json', 'gelf'] as const) {
    for (const [index, uri] of config.receive[kind].entries()) {
      const problem = await listenerProblem(uri, held);
      if (problem) problems.push({ path: ['receive', kind, index], problem });
    }
  }
  config.fileDrainRoots.forEach((root, index) => {
    const problem = directoryProblem(root);
    if (problem) problems.push({ path: ['file_drain_roots', index], problem });
  });
  for (const [name, path] of Object.entries(config.systail.files)) {
    if (name.includes('*')) continue; // a glob: files come and go
    const problem = readableProblem(path);
    if (problem) problems.push({ path: ['systail', 'files', name], problem });
  }
  // The journal package is loaded only for a config that uses it.
  const journal = config.journal.directory !== undefined || config.clients.includes('journal') ? await import('@logyard/journal') : null;
  if (journal && config.journal.directory !== undefined) {
    const problem = journal.journalDirectoryProblem(config.journal.directory);
    if (problem) problems.push({ path: ['journal', 'directory'], problem });
  }
  const journalClient = config.clients.indexOf('journal');
  if (journal && journalClient >= 0) {
    const problem = journal.journalctlProblem();
    if (problem) problems.push({ path: ['clients', journalClient], problem });
  }
  for (const [name, uri] of Object.entries(config.builtinDrains)) {
    const problem = await builtinDrainProblem(uri, config, storeFormats);
    if (problem) problems.push({ path: ['builtin_drains', name], problem });
  }
  return problems;
}

/** Problems of the environment as config problems, each at its key's line. */
export function asConfigProblems(checked: CheckedConfig, found: EnvironmentProblem[]): ReturnType<CheckedConfig['problemAt']>[] {
  return found.map((p) => checked.problemAt(p.path, p.problem));
}

async function builtinDrainProblem(uri: string, config: LogyardConfig, storeFormats: Record<string, string> | null): Promise<string | null> {
  let spec;
  try {
    spec = parseDrainUri(uri, { formats: nodeFormats(config, storeFormats ?? {}) });
  } catch (err) {
    if (!(err instanceof DrainUriError)) throw err;
    // Without the store, a format it may hold cannot be ruled out.
    if (storeFormats === null && err.message.includes(UNKNOWN_FORMAT)) return null;
    return err.message;
  }
  if (spec.scheme === 'file' && spec.path) return fileDrainPathProblem(spec.path, config.fileDrainRoots);
  if (spec.params.ca !== undefined) return readableProblem(spec.params.ca);
  return null;
}

function directoryProblem(path: string): string | null {
  try {
    if (!statSync(path).isDirectory()) return `"${path}" is not a directory`;
  } catch {
    // Missing: created by the first file drain that writes there.
  }
  return null;
}

function readableProblem(path: string): string | null {
  try {
    accessSync(path, constants.R_OK);
    if (statSync(path).isDirectory()) return `"${path}" is a directory, not a file`;
    return null;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null; // it may appear later; systail waits for it
    return `cannot read "${path}" (${code ?? (err as Error).message})`;
  }
}

/**
 * The listeners a receiver of this node holds now (from its counters file), so that checking
 * the config of a running node does not call its own ports taken.
 */
function listenersOfRunningReceiver(runDir: string): Set<string> {
  try {
    const stats = JSON.parse(readFileSync(join(runDir, 'clients', 'receive.json'), 'utf8')) as { pid?: number; listeners?: string[] };
    if (!stats.pid || !isProcessAlive(stats.pid)) return new Set();
    const uris = (stats.listeners ?? []).map((l) => l.slice(l.indexOf(' ') + 1));
    // By URI, and by scheme and port: the same port may be written localhost here and 127.0.0.1 there.
    return new Set([...uris, ...uris.map(schemeAndPort).filter((k): k is string => k !== null)]);
  } catch {
    return new Set();
  }
}

function schemeAndPort(uri: string): string | null {
  const match = /^(tcp|udp):\/\/.*:(\d+)$/.exec(uri);
  return match ? `${match[1]} port ${match[2]}` : null;
}

async function listenerProblem(uri: string, held: Set<string>): Promise<string | null> {
  const heldPort = schemeAndPort(uri);
  if (held.has(uri) || (heldPort !== null && held.has(heldPort))) return null;
  const [scheme, rest] = uri.split('://') as [string, string];
  if (scheme === 'unix' || scheme === 'unixgram') return directoryExists(dirname(rest));
  const at = rest.lastIndexOf(':');
  const host = rest.slice(0, at).replace(/^\[|\]$/g, '');
  const port = Number(rest.slice(at + 1));
  try {
    await (scheme === 'udp' ? bindUdp(host, port) : bindTcp(host, port));
    return null;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') return `port ${port} is taken (another program listens on ${uri})`;
    if (code === 'EADDRNOTAVAIL') return `${host} is not an address of this machine`;
    if (code === 'EACCES') return `permission denied to listen on port ${port} (below 1024 needs root or CAP_NET_BIND_SERVICE)`;
    if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `host ${host} cannot be resolved`;
    return `cannot listen on ${uri}: ${(err as Error).message}`;
  }
}

function directoryExists(dir: string): string | null {
  try {
    if (statSync(dir).isDirectory()) return null;
  } catch {
    // falls through
  }
  return `directory ${dir} does not exist`;
}

function bindTcp(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve()));
  });
}

async function bindUdp(host: string, port: number): Promise<void> {
  // node:dgram only for a config that listens on udp.
  const { createSocket } = await import('node:dgram');
  return new Promise((resolve, reject) => {
    const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    socket.once('error', (err) => {
      socket.close();
      reject(err);
    });
    socket.bind({ address: host, port, exclusive: true }, () => socket.close(() => resolve()));
  });
}
