import { hostname, userInfo } from 'node:os';
import { auditEvent, AUDIT_KEY, Publisher, type AuditRecord } from '@logyard/bus';
import type { LogyardConfig } from '@logyard/config';
import { coreSocketPresent } from './status-client.js';

const CONNECT_TIMEOUT_MS = 1_000;
const FLUSH_TIMEOUT_MS = 3_000;

/** `cli:<user>@<host>`: who made a change from the command line (docs/tenants.md, audit). */
export function cliActor(): string {
  let user: string;
  try {
    user = userInfo().username;
  } catch {
    user = process.env.USER ?? String(process.getuid?.() ?? 'unknown');
  }
  return `cli:${user}@${hostname()}`;
}

/**
 * Publishes the audit event of a change made here to this node's core. The change is made
 * already: a core that is not running only costs the event, which is said on stderr.
 */
export async function publishAudit(config: LogyardConfig, record: Omit<AuditRecord, 'actor'>): Promise<void> {
  // No core on this node (a store edited from an admin's machine): nothing here to publish to, and
  // commands stay quiet as before (docs/tenants.md says the event needs a core where the change is made).
  if (!coreSocketPresent(config.runDir)) return;
  const publisher = new Publisher({ runDir: config.runDir, nodeId: config.nodeId, maxEvent: config.maxEvent });
  try {
    if (!(await publisher.waitConnected(CONNECT_TIMEOUT_MS))) return noCore(config);
    publisher.publish(AUDIT_KEY, auditEvent({ ...record, actor: cliActor() }, 'logyard'));
    if (!(await publisher.flush(FLUSH_TIMEOUT_MS))) process.stderr.write(`logyard: note: the core on ${config.runDir} did not take the audit event\n`);
  } finally {
    await publisher.close(1000);
  }
}

function noCore(config: LogyardConfig): void {
  process.stderr.write(`logyard: note: no core running on ${config.runDir}: the audit event of this change is not published\n`);
}
