import { filterProblem } from '@logyard/bus';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileFormat, DrainUriError, mergeDrainArgs, parseDrainUri, redactUri, SCHEMES, TLS_SCHEMES, type DrainSpec } from '../src/index.js';

const ctx = { formats: { short: '{{name}}: {{text}}' } };
const RUNS = 3000;

/** Valid URIs of every scheme, the seeds that mutations start from. */
const VALID: Record<string, string[]> = {
  tcp: ['tcp://logs.example.com:514', 'tcp://[::1]:9000/?filter=systail&format=raw&buffer=50'],
  udp: ['udp://10.0.0.1:5514?filter=apptail.&rate=100&burst=500'],
  redis: ['redis://admin:p%40ss@cache:6380/2?key=cloud_events&limit=256', 'redis://127.0.0.1?database=1&format=short'],
  rediss: ['rediss://:secret@cache?limit=10'],
  file: ['file:///var/log/logyard/app.log?overwrite=true', 'file:///tmp/a/../b.log?format={{name}}:%20{{text}}'],
  tls: ['tls://logs.example.com:6514?ca=/etc/ssl/ca.pem', 'tls://h:1?insecure=true&filter=event'],
  syslog: ['syslog://logs.papertrailapp.com:12345?filter=apptail', 'syslog://h?format=json&rate=0.5'],
  'syslog+tls': ['syslog+tls://logs3.papertrailapp.com:12345?ca=/etc/ssl/pt.pem', 'syslog+tls://h?insecure=false&burst=3&rate=2'],
  http: ['http://h:8080/v1/logs?batch=100', 'http://u:p@h/'],
  https: ['https://ingest:t%3Aken@logs.example.com/bulk%20load?batch=500&ca=/ca.pem', 'https://h?insecure=true&format=raw'],
};

/** Pieces that mean something to the parser, more likely than random characters to reach its corners. */
const TOKENS = [
  '%', '%2', '%zz', '%E0%A4%A', '%00', '@', ':', '::', '/', '//', '?', '&', '=', '#', '[', ']', '[::1]', '{{', '}}', '{{text}}', '..',
  ' ', '\n', '\0', '+', 'é', '\u2028', '\uD800', '0', '65536', '99999', '-1', '1.5', 'true', 'yes',
  'filter=', 'format=', 'buffer=', 'rate=', 'burst=', 'disk=', 'ca=', 'insecure=', 'batch=', 'key=', 'limit=', 'database=', 'overwrite=',
  'tcp://', 'https://', 'syslog+tls://', 'file://',
];

const allValid = Object.values(VALID).flat();

type Mutation = { kind: 'insert' | 'replace'; at: number; text: string } | { kind: 'delete'; at: number; length: number };

const piece = fc.oneof(fc.constantFrom(...TOKENS), fc.string({ maxLength: 4 }), fc.string({ unit: 'binary', maxLength: 3 }));
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), text: piece }),
  fc.record({ kind: fc.constant('replace' as const), at: fc.nat(), text: piece }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 6 }) }),
);

function mutate(uri: string, mutations: Mutation[]): string {
  let out = uri;
  for (const m of mutations) {
    const at = out.length === 0 ? 0 : m.at % (out.length + 1);
    if (m.kind === 'insert') out = out.slice(0, at) + m.text + out.slice(at);
    else if (m.kind === 'replace') out = out.slice(0, at) + m.text + out.slice(at + m.text.length);
    else out = out.slice(0, at) + out.slice(at + m.length);
  }
  return out;
}

const mutatedUri = fc.tuple(fc.constantFrom(...allValid), fc.array(mutation, { minLength: 1, maxLength: 5 })).map(([uri, ms]) => mutate(uri, ms));

/** A valid base with random params appended: names and values from the vocabulary or random. */
const paramName = fc.oneof(fc.constantFrom('filter', 'format', 'buffer', 'rate', 'burst', 'disk', 'ca', 'insecure', 'batch', 'key', 'limit', 'database', 'overwrite'), fc.string({ maxLength: 5 }));
const paramValue = fc.oneof(fc.constantFrom(...TOKENS), fc.string({ maxLength: 8 }), fc.integer({ min: -5, max: 100_000 }).map(String));
const withParams = fc
  .tuple(fc.constantFrom(...allValid), fc.array(fc.tuple(paramName, paramValue), { maxLength: 4 }))
  .map(([uri, params]) => {
    const query = params.map(([name, value]) => `${name}=${value}`).join('&');
    if (query === '') return uri;
    return uri + (uri.includes('?') ? '&' : '?') + query;
  });

