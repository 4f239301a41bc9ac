import { Range, type Etcd3, type IKeyValue } from 'etcd3';
import { readDrainEntry } from './drain-entry.js';
import { parseJsonObject } from './json.js';
import type { DrainRecord, TenantRecord } from './types.js';
import { readTenantEntry } from './tenant-entry.js';

/**
 * The keys of docs/store.md in etcd.
 *
 *     /logyard/drains/<name>       {"uri","created"}; temporary drains under their creator's lease
 *     /logyard/formats/<name>      {"template"}
 *     /logyard/tenants/<name>      {"prefixes","token_sha256","created"}
 *     /logyard/nodes/<node_id>     {"started","version"}, under the node's lease
 *     /logyard/status/<node_id>    {"updated","drains":{<name>:{"state","error","sent","dropped","buffered"}}}, under the node's lease
 */
export const DRAINS = '/logyard/drains/';
export const FORMATS = '/logyard/formats/';
export const STATUS = '/logyard/status/';
export const NODES = '/logyard/nodes/';
export const TENANTS = '/logyard/tenants/';

/** A tenant from its key and value (see readTenantEntry); keys with a `/` below the prefix are no tenants. */
export function tenantFromKv(kv: IKeyValue): TenantRecord | undefined {
  const key = kv.key.toString();
  const name = key.slice(TENANTS.length);
  return name.includes('/') ? undefined : readTenantEntry(name, key, kv.value.toString());
}

/** How many keys one page of a keys-only listing asks for. */
const KEYS_PAGE = 1_000;

/** A drain from its key and value (see readDrainEntry); any key under the prefix is an entry, a bad one with its problem. */
export function drainFromKv(kv: IKeyValue): DrainRecord {
  const key = kv.key.toString();
  return readDrainEntry(key.slice(DRAINS.length), key, kv.value.toString(), kv.lease !== undefined && kv.lease !== '0').record;
}

/** A named format from its key and value; one without a string `template` is no format. */
export function formatFromKv(kv: IKeyValue): { name: string; template: string } | undefined {
  const name = kv.key.toString().slice(FORMATS.length);
  if (name.includes('/')) return undefined;
  const template = parseJsonObject(kv.value.toString())?.template;
  return typeof template === 'string' ? { name, template } : undefined;
}

/** Every key under `prefix`, in key order, read a page at a time so that no reply grows with the cluster. */
export async function listKeys(client: Etcd3, prefix: string): Promise<string[]> {
  const end = Range.prefix(prefix).end;
  const keys: string[] = [];
  let from = Buffer.from(prefix);
  for (;;) {
    const page = await client.getAll().inRange(new Range(from, end)).sort('Key', 'Ascend').limit(KEYS_PAGE).keys();
    keys.push(...page);
    if (page.length < KEYS_PAGE) return keys;
    // The smallest key after the last one read.
    from = Buffer.concat([Buffer.from(page[page.length - 1]), Buffer.from([0])]);
  }
}

/** Runs `task` for each item, at most `concurrency` at once; results in the items' order. */
export async function mapConcurrently<T, R>(items: readonly T[], concurrency: number, task: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}
