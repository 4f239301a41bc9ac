import { filterProblem } from '@logyard/bus';
import { DrainUriError } from './errors.js';
import { formatProblem } from './formats.js';
import { isPositiveInteger, isPositiveRate, parseSize, safeDecode } from './params.js';
import type { DrainSpec, SchemeSyntax } from './scheme.js';
import { schemeOf, SCHEMES, TLS_SCHEMES } from './schemes/index.js';
import { TLS_PARAMS, tlsParamsProblem } from './stream.js';

export interface UriContext {
  /** Named formats of config and store (besides json, raw and the built-in ones). */
  formats: Record<string, string>;
  /** The drain's name when known: temporary (`tmp.`) drains refuse `disk`. */
  drainName?: string;
}

export const DEFAULT_BUFFER = 10_000;
/** docs/drains.md: `buffer` holds at most this many events. */
export const MAX_BUFFER = 10_000_000;
/** docs/drains.md, disk buffers: the smallest `disk`. */
export const MIN_DISK_BYTES = 16 * 2 ** 20;
/**
 * Params that are Logyard's own whatever the scheme (docs/drains.md): a scheme that passes the
 * others to its target (http) never passes these, and refuses those it does not take.
 */
const LOGYARD_PARAMS = new Set(['filter', 'format', 'buffer', 'disk', 'rate', 'burst', 'batch', 'ca', 'insecure']);
/** An HTTP path: RFC 3986 pchars, '/' and percent-escapes (checked separately). */
const PATH_RE = /^\/[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*$/;
/** A query piece passed to the target: RFC 3986 query characters and percent-escapes (checked separately). */
const QUERY_PIECE_RE = /^[A-Za-z0-9\-._~!$'()*+,;=:@/?%]*$/;
const HOST_RE = /^[A-Za-z0-9_.-]+$/;
const IPV6_RE = /^[0-9A-Fa-f:.]+$/;
const MAX_PORT = 65_535;

/**
 * Parses and validates a drain URI. Throws DrainUriError whose one-line message names the
 * offending part. Query values are percent-decoded; '+' is a plus, not a space, because
 * templates may contain one.
 */
export function parseDrainUri(uri: string, ctx: UriContext): DrainSpec {
  const schemeEnd = uri.indexOf('://');
  if (schemeEnd <= 0) throw uriError(`"${uri}" has no scheme (expected e.g. tcp://HOST:PORT)`);
  const scheme = uri.slice(0, schemeEnd).toLowerCase();
  const tls = TLS_SCHEMES.has(scheme);
  const syntax = schemeSyntax(scheme, tls);
  const rest = uri.slice(schemeEnd + 3);
  const queryStart = rest.indexOf('?');
  const target = queryStart < 0 ? rest : rest.slice(0, queryStart);
  const query = queryStart < 0 ? '' : rest.slice(queryStart + 1);

  const spec: DrainSpec = { uri, scheme, tls, filters: [], format: syntax.defaultFormat ?? 'json', buffer: DEFAULT_BUFFER, params: {} };
  let pathParamValue: string | undefined;
  if (syntax.target === 'file') spec.path = parseFilePath(target);
  else pathParamValue = parseNetworkTarget(scheme, syntax, target, spec);
  parseQuery(query, syntax, ctx, spec);

  if (pathParamValue !== undefined && syntax.pathParam) {
    const name = syntax.pathParam;
    const given = spec.params[name];
    if (given !== undefined && given !== pathParamValue) {
      throw uriError(`${name} given twice: path "/${pathParamValue}" and ${name}=${given}`);
    }
    if (!syntax.params[name](pathParamValue)) throw uriError(`bad ${name} path "/${pathParamValue}"`);
    spec.params[name] = pathParamValue;
  }
  if (spec.burst !== undefined && spec.rate === undefined) throw uriError('param "burst" needs "rate" (events/s)');
  // Without burst, one second's worth of events may pass at once.
  if (spec.rate !== undefined && spec.burst === undefined) spec.burst = Math.max(1, Math.ceil(spec.rate));
  const problem = syntax.check?.(spec);
  if (problem) throw uriError(problem);
  if (spec.diskBytes !== undefined && ctx.drainName?.startsWith('tmp.')) {
    throw uriError(`param "disk": temporary (tmp.) drains keep no disk buffer`);
  }
  return spec;
}

/**
 * The syntax of a scheme name as the parser applies it: a TLS variant adds the TLS params and
 * their check, and its own default port.
 */
function schemeSyntax(scheme: string, tls: boolean): SchemeSyntax {
  const syntax = schemeOf(scheme)?.syntax;
  if (!syntax) throw uriError(`unknown scheme "${scheme}" (known: ${Object.keys(SCHEMES).join(', ')})`);
  if (!tls) return syntax;
  const check = syntax.check;
  return {
    ...syntax,
    defaultPort: syntax.tlsDefaultPort ?? syntax.defaultPort,
    params: { ...syntax.params, ...TLS_PARAMS },
    check: (spec) => tlsParamsProblem(spec) ?? check?.(spec),
  };
}

function parseFilePath(target: string): string {
  if (target === '') throw uriError('file needs a path (file:///ABSOLUTE/PATH)');
  const path = decode(target);
  if (!path.startsWith('/')) throw uriError(`file path "${path}" must be absolute`);
  if (path.includes('\0')) throw uriError(`file path "${path}" contains a NUL byte`);
  const normalized = normalizeAbsolute(path);
  if (path.endsWith('/') || normalized === '/') throw uriError(`file path "${path}" names a directory, not a file`);
  return normalized;
}

/** Resolves `.`, `..` and repeated slashes of an absolute path, without touching the disk. */
function normalizeAbsolute(path: string): string {
  const segments: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  return '/' + segments.join('/');
}

/** Fills host, port and credentials; returns the value of a `/N` path when the scheme takes one. */
function parseNetworkTarget(scheme: string, syntax: SchemeSyntax, target: string, spec: DrainSpec): string | undefined {
  // The last '@' ends the credentials, so an unencoded '@' or '/' in a password still parses
  // (and never ends up in an error message); redactUri hides exactly this part.
  // An authority never starts with '/': `http:///u:p@h` would otherwise read as user "/u", whose
  // password redactUri (which takes a leading '/' for a path, as in file URIs) would not hide.
  if (target.startsWith('/')) throw uriError(`${scheme} needs a host right after "${scheme}://"`);
  const at = target.lastIndexOf('@');
  const afterCredentials = target.slice(at + 1);
  const slash = afterCredentials.indexOf('/');
  const hostPort = slash < 0 ? afterCredentials : afterCredentials.slice(0, slash);
  const path = slash < 0 ? '' : afterCredentials.slice(slash);
  if (at >= 0) {
    if (!syntax.takesCredentials) throw uriError(`${scheme} takes no user:password@`);
    const userinfo = target.slice(0, at);
    const colon = userinfo.indexOf(':');
    const user = decode(colon < 0 ? userinfo : userinfo.slice(0, colon));
    if (user !== '') spec.user = user;
    if (colon >= 0) spec.password = decodePassword(userinfo.slice(colon + 1));
  }

  const { host, portText } = splitHostPort(hostPort);
  const usage = `${scheme}://HOST${syntax.defaultPort === undefined ? ':PORT' : ''}`;
  if (host === '') throw uriError(`${scheme} needs a host (${usage})`);
  spec.host = host;
  if (portText !== undefined) spec.port = parsePort(portText);
  else if (syntax.defaultPort !== undefined) spec.port = syntax.defaultPort;
  else throw uriError(`${scheme} needs a port (${usage})`);

  if (syntax.takesPath) {
    spec.path = parseRequestPath(path);
    return undefined;
  }
  if (path === '' || path === '/') return undefined;
  if (!syntax.pathParam) throw uriError(`${scheme} takes no path, got "${path}"`);
  return decode(path.slice(1));
}

/** The path of an http(s) target, kept percent-encoded as it goes on the request line. */
function parseRequestPath(path: string): string {
  if (path === '') return '/';
  if (!PATH_RE.test(path)) throw uriError(`bad path "${path}" (percent-encode spaces and other special characters)`);
  decode(path); // a malformed %-escape is reported now, not by the target
  return path;
}

function splitHostPort(hostPort: string): { host: string; portText?: string } {
  if (hostPort.startsWith('[')) {
    const close = hostPort.indexOf(']');
    const host = close < 0 ? '' : hostPort.slice(1, close);
    const after = close < 0 ? '' : hostPort.slice(close + 1);
    if (!IPV6_RE.test(host) || (after !== '' && !after.startsWith(':'))) throw uriError(`bad host "${hostPort}"`);
    return after === '' ? { host } : { host, portText: after.slice(1) };
  }
  const colon = hostPort.indexOf(':');
  const host = colon < 0 ? hostPort : hostPort.slice(0, colon);
  if (host !== '' && !HOST_RE.test(host)) throw uriError(`bad host "${host}"`);
  return colon < 0 ? { host } : { host, portText: hostPort.slice(colon + 1) };
}

function parsePort(text: string): number {
  const port = Number(text);
  if (!/^[0-9]{1,5}$/.test(text) || port < 1 || port > MAX_PORT) throw uriError(`bad port "${text}"`);
  return port;
}

function parseQuery(query: string, syntax: SchemeSyntax, ctx: UriContext, spec: DrainSpec): void {
  const seen = new Set<string>();
  const targetQuery: string[] = [];
  for (const piece of query.split('&')) {
    if (piece === '') continue; // tolerate "?&a=b" and a trailing '&'
    const eq = piece.indexOf('=');
    const name = decode(eq < 0 ? piece : piece.slice(0, eq));
    if (syntax.passesUnknownParams && !LOGYARD_PARAMS.has(name) && !Object.hasOwn(syntax.params, name)) {
      targetQuery.push(targetQueryPiece(piece));
      continue;
    }
    if (eq < 0) throw uriError(`param "${name}" has no value (expected ${name}=VALUE)`);
    const value = decode(piece.slice(eq + 1));
    if (name !== 'filter') {
      if (seen.has(name)) throw uriError(`param "${name}" given twice`);
      seen.add(name);
    }
    switch (name) {
      case 'filter': {
        const problem = filterProblem(value);
        if (problem) throw uriError(problem);
        spec.filters.push(value);
        break;
      }
      case 'format': {
        const problem = formatProblem(value, ctx.formats);
        if (problem) throw uriError(problem);
        spec.format = value;
        break;
      }
      case 'buffer':
        if (!isPositiveInteger(value) || Number(value) > MAX_BUFFER) throw uriError(`bad value for buffer: "${value}" (events, 1 to ${MAX_BUFFER})`);
        spec.buffer = Number(value);
        break;
      case 'disk':
        spec.diskBytes = parseDisk(value);
        break;
      case 'rate':
        if (!isPositiveRate(value)) throw uriError(`bad value for rate: "${value}" (events/s, a number > 0)`);
        spec.rate = Number(value);
        break;
      case 'burst':
        if (!isPositiveInteger(value)) throw uriError(`bad value for burst: "${value}" (events, an integer >= 1)`);
        spec.burst = Number(value);
        break;
      default:
        if (!Object.hasOwn(syntax.params, name)) throw uriError(`unknown param "${name}"`);
        if (!syntax.params[name](value)) throw badValue(name, value);
        spec.params[name] = value;
    }
  }
  if (targetQuery.length > 0) spec.targetQuery = targetQuery.join('&');
}

/** `disk=SIZE`: bytes, with the unit required and at least 16MiB (docs/drains.md, disk buffers). */
function parseDisk(value: string): number {
  const bytes = parseSize(value);
  if (bytes === undefined) throw uriError(`bad value for disk: "${value}" (a size with its unit, e.g. 64MiB or 2GiB)`);
  if (bytes < MIN_DISK_BYTES) throw uriError(`bad value for disk: "${value}" (at least 16MiB)`);
  return bytes;
}

/**
 * A param the target takes (http): passed on the request line exactly as written, so it must be
 * one that can go there.
 */
function targetQueryPiece(piece: string): string {
  if (!QUERY_PIECE_RE.test(piece)) throw uriError(`bad query param "${piece}" (percent-encode spaces and other special characters)`);
  decode(piece); // a malformed %-escape is reported now, not by the target
  return piece;
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw uriError(`bad percent-encoding in "${text}"`);
  }
}

/** Like decode, but a malformed password is not echoed in the message. */
function decodePassword(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw uriError('bad percent-encoding in the password');
  }
}

