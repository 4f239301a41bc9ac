import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { connect, type ConnectionOptions } from 'node:tls';
import { DrainConfigError } from '../errors.js';
import { isAbsolutePath, isBoolean, type ParamCheck } from '../params.js';
import type { TransportFactory } from '../transport.js';
import type { DrainSpec, SchemeSyntax } from '../uri.js';
import { openSocket, StreamTransport } from './tcp.js';

/** The params of every scheme over TLS (tls, syslog+tls, https). */
export const TLS_PARAMS: Record<string, ParamCheck> = { ca: isAbsolutePath, insecure: isBoolean };

/** Refuses `ca` with `insecure=true`: one of them would be silently ignored. */
export function tlsParamsProblem(spec: DrainSpec): string | undefined {
  if (spec.params.ca !== undefined && spec.params.insecure === 'true') {
    return 'params "ca" and "insecure=true" contradict each other (ca verifies, insecure does not)';
  }
  return undefined;
}

export const TLS_SYNTAX: SchemeSyntax = { target: 'network', params: TLS_PARAMS, check: tlsParamsProblem };

/** Newline-delimited lines over one TLS connection: tcp's transport on a verified TLS socket. */
export const connectTls: TransportFactory = async (spec) => {
  const target = `${spec.host}:${spec.port}`;
  return new StreamTransport(await openTlsSocket(spec, target), target);
};

/** A TLS connection to the spec's host and port, verified unless `insecure=true`. */
export async function openTlsSocket(spec: DrainSpec, target: string, options?: ConnectionOptions) {
  options ??= await tlsOptions(spec);
  try {
    return await openSocket(() => connect({ ...options, host: spec.host ?? '', port: spec.port ?? 0 }), 'secureConnect', target);
  } catch (err) {
    throw explainTlsError(err, target);
  }
}

/**
 * TLS options of a drain: the server's certificate is checked against `ca` (a PEM file that
 * replaces the system's CAs, as curl's --cacert does) or the system's CAs, and must name the
 * host. `insecure=true` turns the check off, and only then.
 */
export async function tlsOptions(spec: DrainSpec): Promise<ConnectionOptions> {
  const host = spec.host ?? '';
  const options: ConnectionOptions = {
    rejectUnauthorized: spec.params.insecure !== 'true',
    // SNI must not carry an IP address (RFC 6066); the certificate check still uses the host.
    servername: isIP(host) === 0 ? host : undefined,
  };
  if (spec.params.ca !== undefined) options.ca = await readCa(spec.params.ca);
  return options;
}

const PEM_CERTIFICATE_RE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * The CA file's certificates. A missing or broken file is a configuration error (FATAL):
 * node would otherwise ignore a file without certificates and fail every handshake instead.
 */
async function readCa(path: string): Promise<string> {
  let pem: string;
  try {
    pem = await readFile(path, 'utf8');
  } catch (err) {
    throw new DrainConfigError(`cannot read ca file "${path}": ${(err as Error).message}`, { cause: err });
  }
  const certificates = pem.match(PEM_CERTIFICATE_RE) ?? [];
  if (certificates.length === 0) throw new DrainConfigError(`ca file "${path}" holds no PEM certificate`);
  for (const certificate of certificates) {
    try {
      new X509Certificate(certificate);
    } catch (err) {
      throw new DrainConfigError(`ca file "${path}" holds a broken certificate: ${(err as Error).message}`, { cause: err });
    }
  }
  return certificates.join('\n');
}

/** Node's certificate errors say what is wrong but not with whom, nor what to do about it. */
const CERTIFICATE_ERROR_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** Adds the target and a hint to a certificate error; other errors pass as they are. */
export function explainTlsError(err: unknown, target: string): unknown {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (typeof code !== 'string' || !CERTIFICATE_ERROR_CODES.has(code)) return err;
  const message = `TLS certificate of ${target} rejected: ${(err as Error).message} (give ca=/path/to/ca.pem to trust its CA, or insecure=true)`;
  return Object.assign(new Error(message, { cause: err }), { code });
}
