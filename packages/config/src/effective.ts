import type { LogyardConfig } from './config.js';

/**
 * The effective configuration in the file's own shape (snake_case keys, every default filled
 * in), as `logyard config check` prints it. URIs pass through `redact` so no password is shown.
 */
export function effectiveConfig(config: LogyardConfig, redact: (uri: string) => string): Record<string, unknown> {
  return {
    node_id: config.nodeId,
    run_dir: config.runDir,
    state_dir: config.stateDir,
    store: redact(config.store),
    status: config.status,
    api: config.api,
    ...(config.apiTls ? { api_tls: config.apiTls } : {}),
    clients: config.clients,
    file_drain_roots: config.fileDrainRoots,
    disk_sync: config.diskSync === 'always' ? 'always' : `${config.diskSync}ms`,
    formats: config.formats,
    builtin_drains: Object.fromEntries(Object.entries(config.builtinDrains).map(([name, uri]) => [name, redact(uri)])),
    systail: { max_line: config.systail.maxLine, files: config.systail.files },
    apptail: { rate: config.apptail.rate, burst: config.apptail.burst, patterns: config.apptail.patterns },
    events: { rules: config.events.rules },
    receive: {
      syslog: config.receive.syslog,
      json: config.receive.json,
      json_key_prefix: config.receive.jsonKeyPrefix,
      rate: config.receive.rate,
      burst: config.receive.burst,
      in_core: config.receive.inCore,
      udp_buffer: config.receive.udpBuffer,
    },
    journal: {
      units: config.journal.units,
      rate: config.journal.rate,
      burst: config.journal.burst,
      // Absent: the system's journal.
      ...(config.journal.directory === undefined ? {} : { directory: config.journal.directory }),
    },
  };
}