function badValue(name: string, value: string): DrainUriError {
  return uriError(`bad value for ${name}: "${value}"`);
}

function uriError(problem: string): DrainUriError {
  return new DrainUriError(`drain URI: ${escapeControls(problem)}`);
}

/**
 * Messages quote the offending part, which may hold control characters or line breaks:
 * escaped (`\n`, `\u0000`), the message stays one line in listings, logs and status.
 */
function escapeControls(text: string): string {
  return text.replace(/[\x00-\x1f\x7f\u0085\u2028\u2029]/g, (ch) => {
    const named: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };
    return named[ch] ?? `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
}

export interface DrainArgs {
  filters?: string[];
  format?: string;
  params?: Record<string, string>;
}

/**
 * Merges `logyard drain add` flags into the URI's query: filters are appended, `format` and
 * params replace those of the same name. The result still needs parseDrainUri.
 */
export function mergeDrainArgs(uri: string, add: DrainArgs): string {
  const queryStart = uri.indexOf('?');
  const base = queryStart < 0 ? uri : uri.slice(0, queryStart);
  const replaced = new Set(Object.keys(add.params ?? {}));
  if (add.format !== undefined) replaced.add('format');

  const pieces = queryStart < 0 ? [] : uri.slice(queryStart + 1).split('&');
  const kept = pieces.filter((piece) => piece !== '' && !replaced.has(safeDecode(piece.split('=', 1)[0])));
  for (const filter of add.filters ?? []) kept.push(`filter=${encodeParamValue(filter)}`);
  if (add.format !== undefined) kept.push(`format=${encodeParamValue(add.format)}`);
  for (const [name, value] of Object.entries(add.params ?? {})) kept.push(`${encodeParamValue(name)}=${encodeParamValue(value)}`);
  return kept.length === 0 ? base : `${base}?${kept.join('&')}`;
}

/**
 * Encodes only what would change the meaning of a query value, so templates stay readable
 * in `drain list` (`format={{name}}:%20{{text}}`).
 */
function encodeParamValue(value: string): string {
  return value.replace(/[%&=?#+\s]/g, (ch) => encodeURIComponent(ch));
}
