import { safeDecode } from './params.js';

/**
 * What must never be shown: passwords in drain URIs (docs/drains.md: `***` in every listing,
 * status and log line) and credentials a target echoes back in an error.
 */

const HIDDEN = '***';

/**
 * Param names whose values are credentials wherever they appear: in a URI's query (ClickHouse
 * takes `password=`) or in a target's error body.
 */
const SECRET_NAME = String.raw`(?:pass(?:word|wd)?|pwd|secret|token|access[_-]?token|api[_-]?key|apikey|access[_-]?key|auth|authorization|signature|sig)`;
const SECRET_PARAM_RE = new RegExp(`^${SECRET_NAME}$`, 'i');

/** HTTP auth schemes: the word stays, what follows it is the credential. */
const AUTH_SCHEME = 'Bearer|Basic|Token|Digest|Negotiate';

/** Names and schemes that precede a credential in free text. */
const SECRET_PATTERNS: ReadonlyArray<[RegExp, string]> = [
  // Authorization: Bearer abc / Basic dXNlcjpwdw== / Token abc (the scheme word stays, the token goes).
  [new RegExp(`\\b(${AUTH_SCHEME})(\\s+)[^\\s"',;}]+`, 'gi'), `$1$2${HIDDEN}`],
  // password=x, "token": "x", api_key: x, ... (a header line or a JSON or query echo).
  // (An auth scheme word after the name was handled above and stays.)
  [new RegExp(`(\\b[\\w-]*${SECRET_NAME}["']?\\s*[:=]\\s*["']?)(?!\\*\\*\\*|(?:${AUTH_SCHEME})\\s)[^\\s"'&,;}]+`, 'gi'), `$1${HIDDEN}`],
  // user:password@ in a URL.
  [/(\/\/[^\s:/@]*:)[^\s/@]+@/g, `$1${HIDDEN}@`],
];

/** Text from outside (an http error body) with anything that looks like a credential as `***`. */
export function redactSecrets(text: string): string {
  let out = text;
  for (const [pattern, replacement] of SECRET_PATTERNS) out = out.replace(pattern, replacement);
  return out;
}

/**
 * The URI with its password shown as `***`, and the values of query params named like a
 * credential (`password=`, `token=`, ...; which http(s) pass to the target). Works on URIs that
 * do not parse too, since it is used for every listing, status and log line.
 */
export function redactUri(uri: string): string {
  const schemeEnd = uri.indexOf('://');
  if (schemeEnd < 0) return uri;
  const authorityStart = schemeEnd + 3;
  const queryStart = uri.indexOf('?', authorityStart);
  const beforeQuery = queryStart < 0 ? uri.slice(authorityStart) : uri.slice(authorityStart, queryStart);
  const query = queryStart < 0 ? '' : '?' + redactQuery(uri.slice(queryStart + 1));
  const at = beforeQuery.lastIndexOf('@');
  const userinfo = at < 0 ? '' : beforeQuery.slice(0, at);
  const colon = userinfo.indexOf(':');
  // A userinfo starting with '/' is a path with an '@' in it (file:///a:b@c), not credentials.
  if (colon < 0 || userinfo.startsWith('/')) return uri.slice(0, authorityStart) + beforeQuery + query;
  return uri.slice(0, authorityStart + colon + 1) + HIDDEN + beforeQuery.slice(at) + query;
}

function redactQuery(query: string): string {
  return query
    .split('&')
    .map((piece) => {
      const eq = piece.indexOf('=');
      if (eq < 0 || !SECRET_PARAM_RE.test(safeDecode(piece.slice(0, eq)))) return piece;
      return piece.slice(0, eq + 1) + HIDDEN;
    })
    .join('&');
}
