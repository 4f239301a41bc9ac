import type { TransportFactory } from '../transport.js';
import type { SchemeSyntax } from '../uri.js';
import { FILE_SYNTAX, openFile } from './file.js';
import { connectRedis, REDIS_SYNTAX } from './redis.js';
import { connectTcp, TCP_SYNTAX } from './tcp.js';
import { connectUdp, UDP_SYNTAX } from './udp.js';

/** The schemes that exist: adding one means a module here and a line in both maps. */
export const TRANSPORTS: Record<string, TransportFactory> = {
  tcp: connectTcp,
  udp: connectUdp,
  redis: connectRedis,
  rediss: connectRedis,
  file: openFile,
};

export const SCHEME_SYNTAX: Record<string, SchemeSyntax> = {
  tcp: TCP_SYNTAX,
  udp: UDP_SYNTAX,
  redis: REDIS_SYNTAX,
  rediss: REDIS_SYNTAX,
  file: FILE_SYNTAX,
};

/** Schemes of SPEC section 4 without a transport yet: reported as such, not as unknown. */
export const UNSUPPORTED_SCHEMES: readonly string[] = ['tls', 'syslog', 'syslog+tls', 'http', 'https'];
