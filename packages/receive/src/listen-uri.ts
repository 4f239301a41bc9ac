import { isAbsolute, resolve } from 'node:path';
import { ListenUriError } from './errors.js';

export type ListenUri =
  | { scheme: 'udp' | 'tcp'; host: string; port: number; uri: string }
  | { scheme: 'unix' | 'unixgram'; path: string; uri: string };

const HOST_PORT_RE = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/;

/**
 * `udp://HOST:PORT`, `tcp://HOST:PORT` (IPv6 in brackets; port 0 takes a free port, which is
 * logged), `unix:///path` (stream) or `unixgram:///path` (datagram; a relative path is taken
 * from `baseDir`).
 */
export function parseListenUri(uri: string, baseDir = process.cwd()): ListenUri {
  const match = /^([a-z]+):\/\/(.*)$/.exec(uri);
  if (!match) throw new ListenUriError(`listener "${uri}" is not a URI such as tcp://127.0.0.1:5514 or unixgram:///run/logyard/syslog.sock`);
  const [, scheme, rest] = match;
  if (scheme === 'unix' || scheme === 'unixgram') {
    if (rest === '') throw new ListenUriError(`listener "${uri}": ${scheme}:// must be followed by a socket path`);
    const path = isAbsolute(rest) ? rest : resolve(baseDir, rest);
    return { scheme, path, uri: `${scheme}://${path}` };
  }
  if (scheme !== 'udp' && scheme !== 'tcp') {
    throw new ListenUriError(`listener "${uri}": unknown scheme "${scheme}" (expected udp, tcp, unix or unixgram)`);
  }
  const hp = HOST_PORT_RE.exec(rest.replace(/\/$/, ''));
  if (!hp) throw new ListenUriError(`listener "${uri}": "${rest}" is not HOST:PORT`);
  const port = Number(hp[3]);
  if (port > 65535) throw new ListenUriError(`listener "${uri}": port ${hp[3]} is not between 0 and 65535`);
  const host = hp[1] ?? hp[2];
  return { scheme, host, port, uri: `${scheme}://${formatHostPort(host, port)}` };
}

export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