const anyText = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme-ascii', maxLength: 60 }).map((s) => `tcp://${s}`));

/** What must hold for every input: a valid spec, or a DrainUriError with one line naming the problem. */
function checkParse(uri: string): void {
  let spec: DrainSpec;
  try {
    spec = parseDrainUri(uri, ctx);
  } catch (err) {
    if (!(err instanceof DrainUriError)) throw new Error(`parseDrainUri(${JSON.stringify(uri)}) threw ${String(err)}`, { cause: err });
    expect(err.message).toMatch(/^drain URI: \S/);
    expect(err.message).not.toMatch(/[\x00-\x1f\x7f\u0085\u2028\u2029]/);
    return;
  }
  checkSpec(spec);
}

function checkSpec(spec: DrainSpec): void {
  expect(Object.keys(SCHEMES)).toContain(spec.scheme);
  expect(spec.tls).toBe(TLS_SCHEMES.has(spec.scheme));
  const syntax = SCHEMES[spec.scheme].syntax;
  if (syntax.target === 'file') {
    expect(spec.path?.startsWith('/')).toBe(true);
  } else {
    expect(spec.host).toMatch(/^\S+$/);
    expect(Number.isInteger(spec.port) && spec.port! >= 1 && spec.port! <= 65_535).toBe(true);
  }
  expect(Number.isSafeInteger(spec.buffer) && spec.buffer >= 1).toBe(true);
  if (spec.rate !== undefined) expect(spec.rate > 0 && Number.isInteger(spec.burst) && spec.burst! >= 1).toBe(true);
  else expect(spec.burst).toBeUndefined();
  for (const filter of spec.filters) expect(filterProblem(filter)).toBeNull();
  const known = spec.tls ? [...Object.keys(syntax.params), 'ca', 'insecure'] : Object.keys(syntax.params);
  for (const name of Object.keys(spec.params)) expect(known).toContain(name);
  if (spec.targetQuery !== undefined) expect(syntax.passesUnknownParams).toBe(true);
  expect(() => compileFormat(spec.format, ctx.formats)).not.toThrow();
  // What a user sees in listings must never show the password.
  if (spec.password) expect(redactUri(spec.uri)).not.toContain(`:${spec.password}@`);
}

describe('parseDrainUri (property-based)', () => {
  it('the seeds are valid URIs of every scheme', () => {
    expect(Object.keys(VALID).sort()).toEqual(Object.keys(SCHEMES).sort());
    for (const uri of allValid) checkSpec(parseDrainUri(uri, ctx));
  });

  it('mutated valid URIs of every scheme yield a spec or a one-line DrainUriError', () => {
    fc.assert(fc.property(mutatedUri, checkParse), { numRuns: RUNS });
  });

  it('valid URIs with random params yield a spec or a one-line DrainUriError', () => {
    fc.assert(fc.property(withParams, checkParse), { numRuns: RUNS });
  });

  it('arbitrary text yields a spec or a one-line DrainUriError', () => {
    fc.assert(fc.property(anyText, checkParse), { numRuns: RUNS });
  });

  it('what drain add merges into a valid URI parses or is refused the same way', () => {
    const flags = fc.record({
      filters: fc.array(fc.oneof(fc.constantFrom('systail', 'apptail.', 'event.oom'), fc.string({ maxLength: 6 })), { maxLength: 2 }),
      format: fc.option(fc.oneof(fc.constantFrom('raw', 'json', '{{key}} {{text}}', 'a & b={{x}}%+#'), fc.string({ maxLength: 8 })), { nil: undefined }),
      params: fc.dictionary(paramName, paramValue, { maxKeys: 3 }),
    });
    fc.assert(
      fc.property(fc.constantFrom(...allValid), flags, (uri, add) => checkParse(mergeDrainArgs(uri, add))),
      { numRuns: RUNS },
    );
  });
});
