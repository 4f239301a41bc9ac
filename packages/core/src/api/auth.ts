import { timingSafeEqual } from 'node:crypto';
import { tenantTokenHash } from '@logyard/bus';
import type { TenantRecord } from '@logyard/store';
import { ApiError } from './http.js';

const UNAUTHORIZED = new ApiError(401, 'a valid token is required: Authorization: Bearer <token>', undefined, { 'www-authenticate': 'Bearer realm="logyard"' });

/**
 * The tenant whose token the request carries (`Authorization: Bearer lyt_...`), from the tenants as
 * the store has them now (a rotated or deleted tenant's token stops working as soon as the core
 * sees the change). The token's SHA-256 is compared with every tenant's in constant time, so
 * neither timing nor the order of tenants tells anything about a hash.
 */
export function authenticate(authorization: string | undefined, tenants: ReadonlyMap<string, TenantRecord>): TenantRecord {
  const match = /^Bearer +(\S+) *$/i.exec(authorization ?? '');
  if (!match) throw UNAUTHORIZED;
  const presented = Buffer.from(tenantTokenHash(match[1]), 'hex');
  let found: TenantRecord | undefined;
  for (const tenant of tenants.values()) {
    if (tenant.problem || tenant.token_sha256.length !== 64) continue;
    if (timingSafeEqual(presented, Buffer.from(tenant.token_sha256, 'hex')) && found === undefined) found = tenant;
  }
  if (!found) throw UNAUTHORIZED;
  return found;
}
