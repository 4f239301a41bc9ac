import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { keyProblem } from './keys.js';

/**
 * Tenants (docs/tenants.md): an admin gives a tenant key prefixes; its drains are stored as
 * `tenant.<tenant>.<name>` and can only ever carry keys inside those prefixes, matched on whole
 * key segments. The one home of these rules: the store, the core's routing, the API and the CLI use them.
 */
export const TENANT_DRAIN_PREFIX = 'tenant.';
/** Tenant names and a tenant's own drain names: one key segment without `:` (they become parts of drain names). */
const TENANT_NAME_RE = /^[A-Za-z0-9_-]+$/;
export const MAX_TENANT_NAME_BYTES = 64;

/** Why `name` cannot name a tenant (or a tenant's own drain, `kind` 'drain'), or null. */
export function tenantNameProblem(name: string, kind = 'tenant'): string | null {
  if (name === '') return `${kind} name is empty`;
  if (Buffer.byteLength(name) > MAX_TENANT_NAME_BYTES) return `${kind} name is longer than ${MAX_TENANT_NAME_BYTES} bytes`;
  if (!TENANT_NAME_RE.test(name)) return `${kind} name "${name}" may only contain [A-Za-z0-9_-]`;
  return null;
}

/** Why `prefix` cannot be owned by a tenant: it must be whole key segments (`apptail.4f2c`), or null. */
export function tenantPrefixProblem(prefix: string): string | null {
  return keyProblem(prefix)?.replace(/^key/, 'prefix') ?? null;
}

/** The store name of a tenant's drain. */
export function tenantDrainName(tenant: string, name: string): string {
  return `${TENANT_DRAIN_PREFIX}${tenant}.${name}`;
}

/** The tenant a drain name belongs to (`tenant.acme.mine` → acme), or undefined for other drains. */
export function tenantOfDrain(drainName: string): string | undefined {
  if (!drainName.startsWith(TENANT_DRAIN_PREFIX)) return undefined;
  const rest = drainName.slice(TENANT_DRAIN_PREFIX.length);
  const dot = rest.indexOf('.');
  return dot > 0 ? rest.slice(0, dot) : undefined;
}

/**
 * Whether `key` (or a filter) lies inside `prefix` on segment boundaries: `apptail.app1` holds
 * `apptail.app1` and `apptail.app1.web`, never `apptail.app10`.
 */
export function withinSegments(key: string, prefix: string): boolean {
  return key.startsWith(prefix) && (key.length === prefix.length || key.charCodeAt(prefix.length) === 46 /* . */);
}

/**
 * The prefixes a tenant drain is routed under: each of its filters that lies inside one of the
 * tenant's prefixes (matched on segments too), or the tenant's prefixes when it has no filter.
 * A filter outside them routes nothing, so a prefix taken from a tenant stops its drains at once.
 */
export function tenantRoutes(filters: readonly string[], prefixes: readonly string[]): string[] {
  if (filters.length === 0) return [...prefixes];
  return filters.filter((filter) => prefixes.some((prefix) => withinSegments(filter, prefix)));
}

/** A new tenant token: `lyt_` and 32 random bytes in base64url; shown once, never stored. */
export function newTenantToken(): string {
  return `lyt_${randomBytes(32).toString('base64url')}`;
}

/** What the store keeps of a token: the SHA-256 (hex) of the whole token string. */
export function tenantTokenHash(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** A drain token (`d.` and a UUID), made when a tenant's drain is first added; sent with its messages. */
export function newDrainToken(): string {
  return `d.${randomUUID()}`;
}
