/** The key of audit events (docs/tenants.md, audit). */
export const AUDIT_KEY = 'event.logyard_audit';

export type AuditAction = 'drain.add' | 'drain.delete' | 'format.add' | 'format.delete' | 'tenant.add' | 'tenant.delete' | 'tenant.rotate';

export interface AuditRecord {
  /** `tenant:<name>` or `cli:<user>@<host>`. */
  actor: string;
  action: AuditAction;
  /** The name as stored (`tenant.acme.mine`). */
  name: string;
  /** `drain added: NAME tcp://...`, passwords already hidden by the caller; never a token or a hash. */
  desc: string;
}

/** The fields of an `event.logyard_audit` event, shaped like every event.* (type, desc, severity, process, info). */
export function auditEvent(record: AuditRecord, process: string): Record<string, unknown> {
  return {
    text: record.desc,
    type: 'logyard_audit',
    desc: record.desc,
    severity: 'INFO',
    process,
    info: { actor: record.actor, action: record.action, name: record.name },
  };
}
