import { StoreError } from './errors.js';

/** Where and how to reach etcd, from an `etcd://` or `etcds://` URI. */
export interface EtcdEndpoint {
  tls: boolean;
  /** `host:port`, at least one. */
  hosts: string[];
  username?: string;
  password?: string;
  /** Files named by the `ca`, `cert` and `key` params of `etcds://`. */
  ca?: string;
  cert?: string;
  key?: string;
  /** The URI with the password shown as `***`. */
  description: string;
}

const DEFAULT_PORT = 2379;

/**
 * Parses `etcd://[user:password@]host[:port][,host[:port]...]` and `etcds://...?ca=&cert=&key=`.
 * Errors never repeat the URI, which may hold a password.
 */
export function parseEtcdUri(uri: string): EtcdEndpoint {
  const match = /^(etcds?):\/\/([^/?#]*)\/?(?:\?([^#]*))?$/i.exec(uri);
  if (!match) throw new StoreError('an etcd store URI looks like etcd://host:port[,host:port...] or etcds://host:port?ca=FILE');
  const tls = match[1].toLowerCase() === 'etcds';
  const scheme = tls ? 'etcds' : 'etcd';
  let authority = match[2];
  let username: string | undefined;
  let password: string | undefined;
  const at = authority.lastIndexOf('@');
  if (at >= 0) {
    const userinfo = authority.slice(0, at);
    authority = authority.slice(at + 1);
    const colon = userinfo.indexOf(':');
    try {
      username = decodeURIComponent(colon >= 0 ? userinfo.slice(0, colon) : userinfo);
      password = colon >= 0 ? decodeURIComponent(userinfo.slice(colon + 1)) : '';
    } catch {
      throw new StoreError(`${scheme} store URI: the user or password is not valid percent-encoding`);
    }
    if (!username) throw new StoreError(`${scheme} store URI: the user name before "@" is empty`);
  }
  if (!authority) throw new StoreError(`${scheme}:// must be followed by host:port (e.g. ${scheme}://10.0.0.1:2379)`);
  const hosts = authority.split(',').map((host) => {
    const hostMatch = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+)(?::(\d{1,5}))?$/.exec(host);
    if (!hostMatch) throw new StoreError(`${scheme} store URI: "${host}" is not host:port`);
    const port = hostMatch[2] === undefined ? DEFAULT_PORT : Number(hostMatch[2]);
    if (port < 1 || port > 65535) throw new StoreError(`${scheme} store URI: port ${hostMatch[2]} in "${host}" is not between 1 and 65535`);
    return `${hostMatch[1]}:${port}`;
  });
  const endpoint: EtcdEndpoint = { tls, hosts, username, password, description: '' };
  const params = new URLSearchParams(match[3] ?? '');
  for (const [name, value] of params) {
    if (!tls || !['ca', 'cert', 'key'].includes(name)) {
      throw new StoreError(`${scheme} store URI: unknown param "${name}"${tls ? ' (etcds takes ca, cert and key)' : ' (ca, cert and key need etcds://)'}`);
    }
    if (!value) throw new StoreError(`${scheme} store URI: param "${name}" needs a file name`);
    endpoint[name as 'ca' | 'cert' | 'key'] = value;
  }
  if ((endpoint.cert === undefined) !== (endpoint.key === undefined)) throw new StoreError(`${scheme} store URI: cert and key go together`);
  const userinfo = username === undefined ? '' : `${encodeURIComponent(username)}:***@`;
  const query = params.size ? `?${params.toString()}` : '';
  endpoint.description = `${scheme}://${userinfo}${hosts.join(',')}${query}`;
  return endpoint;
}
