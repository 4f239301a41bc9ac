import { accessSync, constants, existsSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { BUILTIN_DRAIN_PREFIX, DEFAULT_MAX_EVENT, defaultNodeId, didYouMean, drainNameProblem, formatNameProblem, isBuiltinDrainName, KEY_SEGMENT_RE, keyProblem, parseSize } from '@logyard/bus';
import { parseEtcdUri } from '@logyard/store/etcd-uri';
import { ConfigError, ConfigProblemsError } from './errors.js';
import { readYamlSource, type KeyPath } from './yaml-source.js';

/** The config file read when neither --config nor LOGYARD_CONFIG names one, if it exists. */
export const SYSTEM_CONFIG_FILE = '/etc/logyard/logyard.yaml';

export const CLIENT_NAMES = ['systail', 'apptail', 'events', 'receive', 'journal'] as const;
export type ClientName = (typeof CLIENT_NAMES)[number];

export const SEVERITIES = ['INFO', 'WARNING', 'ERROR'] as const;
export type Severity = (typeof SEVERITIES)[number];

export const APP_LOG_FORMATS = ['plain', 'docker-json'] as const;
export type AppLogFormat = (typeof APP_LOG_FORMATS)[number];

/** The global command-line flags (docs/cli.md); each wins over its environment variable. */
export interface GlobalOptions {
  config?: string;
  store?: string;
  runDir?: string;
  stateDir?: string;
  nodeId?: string;
  status?: string;
}

export interface EventRule {
  /** A cheap pre-check: lines without it are not matched against `regex`. */
  substring?: string;
  regex: string;
  /** The event's `desc`, with `$1`... replaced by the regex's groups. */
  format: string;
  severity: Severity;
}

export interface AppLogPattern {
  /** Absolute path with `{app_id}`, `{app_name}`, `{instance_index}` and `{source}` placeholders. */
  path: string;
  format: AppLogFormat;
}

/** The effective configuration: every value set, every path absolute. */
export interface LogyardConfig {
  /** The file that was read (absolute), if any. */
  configFile?: string;
  nodeId: string;
  runDir: string;
  stateDir: string;
  /** `file://<absolute dir>`, `etcd://...` or `etcds://...`. */
  store: string;
  /** `host:port` of the TCP status API, or `off`. */
  status: string;
  clients: ClientName[];
  fileDrainRoots: string[];
  /** How often disk buffers are synced, in ms, or after every write (`disk_sync`, default 1s). */
  diskSync: number | 'always';
  formats: Record<string, string>;
  builtinDrains: Record<string, string>;
  systail: { maxLine: number; files: Record<string, string> };
  apptail: { rate: number; burst: number; patterns: AppLogPattern[] };
  /** Rules by systail name (or `__all__`), then by event type. */
  events: { rules: Record<string, Record<string, EventRule>> };
  /** `gelf`: Docker's gelf log driver and Graylog's format, on udp:// or tcp:// listeners. */
  /** `inCore`: the core runs the receivers itself (docs/receive.md, in the core), not a `receive` process. */
  /** `udpBuffer`: the receive buffer each udp listener asks of the kernel, in bytes (docs/receive.md, UDP receive buffer). */
  receive: { syslog: string[]; json: string[]; gelf: string[]; jsonKeyPrefix: string; rate: number; burst: number; inCore: boolean; udpBuffer: number };
  /** docs/clients.md, journal. `units`: globs; `directory`: a journal directory instead of the system's journal. */
  journal: { units: string[]; rate: number; burst: number; directory?: string };
  /** The largest event in bytes, on every path into the bus (docs/configuration.md, max_event). */
  maxEvent: number;
  /** `host:port` of the drains API for tenants (docs/tenants.md), or `off`. */
  api: string;
  /** Certificate and key (PEM files) of the drains API: HTTPS when set. */
  apiTls?: { cert: string; key: string };
}

const TOP_LEVEL_KEYS = [
  'node_id', 'run_dir', 'state_dir', 'store', 'status', 'clients', 'file_drain_roots', 'disk_sync',
  'formats', 'builtin_drains', 'systail', 'apptail', 'events', 'receive', 'journal', 'max_event', 'api', 'api_tls',
] as const;
const API_TLS_KEYS = ['cert', 'key'] as const;
const SYSTAIL_KEYS = ['max_line', 'files'] as const;
const APPTAIL_KEYS = ['rate', 'burst', 'patterns'] as const;
const APPTAIL_PATTERN_KEYS = ['path', 'format'] as const;
const APPTAIL_PLACEHOLDERS = ['app_id', 'app_name', 'instance_index', 'source'];
const EVENTS_KEYS = ['rules'] as const;
const EVENT_RULE_KEYS = ['substring', 'regex', 'format', 'severity'] as const;
const RECEIVE_KEYS = ['syslog', 'json', 'gelf', 'json_key_prefix', 'rate', 'burst', 'in_core', 'udp_buffer'] as const;
const JOURNAL_KEYS = ['units', 'rate', 'burst', 'directory'] as const;

/** Formats the drains define themselves; a config format of that name could never be used. */
const BUILTIN_FORMAT_NAMES = ['json', 'raw'];
/** A systail name is one key segment; `*` marks a glob entry whose files name themselves. */
const SYSTAIL_NAME_RE = /^[A-Za-z0-9_:*-]+$/;
const HOST_PORT_RE = /^(?:\[[0-9A-Fa-f:.]+\]|[^\s:[\]/]+):([0-9]+)$/;
const URI_SCHEME_RE = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//;

/**
 * The effective configuration (docs/cli.md and docs/configuration.md): each of the global settings comes from its
 * flag, else its environment variable, else the config file, else its default; everything else
 * from the config file or its default. Throws ConfigError naming the source, the key and the problem.
 *
 * @param systemConfigFile read when no file is named and it exists; tests point it elsewhere.
 */
export function loadConfig(
  flags: GlobalOptions,
  env: NodeJS.ProcessEnv = process.env,
  systemConfigFile: string = SYSTEM_CONFIG_FILE,
): LogyardConfig {
  const checked = checkConfig(flags, env, systemConfigFile);
  if (checked.problems.length > 0) throw new ConfigProblemsError(checked.problems);
  return checked.config;
}

/** A config read as far as it goes: every problem found (none: `config` is what `start` uses). */
export interface CheckedConfig {
  config: LogyardConfig;
  problems: ConfigError[];
  /** The file as it was named, if one was read. */
  shownFile?: string;
  /** A problem of the file's key at `path`, for checks made outside this package (ports, files). */
  problemAt(path: KeyPath, problem: string): ConfigError;
}

/**
 * Like loadConfig, but goes on past a bad value (using its default) to find every problem, as
 * `logyard config check` reports them. A file that cannot be parsed is one problem, alone.
 */
export function checkConfig(
  flags: GlobalOptions,
  env: NodeJS.ProcessEnv = process.env,
  systemConfigFile: string = SYSTEM_CONFIG_FILE,
): CheckedConfig {
  const cwd = process.cwd();
  const problems: ConfigError[] = [];
  let chosen: { path: string; shown: string } | undefined;
  let fileContent: Mapping = {};
  let lineOf: (path: KeyPath) => number | undefined = () => undefined;
  try {
    chosen = chooseConfigFile(flags, env, systemConfigFile, cwd);
    if (chosen !== undefined) {
      const source = readYamlSource(chosen.path, chosen.shown);
      lineOf = source.lineOf;
      fileContent = asTopMapping(source.content, chosen.shown);
    }
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    problems.push(err);
    chosen = undefined;
  }
  const configFile = chosen?.path;
  // Without a file, nothing is read from it, so this origin never appears in an error.
  const file: Origin = { source: chosen?.shown ?? 'config', path: [], baseDir: configFile === undefined ? cwd : dirname(configFile), lineOf };
  const config = collectingProblems(problems, () => readAll(flags, env, cwd, fileContent, file, configFile));
  problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
  return {
    config,
    problems,
    ...(chosen ? { shownFile: chosen.shown } : {}),
    problemAt: (path, problem) => problemOf(childAt(file, path), problem),
  };
}

function readAll(flags: GlobalOptions, env: NodeJS.ProcessEnv, cwd: string, fileContent: Mapping, file: Origin, configFile: string | undefined): LogyardConfig {
  checkKnownKeys(fileContent, file, TOP_LEVEL_KEYS);

  /** A global setting: the flag, else the environment variable, else the file's key. */
  const layered = (flagValue: string | undefined, flag: string, variable: string, key: string): [unknown, Origin] => {
    if (flagValue !== undefined) return [flagValue, { source: flag, path: [], baseDir: cwd }];
    const fromEnv = env[variable];
    // An empty variable counts as unset, as shells make it easy to export one by accident.
    if (fromEnv) return [fromEnv, { source: variable, path: [], baseDir: cwd }];
    return [fileContent[key], child(file, key)];
  };

  const stateDir = guard(() => readPath(...layered(flags.stateDir, '--state-dir', 'LOGYARD_STATE_DIR', 'state_dir')), undefined) ?? defaultStateDir(env);
  const fileDrainRoots = guard(() => readList(fileContent.file_drain_roots, child(file, 'file_drain_roots'), requirePath), undefined);

  return {
    ...(configFile === undefined ? {} : { configFile }),
    nodeId: guard(() => readNodeId(...layered(flags.nodeId, '--node-id', 'LOGYARD_NODE_ID', 'node_id')), undefined) ?? defaultNodeId(),
    runDir: guard(() => readPath(...layered(flags.runDir, '--run-dir', 'LOGYARD_RUN_DIR', 'run_dir')), undefined) ?? defaultRunDir(env),
    stateDir,
    store: guard(() => readStore(...layered(flags.store, '--store', 'LOGYARD_STORE', 'store')), undefined) ?? `file://${join(stateDir, 'store')}`,
    status: guard(() => readStatus(...layered(flags.status, '--status', 'LOGYARD_STATUS', 'status')), undefined) ?? '127.0.0.1:8891',
    clients: guard(() => readClients(fileContent.clients, child(file, 'clients')), []),
    fileDrainRoots: fileDrainRoots ?? [join(stateDir, 'files'), '/var/log/logyard'],
    diskSync: guard(() => readDiskSync(fileContent.disk_sync, child(file, 'disk_sync')), undefined) ?? 1000,
    formats: guard(() => readFormats(fileContent.formats, child(file, 'formats')), {}),
    builtinDrains: guard(() => readBuiltinDrains(fileContent.builtin_drains, child(file, 'builtin_drains')), {}),
    systail: guard(() => readSystail(fileContent.systail, child(file, 'systail')), { maxLine: 4096, files: {} }),
    apptail: guard(() => readApptail(fileContent.apptail, child(file, 'apptail')), { rate: 100, burst: 10_000, patterns: [] }),
    events: guard(() => readEvents(fileContent.events, child(file, 'events')), { rules: {} }),
    receive: guard(() => readReceive(fileContent.receive, child(file, 'receive')), { syslog: [], json: [], gelf: [], jsonKeyPrefix: 'app', rate: 1000, burst: 5000, inCore: false, udpBuffer: DEFAULT_UDP_BUFFER }),
    journal: guard(() => readJournal(fileContent.journal, child(file, 'journal')), { units: ['*'], rate: 1000, burst: 5000 }),
    maxEvent: guard(() => readSize(fileContent.max_event, child(file, 'max_event'), MAX_EVENT_RANGE), undefined) ?? DEFAULT_MAX_EVENT,
    ...readApi(fileContent, file),
  };
}

/**
 * `api` (host:port or off) and `api_tls` ({cert, key}): HTTPS with api_tls; without it plain HTTP,
 * which carries tenants' tokens in clear, so only on a loopback address.
 */
function readApi(fileContent: Mapping, file: Origin): Pick<LogyardConfig, 'api' | 'apiTls'> {
  const apiTls = guard(() => readApiTls(fileContent.api_tls, child(file, 'api_tls')), undefined);
  const api = guard(() => readApiAddress(fileContent.api, child(file, 'api'), apiTls !== undefined), undefined) ?? 'off';
  return { api, ...(apiTls ? { apiTls } : {}) };
}

function readApiAddress(value: unknown, origin: Origin, tls: boolean): string | undefined {
  // YAML reads a bare `off` as the boolean false.
  if (value === false) return 'off';
  const address = readStatus(value, origin);
  if (address === undefined || address === 'off' || tls) return address;
  const host = address.slice(0, address.lastIndexOf(':')).replace(/^\[|\]$/g, '');
  if (!isLoopbackHost(host)) fail(origin, `plain HTTP is served only on loopback (127.0.0.1, ::1, localhost); set api_tls: {cert, key} to serve ${address} over HTTPS`);
  return address;
}

function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.[0-9]+\.[0-9]+\.[0-9]+$/.test(host);
}

