import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultNodeId } from '@logyard/bus';
import { ConfigError, loadConfig, type GlobalOptions, type LogyardConfig } from '../src/index.js';

const SHIPPED_CONFIG = resolve(dirname(fileURLToPath(import.meta.url)), '../../../configs/logyard.yaml');

/** A config that sets every key. */
const SPEC_EXAMPLE = `
node_id: 10.0.0.5
run_dir: /run/logyard
state_dir: /var/lib/logyard
store: etcd://10.0.0.1:2379
status: 127.0.0.1:8891            # HTTP: GET /status (JSON), GET /metrics (Prometheus)
disk_sync: 250ms
clients: [systail, apptail, events, receive, journal]   # what \`logyard start\` runs beside the core
file_drain_roots: [/var/log/logyard]
formats:
  short: "{{name}}: {{text}}"
builtin_drains:
  builtin.apptail: redis://127.0.0.1:6379/?filter=apptail&limit=400
  builtin.events: redis://127.0.0.1:6379/?filter=event&limit=256&key=cloud_events
systail:
  max_line: 4096                  # longer lines are split
  files:
    nginx: /var/log/nginx/error.log
    kern: /var/log/kern.log
    app-*: /var/log/apps/*.log    # a glob: the name is the file's base name without .log
apptail:
  rate: 100                       # per instance, events/s; excess dropped with notices
  burst: 10000
  patterns:
    - path: /var/lib/apps/{app_id}/{instance_index}/logs/{source}.log
      format: plain
    - path: /var/lib/docker/containers/{app_id}/{app_id}-json.log
      format: docker-json         # {"log","stream","time"}: stream becomes source
events:
  rules:
    __all__:                      # or a systail name such as nginx or kern
      error: { substring: ERROR, regex: "ERROR[: ]+(.*)", format: "$1", severity: ERROR }
max_event: 1MiB                   # the largest event, on every path into the bus
journal:                          # section 10
  units: ["*"]                    # systemd units to read (globs); "*" = all
  rate: 1000                      # per unit (or per container), events/s; excess dropped with notices
  burst: 5000
receive:
  syslog: [udp://127.0.0.1:5514, tcp://127.0.0.1:5514, unixgram:///run/logyard/syslog.sock]
  json: [udp://127.0.0.1:5515]     # one JSON object per datagram or per line
  json_key_prefix: app             # key = <prefix>.<the event's name field>
  rate: 1000                       # per key, events/s; excess dropped with notices
  burst: 5000
`;

let dir: string;
/** Stands in for /etc/logyard/logyard.yaml so the machine's own file never leaks into a test. */
let systemConfig: string;
const env = { HOME: '/home/alice', XDG_RUNTIME_DIR: '/run/user/1000', XDG_STATE_HOME: '/home/alice/.state' };

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'logyard-config-'));
  systemConfig = join(dir, 'etc', 'logyard.yaml');
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function writeConfig(text: string, name = 'logyard.yaml'): string {
  const path = join(dir, name);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  return path;
}

function load(flags: GlobalOptions = {}, environment: NodeJS.ProcessEnv = env): LogyardConfig {
  return loadConfig(flags, environment, systemConfig);
}

