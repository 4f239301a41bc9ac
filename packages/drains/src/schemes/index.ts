import type { TransportFactory } from '../transport.js';
import type { SchemeSyntax } from '../uri.js';
import { FILE_SYNTAX, openFile } from './file.js';
export { fileDrainPathProblem } from './file.js';
import { connectHttp, HTTP_SYNTAX, HTTPS_SYNTAX } from './http.js';
import { connectRedis, REDIS_SYNTAX } from './redis.js';
import { connectSyslog, SYSLOG_SYNTAX, SYSLOG_TLS_SYNTAX } from './syslog.js';
import { connectTcp, TCP_SYNTAX } from './tcp.js';
import { connectTls, TLS_SYNTAX } from './tls.js';
import { connectUdp, UDP_SYNTAX } from './udp.js';

/** The schemes that exist: adding one means a module here and a line in both maps. */
export const TRANSPORTS: Record<string, TransportFactory> = {
  tcp: connectTcp,
  udp: connectUdp,
  redis: connectRedis,
  rediss: connectRedis,
  file: openFile,
  tls: connectTls,
  syslog: connectSyslog,
  'syslog+tls': connectSyslog,
  http: connectHttp,
  https: connectHttp,
};

export const SCHEME_SYNTAX: Record<string, SchemeSyntax> = {
  tcp: TCP_SYNTAX,
  udp: UDP_SYNTAX,
  redis: REDIS_SYNTAX,
  rediss: REDIS_SYNTAX,
  file: FILE_SYNTAX,
  tls: TLS_SYNTAX,
  syslog: SYSLOG_SYNTAX,
  'syslog+tls': SYSLOG_TLS_SYNTAX,
  http: HTTP_SYNTAX,
  https: HTTPS_SYNTAX,
};
