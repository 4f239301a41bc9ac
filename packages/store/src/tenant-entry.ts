import { tenantNameProblem, tenantPrefixProblem } from '@logyard/bus';
import { InvalidNameError } from './errors.js';
import { readJsonObject } from './json.js';
import type { TenantRecord } from './types.js';

const SHA256_HEX = /^[0-9a-f]{64}$/;

/** A tenant's stored value: `{"prefixes", "token_sha256", "created"}` (docs/store.md). */
export function encodeTenant(tenant: Omit<TenantRecord, 'name' | 'problem'>): string {
  return JSON.stringify({ prefixes: tenant.prefixes, token_sha256: tenant.token_sha256, created: tenant.created });
}

/**
 * Reads a tenant's stored entry; the one validation of both stores. An entry that cannot be used
 * (written badly by another tool) is still returned, with a `problem` starting with its key, no
 * prefixes and no hash: it owns nothing and no token opens it, and the others are unaffected.
 */
export function readTenantEntry(name: string, key: string, text: string): TenantRecord {
  const reading = readJsonObject(text);
  const fields = 'object' in reading ? reading.object : {};
  const prefixes = Array.isArray(fields.prefixes) && fields.prefixes.every((p) => typeof p === 'string' && tenantPrefixProblem(p) === null) ? (fields.prefixes as string[]) : undefined;
  const hash = typeof fields.token_sha256 === 'string' && SHA256_HEX.test(fields.token_sha256) ? fields.token_sha256 : undefined;
  const created = typeof fields.created === 'number' ? fields.created : 0;
  const problem =
    tenantNameProblem(name) ??
    ('problem' in reading ? reading.problem : prefixes === undefined ? '"prefixes" must be a list of key prefixes' : hash === undefined ? '"token_sha256" must be 64 hex digits' : undefined);
  if (problem !== undefined || prefixes === undefined || hash === undefined) return { name, prefixes: [], token_sha256: '', created, problem: `${key}: ${problem}` };
  return { name, prefixes, token_sha256: hash, created };
}

export function assertTenantName(name: string): void {
  const problem = tenantNameProblem(name);
  if (problem) throw new InvalidNameError(problem);
}

/** Checks what putTenant writes, so that the store never holds a tenant it would read back as broken. */
export function assertTenant(tenant: Omit<TenantRecord, 'problem'>): void {
  assertTenantName(tenant.name);
  for (const prefix of tenant.prefixes) {
    const problem = tenantPrefixProblem(prefix);
    if (problem) throw new InvalidNameError(problem);
  }
  if (tenant.prefixes.length === 0) throw new InvalidNameError(`tenant ${tenant.name} needs at least one prefix`);
  if (!SHA256_HEX.test(tenant.token_sha256)) throw new InvalidNameError('token_sha256 must be 64 hex digits');
}
