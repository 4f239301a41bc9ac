import { newDrainToken, tenantDrainName, tenantNameProblem, TENANT_DRAIN_PREFIX, withinSegments, type AuditRecord } from '@logyard/bus';
import { DrainUriError, mergeDrainArgs, parseDrainUri, redactUri, type DrainSpec } from '@logyard/drains';
import { compareNames, drainStatusRows, InvalidNameError, type DrainRecord, type Store, type TenantRecord } from '@logyard/store';
import { readPutDrain } from './bodies.js';
import { ApiError } from './http.js';

/** What the drain handlers work with: the store, the named formats a URI may use, and the audit trail of this node. */
export interface DrainsContext {
  store: Store;
  formats: () => Record<string, string>;
  audit: (record: AuditRecord) => void;
}

/** A tenant's drain as the API shows it: its own name, the URI with passwords as `***`, filters and drain token. */
export interface ApiDrain {
  name: string;
  uri: string;
  filters: string[];
  token: string | null;
}

/** Params that name paths on the node (a CA file): a tenant must not make the core read its files. */
const NODE_PATH_PARAMS = ['ca'];

export async function listDrains(ctx: DrainsContext, tenant: TenantRecord): Promise<ApiDrain[]> {
  const prefix = `${TENANT_DRAIN_PREFIX}${tenant.name}.`;
  const own = (await ctx.store.listDrains()).filter((d) => d.name.startsWith(prefix) && ownName(d.name, prefix) !== undefined);
  return own.sort((a, b) => compareNames(a.name, b.name)).map((d) => shown(d, prefix));
}

export async function getDrain(ctx: DrainsContext, tenant: TenantRecord, name: string): Promise<ApiDrain> {
  return shown(await existing(ctx, tenant, name), `${TENANT_DRAIN_PREFIX}${tenant.name}.`);
}

/** Adds or replaces the tenant's drain NAME; 201 when it is new. A replaced drain keeps its drain token. */
export async function putDrain(ctx: DrainsContext, tenant: TenantRecord, name: string, body: unknown): Promise<{ status: number; drain: ApiDrain }> {
  const nameProblem = tenantNameProblem(name, 'drain');
  if (nameProblem) throw new ApiError(400, `name: ${nameProblem}`, 'name');
  const { uri, filters = [] } = readPutDrain(body);
  const stored = tenantDrainName(tenant.name, name);
  const merged = mergeDrainArgs(uri, { filters });
  const spec = parse(merged, stored, ctx.formats());
  if (spec.scheme === 'file') throw new ApiError(403, 'uri: file:// drains write on the node itself and are not for tenants', 'uri');
  if (spec.diskBytes !== undefined) throw new ApiError(400, 'uri: disk is not available to tenants (it takes the node\'s disk)', 'uri');
  for (const param of NODE_PATH_PARAMS) {
    if (spec.params[param] !== undefined) throw new ApiError(400, `uri: ${param} names a file on the node and is not available to tenants`, 'uri');
  }
  for (const filter of spec.filters) {
    if (!tenant.prefixes.some((prefix) => withinSegments(filter, prefix))) {
      throw new ApiError(403, `filters: "${filter}" is outside the prefixes of tenant ${tenant.name} (${tenant.prefixes.join(', ')})`, 'filters');
    }
  }
  const before = await ctx.store.getDrain(stored);
  const token = before?.token ?? newDrainToken();
  await ctx.store.putDrain(stored, merged, { token });
  ctx.audit({ actor: `tenant:${tenant.name}`, action: 'drain.add', name: stored, desc: `drain added: ${stored} ${redactUri(merged)}` });
  return { status: before ? 200 : 201, drain: { name, uri: redactUri(merged), filters: spec.filters, token } };
}

export async function deleteDrain(ctx: DrainsContext, tenant: TenantRecord, name: string): Promise<void> {
  const record = await existing(ctx, tenant, name);
  if (!(await ctx.store.deleteDrain(record.name))) throw notFound(name);
  ctx.audit({ actor: `tenant:${tenant.name}`, action: 'drain.delete', name: record.name, desc: `drain deleted: ${record.name}` });
}

/** The drain's state and counters on every node, from the nodes' status documents. */
export async function drainStatus(ctx: DrainsContext, tenant: TenantRecord, name: string) {
  const record = await existing(ctx, tenant, name);
  const rows = drainStatusRows(await ctx.store.listNodeStatus()).filter((row) => row.drain === record.name);
  return {
    name,
    nodes: rows.map(({ node_id, state, error, sent, dropped, buffered, updated }) => ({
      node_id,
      state,
      ...(error === undefined ? {} : { error: redactUri(error) }),
      sent,
      dropped,
      buffered,
      updated,
    })),
  };
}

/** The tenant's drain NAME; 404 for a name that is not one, exactly as for another tenant's drain. */
async function existing(ctx: DrainsContext, tenant: TenantRecord, name: string): Promise<DrainRecord> {
  if (tenantNameProblem(name, 'drain')) throw notFound(name);
  let record: DrainRecord | undefined;
  try {
    record = await ctx.store.getDrain(tenantDrainName(tenant.name, name));
  } catch (err) {
    if (err instanceof InvalidNameError) throw notFound(name);
    throw err;
  }
  if (!record || record.temporary) throw notFound(name);
  return record;
}

function notFound(name: string): ApiError {
  return new ApiError(404, `no drain named ${name}`);
}

function parse(uri: string, drainName: string, formats: Record<string, string>): DrainSpec {
  try {
    return parseDrainUri(uri, { formats, drainName });
  } catch (err) {
    if (!(err instanceof DrainUriError)) throw err;
    const filterAtFault = /^filter\b|filter "/.test(err.message);
    throw new ApiError(400, `${filterAtFault ? 'filters' : 'uri'}: ${redactUri(err.message)}`, filterAtFault ? 'filters' : 'uri');
  }
}

/** The tenant's own name of a stored drain (`tenant.acme.mine` → mine); undefined for its temporary tails. */
function ownName(stored: string, prefix: string): string | undefined {
  const name = stored.slice(prefix.length);
  return tenantNameProblem(name, 'drain') === null ? name : undefined;
}

function shown(record: DrainRecord, prefix: string): ApiDrain {
  let filters: string[] = [];
  try {
    filters = parseDrainUri(record.uri, { formats: {}, drainName: record.name }).filters;
  } catch {
    // A format only a node knows, or an entry another tool wrote: the filters still read as given.
    filters = [...new URLSearchParams(record.uri.split('?')[1] ?? '').getAll('filter')];
  }
  return { name: record.name.slice(prefix.length), uri: redactUri(record.uri), filters, token: record.token ?? null };
}