function readApiTls(value: unknown, origin: Origin): { cert: string; key: string } | undefined {
  if (value === false || value === 'off') return undefined;
  const mapping = readMapping(value, origin, API_TLS_KEYS);
  if (mapping === undefined) return undefined;
  const readable = (key: string): string => {
    const path = requirePath(mapping[key], child(origin, key));
    try {
      accessSync(path, constants.R_OK);
    } catch (err) {
      fail(child(origin, key), `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    return path;
  };
  return { cert: readable('cert'), key: readable('key') };
}

/**
 * Problems found while reading go here instead of being thrown, when a collector is set: each
 * reader stays a plain function that throws its first problem, and `guard` around a value (a key,
 * a list item, a named entry) records it and goes on with a default, so one bad value hides no other.
 */
let collected: ConfigError[] | null = null;

function collectingProblems<T>(into: ConfigError[], read: () => T): T {
  const outer = collected;
  collected = into;
  try {
    return read();
  } finally {
    collected = outer;
  }
}

function guard<T>(read: () => T, fallback: T): T {
  if (collected === null) return read();
  try {
    return read();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    collected.push(err);
    return fallback;
  }
}

function asTopMapping(content: unknown, shown: string): Mapping {
  if (content == null) return {}; // an empty file, or one with only comments
  if (!isMapping(content)) throw new ConfigError(shown, undefined, 'must be a YAML mapping of keys such as "store: ..."');
  return content;
}

function defaultRunDir(env: NodeJS.ProcessEnv): string {
  const runtimeDir = env.XDG_RUNTIME_DIR;
  // The XDG spec says relative values are invalid and must be ignored.
  if (runtimeDir && isAbsolute(runtimeDir)) return join(runtimeDir, 'logyard');
  // Root gets a directory no other user can create first (/tmp is writable by everyone).
  const uid = process.getuid?.();
  if (uid === 0) return '/run/logyard';
  return `/tmp/logyard-${uid ?? userInfo().username}`;
}

function defaultStateDir(env: NodeJS.ProcessEnv): string {
  const stateHome = env.XDG_STATE_HOME;
  if (stateHome && isAbsolute(stateHome)) return join(stateHome, 'logyard');
  return join(env.HOME || homedir(), '.local', 'state', 'logyard');
}

function chooseConfigFile(flags: GlobalOptions, env: NodeJS.ProcessEnv, systemConfigFile: string, cwd: string): { path: string; shown: string } | undefined {
  const named =
    flags.config !== undefined ? { path: flags.config, by: '--config' }
    : env.LOGYARD_CONFIG ? { path: env.LOGYARD_CONFIG, by: 'LOGYARD_CONFIG' }
    : undefined;
  if (named === undefined) return existsSync(systemConfigFile) ? { path: systemConfigFile, shown: systemConfigFile } : undefined;
  if (named.path === '') throw new ConfigError(named.by, undefined, 'must not be empty');
  const path = resolve(cwd, named.path);
  if (!existsSync(path)) throw new ConfigError(named.path, undefined, `does not exist (named by ${named.by})`);
  return { path, shown: named.path };
}

type Mapping = Record<string, unknown>;

function isMapping(value: unknown): value is Mapping {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Where a value came from: named in errors, and the directory its relative paths start from. */
interface Origin {
  source: string;
  key?: string;
  /** The key's place in the file, for its line. */
  path: KeyPath;
  baseDir: string;
  lineOf?: (path: KeyPath) => number | undefined;
}

function child(parent: Origin, name: string | number): Origin {
  const part = typeof name === 'number' ? `[${name}]` : name;
  const key = parent.key === undefined ? part : typeof name === 'number' ? parent.key + part : `${parent.key}.${part}`;
  return { ...parent, key, path: [...parent.path, name] };
}

function childAt(origin: Origin, path: KeyPath): Origin {
  return path.reduce<Origin>((o, name) => child(o, name), origin);
}

function problemOf(origin: Origin, problem: string): ConfigError {
  const line = origin.lineOf?.(origin.path);
  return new ConfigError(origin.source, origin.key, problem, line === undefined ? {} : { line });
}

function fail(origin: Origin, problem: string): never {
  throw problemOf(origin, problem);
}

// The readers below return undefined for an absent or null value: `key:` with nothing after it
// (say, everything below it commented out) means "use the default", as in the shipped config.

function checkKnownKeys(mapping: Mapping, origin: Origin, known: readonly string[]): void {
  for (const key of Object.keys(mapping)) {
    if (!known.includes(key)) guard(() => fail(child(origin, key), unknownKeyProblem(key, known)), undefined);
  }
}

function unknownKeyProblem(key: string, known: readonly string[]): string {
  const hint = didYouMean(key, known);
  return hint ? `unknown key; ${hint}` : `unknown key (expected one of: ${known.join(', ')})`;
}

function readMapping(value: unknown, origin: Origin, knownKeys?: readonly string[]): Mapping | undefined {
  if (value == null) return undefined;
  if (!isMapping(value)) fail(origin, 'must be a mapping');
  if (knownKeys) checkKnownKeys(value, origin, knownKeys);
  return value;
}

function readString(value: unknown, origin: Origin): string | undefined {
  if (value == null) return undefined;
  if (typeof value !== 'string') fail(origin, 'must be a string');
  if (value === '') fail(origin, 'must not be empty');
  return value;
}

function requireString(value: unknown, origin: Origin): string {
  if (value === undefined) fail(origin, 'is required');
  return readString(value, origin) ?? fail(origin, 'must not be empty');
}

function readPath(value: unknown, origin: Origin): string | undefined {
  const path = readString(value, origin);
  return path === undefined ? undefined : resolve(origin.baseDir, path);
}

function requirePath(value: unknown, origin: Origin): string {
  return resolve(origin.baseDir, requireString(value, origin));
}

function readList<T>(value: unknown, origin: Origin, readItem: (item: unknown, origin: Origin) => T): T[] | undefined {
  if (value == null) return undefined;
  if (!Array.isArray(value)) fail(origin, 'must be a list');
  const items: T[] = [];
  value.forEach((item, index) => guard(() => items.push(readItem(item, child(origin, index))), 0));
  return items;
}

function readPositiveInteger(value: unknown, origin: Origin): number | undefined {
  if (value == null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) fail(origin, 'must be a positive integer');
  return value;
}

function readPositiveNumber(value: unknown, origin: Origin): number | undefined {
  if (value == null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) fail(origin, 'must be a positive number');
  return value;
}

/** `disk_sync`: `always`, or an interval such as `1s`, `500ms`, `2m` (ms returned). */
function readDiskSync(value: unknown, origin: Origin): number | 'always' | undefined {
  if (value == null) return undefined;
  if (value === 'always') return 'always';
  const match = typeof value === 'string' ? /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(value) : null;
  const ms = match ? Number(match[1]) * { ms: 1, s: 1000, m: 60_000 }[match[2] as 'ms' | 's' | 'm'] : NaN;
  if (!(ms >= 1)) fail(origin, 'must be "always" or an interval such as 1s, 500ms or 2m');
  return Math.round(ms);
}

/** max_event: at least room for an event's stamped fields, at most what one ZeroMQ message should carry. */
const MAX_EVENT_RANGE = { min: 1024, max: 64 * 1024 * 1024 };

/**
 * receive.udp_buffer: 8 MiB holds about 20,000 datagrams of 170 bytes (the kernel counts about
 * 830 bytes for each, its bookkeeping included), a tenth of a second at 200,000 datagrams/s.
 */
export const DEFAULT_UDP_BUFFER = 8 * 1024 * 1024;
/** SO_RCVBUF is an int the kernel doubles. */
const UDP_BUFFER_RANGE = { min: 64 * 1024, max: 1024 * 1024 * 1024 };

/** A size: a number of bytes, or a string such as `512KiB` or `1MiB` (bus parseSize). */
function readSize(value: unknown, origin: Origin, range: { min: number; max: number }): number | undefined {
  if (value == null) return undefined;
  const bytes = typeof value === 'number' ? value : typeof value === 'string' ? parseSize(value) : undefined;
  if (bytes === undefined || !Number.isInteger(bytes)) fail(origin, `must be a size such as 1MiB, 512KiB or 65536 (bytes), not ${JSON.stringify(value)}`);
  if (bytes < range.min || bytes > range.max) fail(origin, `must be between ${range.min / 1024}KiB and ${range.max / 1024 / 1024}MiB`);
  return bytes;
}

function readNodeId(value: unknown, origin: Origin): string | undefined {
  const nodeId = readString(value, origin);
  // The node_id ends systail keys and names the node's entries in the store.
  const problem = nodeId === undefined ? null : keyProblem(nodeId);
  if (problem) fail(origin, `must be usable in a key: ${problem}`);
  return nodeId;
}

function readStore(value: unknown, origin: Origin): string | undefined {
  const uri = readString(value, origin);
  if (uri === undefined) return undefined;
  if (uri.startsWith('file://')) {
    const dir = uri.slice('file://'.length);
    if (dir === '') fail(origin, 'file:// must be followed by a directory');
    return `file://${resolve(origin.baseDir, dir)}`;
  }
  // The value is not echoed: an etcd URI may hold a password.
  if (!uri.startsWith('etcd://') && !uri.startsWith('etcds://')) fail(origin, 'must start with file://, etcd:// or etcds://');
  try {
    parseEtcdUri(uri);
  } catch (err) {
    fail(origin, (err as Error).message);
  }
  return uri;
}

function readStatus(value: unknown, origin: Origin): string | undefined {
  const address = readString(value, origin);
  if (address === undefined || address === 'off') return address;
  const problem = hostPortProblem(address);
  if (problem) fail(origin, `must be "off" or host:port: ${problem}`);
  return address;
}

function hostPortProblem(address: string): string | null {
  const match = HOST_PORT_RE.exec(address);
  if (!match) return `"${address}" is not host:port`;
  const port = Number(match[1]);
  if (port < 1 || port > 65535) return `port ${match[1]} is not between 1 and 65535`;
  return null;
}

function readClients(value: unknown, origin: Origin): ClientName[] {
  const names = readList(value, origin, requireString) ?? [];
  names.forEach((name, index) => {
    if (!(CLIENT_NAMES as readonly string[]).includes(name)) {
      fail(child(origin, index), `unknown client "${name}" (expected one of: ${CLIENT_NAMES.join(', ')})`);
    }
    if (names.indexOf(name) !== index) fail(child(origin, index), `"${name}" is listed twice`);
  });
  return names as ClientName[];
}

/** A mapping of names to values, each name checked by `nameProblem`, each value read by `readValue`. */
function readNamedValues<T>(
  value: unknown,
  origin: Origin,
  nameProblem: (name: string) => string | null,
  readValue: (value: unknown, origin: Origin) => T,
): Record<string, T> {
  const mapping = readMapping(value, origin) ?? {};
  const result: Record<string, T> = {};
  for (const [name, item] of Object.entries(mapping)) {
    const itemOrigin = child(origin, name);
    guard(() => {
      const problem = nameProblem(name);
      if (problem) fail(itemOrigin, problem);
      result[name] = readValue(item, itemOrigin);
    }, undefined);
  }
  return result;
}

function readFormats(value: unknown, origin: Origin): Record<string, string> {
  const nameProblem = (name: string): string | null => {
    const problem = formatNameProblem(name);
    if (problem) return problem;
    if (BUILTIN_FORMAT_NAMES.includes(name)) return `"${name}" is a built-in format and cannot be redefined`;
    return null;
  };
  return readNamedValues(value, origin, nameProblem, requireString);
}

function readBuiltinDrains(value: unknown, origin: Origin): Record<string, string> {
  const nameProblem = (name: string): string | null => {
    if (!isBuiltinDrainName(name) || name === BUILTIN_DRAIN_PREFIX) return `a builtin drain name must start with "${BUILTIN_DRAIN_PREFIX}" and go on`;
    return drainNameProblem(name);
  };
  const readUri = (uri: unknown, uriOrigin: Origin): string => {
    const text = requireString(uri, uriOrigin);
    // The rest of the URI is the drains' to check; the value is not echoed as it may hold a password.
    if (!URI_SCHEME_RE.test(text)) fail(uriOrigin, 'must be a drain URI such as redis://host:port/?filter=...');
    return text;
  };
  return readNamedValues(value, origin, nameProblem, readUri);
}

function readSystail(value: unknown, origin: Origin): LogyardConfig['systail'] {
  const section = readMapping(value, origin, SYSTAIL_KEYS) ?? {};
  const nameProblem = (name: string): string | null =>
    SYSTAIL_NAME_RE.test(name) ? null : 'a systail name may only contain [A-Za-z0-9_:-] (and * for a glob)';
  return {
    maxLine: guard(() => readPositiveInteger(section.max_line, child(origin, 'max_line')), undefined) ?? 4096,
    files: guard(() => readNamedValues(section.files, child(origin, 'files'), nameProblem, requirePath), {}),
  };
}

function readApptail(value: unknown, origin: Origin): LogyardConfig['apptail'] {
  const section = readMapping(value, origin, APPTAIL_KEYS) ?? {};
  return {
    rate: guard(() => readPositiveNumber(section.rate, child(origin, 'rate')), undefined) ?? 100,
    burst: guard(() => readPositiveInteger(section.burst, child(origin, 'burst')), undefined) ?? 10_000,
    patterns: guard(() => readList(section.patterns, child(origin, 'patterns'), readAppLogPattern), undefined) ?? [],
  };
}

function readAppLogPattern(value: unknown, origin: Origin): AppLogPattern {
  const pattern = readMapping(value, origin, APPTAIL_PATTERN_KEYS) ?? fail(origin, 'must be a mapping with path and format');
  const pathOrigin = child(origin, 'path');
  const path = requirePath(pattern.path, pathOrigin);
  const placeholders = [...path.matchAll(/\{([^}]*)\}/g)].map((match) => match[1]);
  for (const placeholder of placeholders) {
    if (!APPTAIL_PLACEHOLDERS.includes(placeholder)) {
      fail(pathOrigin, `unknown placeholder {${placeholder}} (expected {${APPTAIL_PLACEHOLDERS.join('}, {')}})`);
    }
  }
  // apptail keys are apptail.<app_id>, so every matched file must tell its app.
  if (!placeholders.includes('app_id')) fail(pathOrigin, 'must contain {app_id}');
  const formatOrigin = child(origin, 'format');
  const format = readString(pattern.format, formatOrigin) ?? 'plain';
  if (!(APP_LOG_FORMATS as readonly string[]).includes(format)) {
    fail(formatOrigin, `must be one of: ${APP_LOG_FORMATS.join(', ')}`);
  }
  return { path, format: format as AppLogFormat };
}

function readEvents(value: unknown, origin: Origin): LogyardConfig['events'] {
  const section = readMapping(value, origin, EVENTS_KEYS) ?? {};
  const groupProblem = (name: string): string | null =>
    KEY_SEGMENT_RE.test(name) ? null : 'must be __all__ or a systail name ([A-Za-z0-9_:-])';
  const typeProblem = (type: string): string | null => {
    const problem = keyProblem(`event.${type}`);
    return problem && `an event type must make a valid key event.<type>: ${problem}`;
  };
  const readRules = (rules: unknown, rulesOrigin: Origin): Record<string, EventRule> =>
    readNamedValues(rules, rulesOrigin, typeProblem, readEventRule);
  return { rules: readNamedValues(section.rules, child(origin, 'rules'), groupProblem, readRules) };
}

function readEventRule(value: unknown, origin: Origin): EventRule {
  const rule = readMapping(value, origin, EVENT_RULE_KEYS) ?? fail(origin, 'must be a mapping with regex and format');
  const regexOrigin = child(origin, 'regex');
  const regex = requireString(rule.regex, regexOrigin);
  try {
    new RegExp(regex);
  } catch (err) {
    fail(regexOrigin, `is not a valid regular expression: ${(err as Error).message}`);
  }
  const severityOrigin = child(origin, 'severity');
  const severity = readString(rule.severity, severityOrigin) ?? 'INFO';
  if (!(SEVERITIES as readonly string[]).includes(severity)) fail(severityOrigin, `must be one of: ${SEVERITIES.join(', ')}`);
  const substring = readString(rule.substring, child(origin, 'substring'));
  return {
    ...(substring === undefined ? {} : { substring }),
    regex,
    format: requireString(rule.format, child(origin, 'format')),
    severity: severity as Severity,
  };
}

function readReceive(value: unknown, origin: Origin): LogyardConfig['receive'] {
  const section = readMapping(value, origin, RECEIVE_KEYS) ?? {};
  const prefixOrigin = child(origin, 'json_key_prefix');
  const jsonKeyPrefix = guard(() => {
    const prefix = readString(section.json_key_prefix, prefixOrigin) ?? 'app';
    const prefixProblem = keyProblem(prefix);
    if (prefixProblem) fail(prefixOrigin, `must be a valid key: ${prefixProblem}`);
    return prefix;
  }, 'app');
  return {
    syslog: guard(() => readList(section.syslog, child(origin, 'syslog'), readListenAddress), undefined) ?? [],
    json: guard(() => readList(section.json, child(origin, 'json'), readListenAddress), undefined) ?? [],
    gelf: guard(() => readList(section.gelf, child(origin, 'gelf'), readNetworkListenAddress), undefined) ?? [],
    jsonKeyPrefix,
    rate: guard(() => readPositiveNumber(section.rate, child(origin, 'rate')), undefined) ?? 1000,
    burst: guard(() => readPositiveInteger(section.burst, child(origin, 'burst')), undefined) ?? 5000,
    inCore: guard(() => readBoolean(section.in_core, child(origin, 'in_core')), undefined) ?? false,
    udpBuffer: guard(() => readSize(section.udp_buffer, child(origin, 'udp_buffer'), UDP_BUFFER_RANGE), undefined) ?? DEFAULT_UDP_BUFFER,
  };
}

function readBoolean(value: unknown, origin: Origin): boolean | undefined {
  if (value == null) return undefined;
  if (typeof value !== 'boolean') fail(origin, 'must be true or false');
  return value;
}

function readJournal(value: unknown, origin: Origin): LogyardConfig['journal'] {
  const section = readMapping(value, origin, JOURNAL_KEYS) ?? {};
  const directory = guard(() => readPath(section.directory, child(origin, 'directory')), undefined);
  return {
    units: guard(() => readList(section.units, child(origin, 'units'), readUnitGlob), undefined) ?? ['*'],
    rate: guard(() => readPositiveNumber(section.rate, child(origin, 'rate')), undefined) ?? 1000,
    burst: guard(() => readPositiveInteger(section.burst, child(origin, 'burst')), undefined) ?? 5000,
    ...(directory === undefined ? {} : { directory }),
  };
}

/** A glob of unit names: what systemd allows in a unit name, plus the glob characters. */
function readUnitGlob(value: unknown, origin: Origin): string {
  const glob = requireString(value, origin);
  if (/[\s/]/.test(glob)) fail(origin, `"${glob}" is not a unit name or glob (such as nginx.service, nginx or web-*): no spaces or slashes`);
  return glob;
}

/** `udp://host:port` or `tcp://host:port`: GELF has no unix socket form. */
function readNetworkListenAddress(value: unknown, origin: Origin): string {
  const address = requireString(value, origin);
  if (!/^(udp|tcp):\/\//.test(address)) fail(origin, `must be udp://host:port or tcp://host:port, not "${address}"`);
  return readListenAddress(address, origin);
}

/** `udp://host:port`, `tcp://host:port`, `unix://<path>` or `unixgram://<path>` (paths made absolute). */
function readListenAddress(value: unknown, origin: Origin): string {
  const address = requireString(value, origin);
  const match = /^(udp|tcp|unix|unixgram):\/\/(.*)$/.exec(address);
  if (!match) fail(origin, `must be udp://host:port, tcp://host:port, unix://path or unixgram://path, not "${address}"`);
  const [, scheme, rest] = match;
  if (scheme === 'unix' || scheme === 'unixgram') {
    if (rest === '') fail(origin, `${scheme}:// must be followed by a socket path`);
    return `${scheme}://${resolve(origin.baseDir, rest)}`;
  }
  const problem = hostPortProblem(rest);
  if (problem) fail(origin, problem);
  return address;
}
