import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';

/** A CA, a server certificate it signed, and a self-signed one, made with the openssl CLI. */
export interface TestCerts {
  dir: string;
  /** PEM file of the CA: what a drain's `ca=` points to. */
  caFile: string;
  /** Signed by the CA, for localhost and 127.0.0.1. */
  server: { cert: string; key: string };
  /** Signed by nobody, for localhost and 127.0.0.1. */
  selfSigned: { cert: string; key: string };
  remove(): void;
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
const SERVER_NAMES = 'subjectAltName=DNS:localhost,IP:127.0.0.1';

/** Makes the certificates before the file's tests and removes them after; call at top level. */
export function useTestCerts(): () => TestCerts {
  let certs: TestCerts | undefined;
  beforeAll(() => {
    certs = makeTestCerts();
  });
  afterAll(() => certs?.remove());
  return () => {
    if (!certs) throw new Error('test certificates are made in beforeAll');
    return certs;
  };
}

export function makeTestCerts(): TestCerts {
  const dir = mkdtempSync(join(tmpdir(), 'ly-certs-'));
  const file = (name: string): string => join(dir, name);
  const openssl = (...args: string[]): void => {
    execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  };
  openssl('req', '-x509', ...EC_KEY, '-keyout', file('ca.key'), '-out', file('ca.pem'), '-days', '2', '-subj', '/CN=Logyard Test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  openssl('req', ...EC_KEY, '-keyout', file('server.key'), '-out', file('server.csr'), '-subj', '/CN=localhost');
  writeFileSync(file('server.ext'), `${SERVER_NAMES}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n`);
  openssl('x509', '-req', '-in', file('server.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-CAcreateserial',
    '-out', file('server.pem'), '-days', '2', '-extfile', file('server.ext'));
  openssl('req', '-x509', ...EC_KEY, '-keyout', file('self.key'), '-out', file('self.pem'), '-days', '2', '-subj', '/CN=localhost',
    '-addext', SERVER_NAMES);
  const read = (name: string): string => readFileSync(file(name), 'utf8');
  return {
    dir,
    caFile: file('ca.pem'),
    server: { cert: read('server.pem'), key: read('server.key') },
    selfSigned: { cert: read('self.pem'), key: read('self.key') },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
