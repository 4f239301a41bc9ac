import { isAbsolute } from 'node:path';
import { StoreError } from './errors.js';
import type { Store } from './types.js';

type StoreFactory = (uri: string) => Promise<Store>;

/** The backends by URI scheme; a new backend is one more entry here. Each is loaded on first use. */
const BACKENDS = new Map<string, StoreFactory>([
  ['file:', openFileStore],
  ['etcd:', openEtcdStore],
  ['etcds:', openEtcdStore],
]);

/** Opens the store a URI names (docs/store.md): `file://<dir>`, `etcd://...` or `etcds://...`. */
export async function openStore(uri: string): Promise<Store> {
  const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:/.exec(uri)?.[0].toLowerCase();
  const open = scheme === undefined ? undefined : BACKENDS.get(scheme);
  // The URI itself is not echoed: it may hold a password.
  if (!open) throw new StoreError('a store URI must start with file://, etcd:// or etcds://');
  return open(uri);
}

/** `file://` followed by an absolute directory, taken as written (relative ones are resolved by the config). */
async function openFileStore(uri: string): Promise<Store> {
  const dir = uri.startsWith('file://') ? uri.slice('file://'.length) : '';
  if (!isAbsolute(dir)) throw new StoreError(`a file store needs an absolute directory: file:///path, not ${uri}`);
  const { FileStore } = await import('./file-store.js');
  return new FileStore(dir);
}

/** `etcd://[user:password@]host:port[,host:port...]` or `etcds://...?ca=&cert=&key=`; connects lazily. */
async function openEtcdStore(uri: string): Promise<Store> {
  const { EtcdStore } = await import('./etcd-store.js');
  return EtcdStore.open(uri);
}