function errorOf(action: () => unknown): ConfigError {
  try {
    action();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError, got none');
}

describe('defaults', () => {
  it('uses the XDG directories and the documented defaults when there is no config file', () => {
    expect(load()).toEqual({
      nodeId: defaultNodeId(),
      runDir: '/run/user/1000/logyard',
      stateDir: '/home/alice/.state/logyard',
      store: 'file:///home/alice/.state/logyard/store',
      status: '127.0.0.1:8891',
      clients: [],
      fileDrainRoots: ['/home/alice/.state/logyard/files', '/var/log/logyard'],
      diskSync: 1000,
      formats: {},
      builtinDrains: {},
      systail: { maxLine: 4096, files: {} },
      apptail: { rate: 100, burst: 10000, patterns: [] },
      events: { rules: {} },
      receive: { syslog: [], json: [], gelf: [], jsonKeyPrefix: 'app', rate: 1000, burst: 5000, inCore: false, udpBuffer: 8 * 1024 * 1024 },
      journal: { units: ['*'], rate: 1000, burst: 5000 },
      maxEvent: 1024 * 1024,
      api: 'off',
    });
  });

  it('falls back to /run/logyard for root, else /tmp/logyard-<uid>, and ~/.local/state without XDG variables', () => {
    const config = load({}, { HOME: '/home/bob' });
    expect(config.runDir).toBe(process.getuid!() === 0 ? '/run/logyard' : `/tmp/logyard-${process.getuid!()}`);
    expect(config.stateDir).toBe('/home/bob/.local/state/logyard');
    expect(config.store).toBe('file:///home/bob/.local/state/logyard/store');
  });

  it('derives the default store and file drain roots from a configured state_dir', () => {
    const file = writeConfig('state_dir: /srv/logyard\n');
    const config = load({ config: file });
    expect(config.store).toBe('file:///srv/logyard/store');
    expect(config.fileDrainRoots).toEqual(['/srv/logyard/files', '/var/log/logyard']);
  });

  it('treats an empty file and keys left empty as defaults', () => {
    const empty = load({ config: writeConfig('# nothing set\n', 'empty.yaml') });
    const blank = load({ config: writeConfig('systail:\nreceive:\n  rate:\nformats:\n', 'blank.yaml') });
    const { configFile: _none, ...defaults } = load();
    expect(empty).toEqual({ ...defaults, configFile: join(dir, 'empty.yaml') });
    expect(blank).toEqual({ ...defaults, configFile: join(dir, 'blank.yaml') });
  });
});

describe('max_event', () => {
  it.each([
    ['65536', 65536],
    ['512KiB', 512 * 1024],
    ['"2MiB"', 2 * 1024 * 1024],
  ])('reads %s as %d bytes', (value, bytes) => {
    expect(load({ config: writeConfig(`max_event: ${value}\n`) }).maxEvent).toBe(bytes);
  });
});

describe('receive.udp_buffer', () => {
  it('reads a size, 8MiB when absent', () => {
    expect(load({ config: writeConfig('receive:\n  udp_buffer: 32MiB\n') }).receive.udpBuffer).toBe(32 * 1024 * 1024);
    expect(load({ config: writeConfig('receive:\n  rate: 5\n') }).receive.udpBuffer).toBe(8 * 1024 * 1024);
  });
});

describe('the shipped configs/logyard.yaml', () => {
  it('loads cleanly and documents exactly the built-in defaults', () => {
    const shipped = load({ config: SHIPPED_CONFIG });
    const { configFile: _none, ...defaults } = load();
    expect(shipped).toEqual({ ...defaults, configFile: SHIPPED_CONFIG });
  });
});

describe('the documented example', () => {
  it('loads with every value', () => {
    const config = load({ config: writeConfig(SPEC_EXAMPLE) });
    expect(config).toEqual({
      configFile: join(dir, 'logyard.yaml'),
      nodeId: '10.0.0.5',
      runDir: '/run/logyard',
      stateDir: '/var/lib/logyard',
      store: 'etcd://10.0.0.1:2379',
      status: '127.0.0.1:8891',
      clients: ['systail', 'apptail', 'events', 'receive', 'journal'],
      fileDrainRoots: ['/var/log/logyard'],
      diskSync: 250,
      formats: { short: '{{name}}: {{text}}' },
      builtinDrains: {
        'builtin.apptail': 'redis://127.0.0.1:6379/?filter=apptail&limit=400',
        'builtin.events': 'redis://127.0.0.1:6379/?filter=event&limit=256&key=cloud_events',
      },
      systail: {
        maxLine: 4096,
        files: { nginx: '/var/log/nginx/error.log', kern: '/var/log/kern.log', 'app-*': '/var/log/apps/*.log' },
      },
      apptail: {
        rate: 100,
        burst: 10000,
        patterns: [
          { path: '/var/lib/apps/{app_id}/{instance_index}/logs/{source}.log', format: 'plain' },
          { path: '/var/lib/docker/containers/{app_id}/{app_id}-json.log', format: 'docker-json' },
        ],
      },
      events: {
        rules: { __all__: { error: { substring: 'ERROR', regex: 'ERROR[: ]+(.*)', format: '$1', severity: 'ERROR' } } },
      },
      receive: {
        syslog: ['udp://127.0.0.1:5514', 'tcp://127.0.0.1:5514', 'unixgram:///run/logyard/syslog.sock'],
        json: ['udp://127.0.0.1:5515'],
        gelf: [],
        jsonKeyPrefix: 'app',
        rate: 1000,
        burst: 5000,
        inCore: false,
        udpBuffer: 8 * 1024 * 1024,
      },
      journal: { units: ['*'], rate: 1000, burst: 5000 },
      maxEvent: 1024 * 1024,
      api: 'off',
    });
  });
});

describe('precedence: flag, then environment, then config file, then default', () => {
  const fileSettings = 'node_id: from-file\nrun_dir: /file/run\nstate_dir: /file/state\nstore: etcd://file:2379\nstatus: 127.0.0.1:1001\n';
  const envSettings = {
    LOGYARD_NODE_ID: 'from-env',
    LOGYARD_RUN_DIR: '/env/run',
    LOGYARD_STATE_DIR: '/env/state',
    LOGYARD_STORE: 'etcd://env:2379',
    LOGYARD_STATUS: '127.0.0.1:1002',
  };
  const flagSettings = { nodeId: 'from-flag', runDir: '/flag/run', stateDir: '/flag/state', store: 'etcd://flag:2379', status: 'off' };

  function globals(config: LogyardConfig) {
    const { nodeId, runDir, stateDir, store, status } = config;
    return { nodeId, runDir, stateDir, store, status };
  }

  it('takes the config file over the defaults', () => {
    const file = writeConfig(fileSettings);
    expect(globals(load({ config: file }))).toEqual({
      nodeId: 'from-file', runDir: '/file/run', stateDir: '/file/state', store: 'etcd://file:2379', status: '127.0.0.1:1001',
    });
  });

  it('takes the environment over the config file', () => {
    const file = writeConfig(fileSettings);
    expect(globals(load({ config: file }, { ...env, ...envSettings }))).toEqual({
      nodeId: 'from-env', runDir: '/env/run', stateDir: '/env/state', store: 'etcd://env:2379', status: '127.0.0.1:1002',
    });
  });

  it('takes flags over the environment', () => {
    const file = writeConfig(fileSettings);
    expect(globals(load({ config: file, ...flagSettings }, { ...env, ...envSettings }))).toEqual({
      nodeId: 'from-flag', runDir: '/flag/run', stateDir: '/flag/state', store: 'etcd://flag:2379', status: 'off',
    });
  });

  it('treats an empty environment variable as unset', () => {
    const file = writeConfig(fileSettings);
    expect(load({ config: file }, { ...env, LOGYARD_NODE_ID: '', LOGYARD_STATUS: '' })).toMatchObject({
      nodeId: 'from-file',
      status: '127.0.0.1:1001',
    });
  });

  it('reads the config file named by --config over LOGYARD_CONFIG', () => {
    const fromFlag = writeConfig('node_id: flag-file\n', 'flag.yaml');
    const fromEnv = writeConfig('node_id: env-file\n', 'env.yaml');
    expect(load({ config: fromFlag }, { ...env, LOGYARD_CONFIG: fromEnv }).nodeId).toBe('flag-file');
    expect(load({}, { ...env, LOGYARD_CONFIG: fromEnv })).toMatchObject({ nodeId: 'env-file', configFile: fromEnv });
  });

  it('reads the system config file when none is named, and only if it exists', () => {
    expect(load().configFile).toBeUndefined();
    writeConfig('node_id: system\n', 'etc/logyard.yaml');
    expect(load()).toMatchObject({ nodeId: 'system', configFile: systemConfig });
  });
});

describe('relative paths', () => {
  it('are relative to the config file directory', () => {
    const file = writeConfig(
      [
        'run_dir: run',
        'state_dir: ./state',
        'store: file://data/store',
        'file_drain_roots: [logs, ../shared]',
        'systail:',
        '  files: { local: local.log }',
        'apptail:',
        '  patterns: [{ path: "apps/{app_id}.log" }]',
        'receive:',
        '  syslog: [unixgram://syslog.sock]',
        'journal:',
        '  directory: host-journal',
        '',
      ].join('\n'),
      'conf/logyard.yaml',
    );
    const base = join(dir, 'conf');
    expect(load({ config: file })).toMatchObject({
      runDir: join(base, 'run'),
      stateDir: join(base, 'state'),
      store: `file://${join(base, 'data/store')}`,
      fileDrainRoots: [join(base, 'logs'), join(dir, 'shared')],
      diskSync: 1000,
      systail: { files: { local: join(base, 'local.log') } },
      apptail: { patterns: [{ path: join(base, 'apps/{app_id}.log'), format: 'plain' }] },
      receive: { syslog: [`unixgram://${join(base, 'syslog.sock')}`] },
      journal: { directory: join(base, 'host-journal') },
    });
  });

  it('are relative to the working directory when given by flag or environment', () => {
    const config = load({ runDir: 'run', config: writeConfig('') }, { ...env, LOGYARD_STORE: 'file://store' });
    expect(config.runDir).toBe(resolve('run'));
    expect(config.store).toBe(`file://${resolve('store')}`);
  });
});

describe('errors name the file, the key and the problem', () => {
  const cases: [yaml: string, keyAndProblem: string][] = [
    ['systail:\n  max_line: 0\n', 'systail.max_line: must be a positive integer'],
    ['systail:\n  max_line: 12.5\n', 'systail.max_line: must be a positive integer'],
    ['apptail:\n  rate: fast\n', 'apptail.rate: must be a positive number'],
    [
      'stor: file:///x\n',
      'stor: unknown key; did you mean store?',
    ],
    ['systail:\n  maxline: 10\n', 'systail.maxline: unknown key; did you mean max_line?'],
    ['systail:\n  nothing: 10\n', 'systail.nothing: unknown key (expected one of: max_line, files)'],
    ['events:\n  rules:\n    __all__:\n      err: { regex: x, format: y, level: ERROR }\n',
      'events.rules.__all__.err.level: unknown key (expected one of: substring, regex, format, severity)'],
    ['node_id: 5\n', 'node_id: must be a string'],
    ['node_id: "web 1"\n', 'node_id: must be usable in a key: key "web 1" must be dot-separated segments of [A-Za-z0-9_:-]'],
    ['store: http://10.0.0.1:2379\n', 'store: must start with file://, etcd:// or etcds://'],
    ['max_event: 2 parsecs\n', 'max_event: must be a size such as 1MiB, 512KiB or 65536 (bytes), not "2 parsecs"'],
    ['max_event: 1.5MiB\n', 'max_event: must be a size such as 1MiB, 512KiB or 65536 (bytes), not "1.5MiB"'],
    ['max_event: 100\n', 'max_event: must be between 1KiB and 64MiB'],
    ['max_event: 1GiB\n', 'max_event: must be between 1KiB and 64MiB'],
    ['receive:\n  udp_buffer: 2GiB\n', 'receive.udp_buffer: must be between 64KiB and 1024MiB'],
    ['receive:\n  udp_buffer: lots\n', 'receive.udp_buffer: must be a size such as 1MiB, 512KiB or 65536 (bytes), not "lots"'],
    ['status: localhost\n', 'status: must be "off" or host:port: "localhost" is not host:port'],
    ['status: 127.0.0.1:99999\n', 'status: must be "off" or host:port: port 99999 is not between 1 and 65535'],
    ['api: 0.0.0.0:8893\n', 'api: plain HTTP is served only on loopback (127.0.0.1, ::1, localhost); set api_tls: {cert, key} to serve 0.0.0.0:8893 over HTTPS'],
    ['api: 127.0.0.1:8893\napi_tls: { cert: /nonexistent/api.pem, key: /nonexistent/api.key }\n', 'api_tls.cert: cannot read /nonexistent/api.pem: ENOENT'],
    ['api_tls: [/x.pem]\n', 'api_tls: must be a mapping'],
    ['clients: [systail, web]\n', 'clients[1]: unknown client "web" (expected one of: systail, apptail, events, receive, journal)'],
    ['clients: [systail, systail]\n', 'clients[1]: "systail" is listed twice'],
    ['clients: systail\n', 'clients: must be a list'],
    ['file_drain_roots: [/var/log, 3]\n', 'file_drain_roots[1]: must be a string'],
    ['disk_sync: 1\n', 'disk_sync: must be "always" or an interval such as 1s, 500ms or 2m'],
    ['disk_sync: often\n', 'disk_sync: must be "always" or an interval such as 1s, 500ms or 2m'],
    ['formats: [short]\n', 'formats: must be a mapping'],
    ['formats:\n  json: "{{text}}"\n', 'formats.json: "json" is a built-in format and cannot be redefined'],
    ['formats:\n  short:\n', 'formats.short: must not be empty'],
    ['builtin_drains:\n  apptail: redis://127.0.0.1/\n', 'builtin_drains.apptail: a builtin drain name must start with "builtin." and go on'],
    ['builtin_drains:\n  builtin.x: 127.0.0.1:6379\n', 'builtin_drains.builtin.x: must be a drain URI such as redis://host:port/?filter=...'],
    ['systail:\n  files:\n    "my logs": /var/log/x.log\n', 'systail.files.my logs: a systail name may only contain [A-Za-z0-9_:-] (and * for a glob)'],
    ['apptail:\n  patterns:\n    - path: /apps/{app_id}.log\n      format: xml\n', 'apptail.patterns[0].format: must be one of: plain, docker-json'],
    ['apptail:\n  patterns:\n    - path: /apps/{name}.log\n', 'apptail.patterns[0].path: unknown placeholder {name} (expected {app_id}, {app_name}, {instance_index}, {source})'],
    ['apptail:\n  patterns:\n    - path: /apps/all.log\n', 'apptail.patterns[0].path: must contain {app_id}'],
    ['apptail:\n  patterns:\n    - format: plain\n', 'apptail.patterns[0].path: is required'],
    ['events:\n  rules:\n    __all__:\n      bad: { regex: "(", format: x }\n',
      'events.rules.__all__.bad.regex: is not a valid regular expression: Invalid regular expression: /(/: Unterminated group'],
    ['events:\n  rules:\n    __all__:\n      bad: { regex: x, format: x, severity: FATAL }\n',
      'events.rules.__all__.bad.severity: must be one of: INFO, WARNING, ERROR'],
    ['events:\n  rules:\n    nginx:\n      bad: { regex: x }\n', 'events.rules.nginx.bad.format: is required'],
    ['receive:\n  syslog: [http://127.0.0.1:514]\n',
      'receive.syslog[0]: must be udp://host:port, tcp://host:port, unix://path or unixgram://path, not "http://127.0.0.1:514"'],
    ['receive:\n  json: [udp://127.0.0.1:0]\n', 'receive.json[0]: port 0 is not between 1 and 65535'],
    ['receive:\n  gelf: [unixgram:///run/gelf.sock]\n', 'receive.gelf[0]: must be udp://host:port or tcp://host:port, not "unixgram:///run/gelf.sock"'],
    ['receive:\n  gelf: [udp://127.0.0.1:70000]\n', 'receive.gelf[0]: port 70000 is not between 1 and 65535'],
    ['journal:\n  units: nginx\n', 'journal.units: must be a list'],
    ['journal:\n  units: ["web *"]\n', 'journal.units[0]: "web *" is not a unit name or glob (such as nginx.service, nginx or web-*): no spaces or slashes'],
    ['journal:\n  rate: 0\n', 'journal.rate: must be a positive number'],
    ['journal:\n  burst: 2.5\n', 'journal.burst: must be a positive integer'],
    ['journal:\n  directory: ""\n', 'journal.directory: must not be empty'],
    ['journal:\n  cursor: x\n', 'journal.cursor: unknown key (expected one of: units, rate, burst, directory)'],
    ['receive:\n  json_key_prefix: "a..b"\n', 'receive.json_key_prefix: must be a valid key: key "a..b" must be dot-separated segments of [A-Za-z0-9_:-]'],
  ];

  it.each(cases)('%j', (yaml, keyAndProblem) => {
    const file = writeConfig(yaml);
    const error = errorOf(() => load({ config: file }));
    // The line is the offending key's: the last line of each case's YAML.
    const line = yaml.trimEnd().split('\n').length;
    expect(error.message).toBe(`${file}:${line}: ${keyAndProblem}`);
    expect(error.source).toBe(file);
    expect(error.line).toBe(line);
  });

  it('reports every problem of a file, each with its line, in the order of the file', () => {
    const file = writeConfig('stor: file:///x\nstatus: 5\nreceive:\n  syslog: [tcp://127.0.0.1]\n  rate: -1\nstore: etcd://\n');
    expect(errorOf(() => load({ config: file })).message.split('\n')).toEqual([
      `${file}:1: stor: unknown key; did you mean store?`,
      `${file}:2: status: must be a string`,
      `${file}:4: receive.syslog[0]: "127.0.0.1" is not host:port`,
      `${file}:5: receive.rate: must be a positive number`,
      `${file}:6: store: etcd:// must be followed by host:port (e.g. etcd://10.0.0.1:2379)`,
    ]);
  });

  it('names the file as it was given, relative or not', () => {
    writeConfig('status: 5\n', 'relative.yaml');
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      expect(errorOf(() => load({ config: 'relative.yaml' })).message).toBe('relative.yaml:1: status: must be a string');
    } finally {
      process.chdir(cwd);
    }
  });

  it('refuses a YAML alias bomb, naming the file, the line and the key, without expanding it', () => {
    const laughs = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (const [name, prev] of [['b', 'a'], ['c', 'b'], ['d', 'c'], ['e', 'd'], ['f', 'e'], ['g', 'f'], ['h', 'g'], ['i', 'h']]) {
      laughs.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(',')}]`);
    }
    const file = writeConfig(`status: off\nformats:\n${laughs.map((l) => `  ${l}`).join('\n')}\n`);
    expect(errorOf(() => load({ config: file })).message).toBe(
      `${file}:4: formats: expands too many YAML aliases (more than 100); is it an alias bomb?`,
    );
  });

  it('refuses etcd store URIs without a host or with a bad port', () => {
    for (const [uri, problem] of [
      ['etcd://', 'etcd:// must be followed by host:port (e.g. etcd://10.0.0.1:2379)'],
      ['etcds://user:pw@', 'etcds:// must be followed by host:port (e.g. etcds://10.0.0.1:2379)'],
      ['etcd://10.0.0.1:2379,:99', 'etcd store URI: ":99" is not host:port'],
      ['etcd://10.0.0.1:99999', 'etcd store URI: port 99999 in "10.0.0.1:99999" is not between 1 and 65535'],
    ]) {
      const file = writeConfig(`store: ${uri}\n`);
      expect(errorOf(() => load({ config: file })).message).toBe(`${file}:1: store: ${problem}`);
    }
    expect(load({ store: 'etcd://10.0.0.1:2379,10.0.0.2' }).store).toBe('etcd://10.0.0.1:2379,10.0.0.2');
  });

  it('names the line of a YAML syntax error', () => {
    const file = writeConfig('status: off\nformats:\n  short: "{{text}}\nclients: []\n');
    expect(errorOf(() => load({ config: file })).message).toBe(`${file}:5: Missing closing "quote (column 1)`);
    const duplicate = writeConfig('status: off\nstatus: on\n', 'duplicate.yaml');
    expect(errorOf(() => load({ config: duplicate })).message).toBe(`${duplicate}:2: Map keys must be unique (column 1)`);
  });

  it('refuses a file that is not a mapping of keys', () => {
    const file = writeConfig('- store\n- status\n');
    expect(errorOf(() => load({ config: file })).message).toBe(`${file}: must be a YAML mapping of keys such as "store: ..."`);
  });

  it('refuses a named config file that does not exist', () => {
    const missing = join(dir, 'missing.yaml');
    expect(errorOf(() => load({ config: missing })).message).toBe(`${missing}: does not exist (named by --config)`);
    expect(errorOf(() => load({}, { ...env, LOGYARD_CONFIG: missing })).message).toBe(
      `${missing}: does not exist (named by LOGYARD_CONFIG)`,
    );
  });

  it('names the flag or environment variable that set a bad value', () => {
    expect(errorOf(() => load({ status: 'nowhere' })).message).toBe('--status: must be "off" or host:port: "nowhere" is not host:port');
    expect(errorOf(() => load({}, { ...env, LOGYARD_STORE: 'redis://x' })).message).toBe(
      'LOGYARD_STORE: must start with file://, etcd:// or etcds://',
    );
    expect(errorOf(() => load({ nodeId: '' })).message).toBe('--node-id: must not be empty');
  });
});
