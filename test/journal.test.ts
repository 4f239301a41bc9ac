import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TcpTarget, TestNode, until } from './helpers/cli.js';
import { NodeProcess, writeNodeConfig } from './helpers/clients.js';
import { writeJournal, type ExportEntry } from './helpers/journal.js';

/** The cursor of the journal's last entry, as journalctl tells it. */
function lastCursor(dir: string): string {
  const out = execFileSync('journalctl', [`--directory=${dir}`, '--merge', '--lines=1', '--output=json', '--no-pager'], { encoding: 'utf8' });
  return JSON.parse(out.trim()).__CURSOR;
}

function savedCursor(node: TestNode): string | null {
  try {
    return JSON.parse(readFileSync(join(node.stateDir, 'journal.cursor.json'), 'utf8')).cursor;
  } catch {
    return null;
  }
}

/** `logyard journal` (issue 15) on real journal files written by systemd-journal-remote, with a real core and tcp drain. */
describe('logyard journal', () => {
  const node = new TestNode('jr-node');
  const target = new TcpTarget();
  const journalDir = join(node.root, 'journal');
  let config: string;
  let client: NodeProcess;

  const ofKey = (key: string): any[] => target.rawEvents.filter((r) => r.key === key).map((r) => r.event);
  const startClient = async (): Promise<NodeProcess> => {
    const c = new NodeProcess(node, ['-c', config, 'journal']);
    await c.logged(/journal: started/);
    return c;
  };
  const clientStats = async (): Promise<any> => {
    const r = await node.cli(['status', '--json']);
    expect(r.code).toBe(0);
    return JSON.parse(r.stdout).clients.find((c: { client: string }) => c.client === 'journal');
  };

  beforeAll(async () => {
    mkdirSync(journalDir);
    await node.startCore();
    await target.listen();
    const add = await node.cli(['drain', 'add', 'jr', `tcp://127.0.0.1:${target.port}`, '-f', 'journal', '--format', 'raw']);
    expect(add.code).toBe(0);
    await until(async () => (await node.drainStatus('jr'))?.state === 'RUNNING', 'drain jr RUNNING');
    // Relative to the config file: <root>/journal.
    config = writeNodeConfig(node, ['journal:', '  directory: journal', '  rate: 50', '  burst: 100'].join('\n') + '\n');
    // Already in the journal at the first start: not read (the first start begins at the end).
    await writeJournal(journalDir, [{ MESSAGE: 'written before the first start', _SYSTEMD_UNIT: 'old.service' }]);
    client = await startClient();
  });
  afterAll(async () => {
    await client?.stop('SIGKILL');
    await target.close();
    await node.cleanup();
  });

  it('publishes an nginx.service entry with PRIORITY=3 as journal.nginx with text, severity, unit, pid and the other fields', async () => {
    await writeJournal(journalDir, [
      {
        MESSAGE: 'upstream timed out while reading response header',
        PRIORITY: '3',
        SYSLOG_IDENTIFIER: 'nginx',
        CODE_FILE: 'src/http/ngx_http_upstream.c',
        _SYSTEMD_UNIT: 'nginx.service',
        _PID: '4242',
        _COMM: 'nginx',
        _SOURCE_REALTIME_TIMESTAMP: '1700000000123456',
      },
    ]);
    await until(() => ofKey('journal.nginx').length === 1, 'the nginx entry');
    const [event] = ofKey('journal.nginx');
    expect(event).toMatchObject({
      text: 'upstream timed out while reading response header',
      severity: 'err',
      unit: 'nginx.service',
      pid: 4242,
      node_id: 'jr-node',
      unix_time: 1700000000.123456,
      journal: { SYSLOG_IDENTIFIER: 'nginx', CODE_FILE: 'src/http/ngx_http_upstream.c' },
      trusted: { _SYSTEMD_UNIT: 'nginx.service', _PID: '4242', _COMM: 'nginx', _BOOT_ID: '0123456789abcdef0123456789abcdef' },
    });
    expect(event.human_time).toMatch(/^2023-11-14T22:13:20\.123[+-]\d\d:\d\d$/);
    // MESSAGE and PRIORITY are the event's own fields; the journal's address fields are not fields.
    expect(Object.keys(event.journal).sort()).toEqual(['CODE_FILE', 'SYSLOG_IDENTIFIER']);
    expect(JSON.stringify(event)).not.toMatch(/__CURSOR|__REALTIME_TIMESTAMP|__MONOTONIC_TIMESTAMP/);
    expect(ofKey('journal.old')).toEqual([]);
  });

  it("names a Docker container's entry journal.<container>, an identifier-only entry by its identifier, and makes unit names key segments", async () => {
    await writeJournal(journalDir, [
      {
        // As Docker's journald log driver writes it.
        MESSAGE: 'GET / HTTP/1.1 200',
        PRIORITY: '6',
        CONTAINER_NAME: 'web-1',
        CONTAINER_ID: 'abc123def456',
        CONTAINER_ID_FULL: `abc123def456${'0'.repeat(52)}`,
        CONTAINER_TAG: 'abc123def456',
        IMAGE_NAME: 'nginx:1.25',
        SYSLOG_IDENTIFIER: 'abc123def456',
        _SYSTEMD_UNIT: 'docker.service',
        _PID: '900',
      },
      { MESSAGE: 'backup finished', PRIORITY: '5', SYSLOG_IDENTIFIER: 'backup-job', _PID: '77' },
      { MESSAGE: 'login prompt', _SYSTEMD_UNIT: 'getty@tty1.service', _PID: '555' },
    ]);
    await until(() => ofKey('journal.web-1').length === 1 && ofKey('journal.backup-job').length === 1 && ofKey('journal.getty_tty1').length === 1, 'the three entries');
    const [container] = ofKey('journal.web-1');
    expect(container).toMatchObject({
      text: 'GET / HTTP/1.1 200',
      severity: 'info',
      unit: 'docker.service',
      pid: 900,
      container_name: 'web-1',
      container_id: 'abc123def456',
      journal: { IMAGE_NAME: 'nginx:1.25', CONTAINER_ID_FULL: `abc123def456${'0'.repeat(52)}`, CONTAINER_TAG: 'abc123def456' },
    });
    expect(container.journal.CONTAINER_NAME).toBeUndefined();
    const [identified] = ofKey('journal.backup-job');
    expect(identified).toMatchObject({ text: 'backup finished', severity: 'notice', pid: 77 });
    expect(identified.unit).toBeUndefined();
    expect(identified.container_name).toBeUndefined();
    expect(ofKey('journal.getty_tty1')[0]).toMatchObject({ text: 'login prompt', unit: 'getty@tty1.service' });
    expect(ofKey('journal.getty_tty1')[0].severity).toBeUndefined();
  });

  it("joins the pieces of a long line that Docker's journald driver cut (CONTAINER_PARTIAL_MESSAGE=true) into one event", async () => {
    const piece = (name: string, message: string, partial: boolean): ExportEntry => ({
      MESSAGE: message,
      CONTAINER_NAME: name,
      CONTAINER_ID: `${name}-id`,
      _SYSTEMD_UNIT: 'docker.service',
      ...(partial ? { CONTAINER_PARTIAL_MESSAGE: 'true' } : {}),
    });
    await writeJournal(journalDir, [
      piece('long-1', 'a'.repeat(16384), true),
      piece('short-1', 'a short line in between', false),
      piece('long-1', 'b'.repeat(16384), true),
      piece('long-1', 'end', false),
    ]);
    await until(() => ofKey('journal.long-1').length === 1 && ofKey('journal.short-1').length === 1, 'the joined line and the short one');
    expect(ofKey('journal.long-1')[0].text).toBe(`${'a'.repeat(16384)}${'b'.repeat(16384)}end`);
    expect(ofKey('journal.short-1')[0].text).toBe('a short line in between');
  });

  it('publishes a binary MESSAGE in base64 with text_encoding, and keeps text with control characters and newlines as text', async () => {
    await writeJournal(journalDir, [
      { MESSAGE: Buffer.from([0xff, 0xfe, 0x00, 0x41]), _SYSTEMD_UNIT: 'blob.service', BLOB: Buffer.from([0x00, 0x01]) },
      { MESSAGE: '\x1b[31mred\x1b[0m alert', _SYSTEMD_UNIT: 'blob.service' },
      { MESSAGE: 'line one\nline two', _SYSTEMD_UNIT: 'blob.service' },
    ]);
    await until(() => ofKey('journal.blob').length === 3, 'the three blob entries');
    const [binary, coloured, multiLine] = ofKey('journal.blob');
    expect(binary).toMatchObject({ text: '//4AQQ==', text_encoding: 'base64', journal: { BLOB: { base64: 'AAE=' } } });
    expect(Buffer.from(binary.text, 'base64')).toEqual(Buffer.from([0xff, 0xfe, 0x00, 0x41]));
    expect(coloured.text).toBe('\x1b[31mred\x1b[0m alert');
    expect(coloured.text_encoding).toBeUndefined();
    expect(multiLine.text).toBe('line one\nline two');
  });

  it('cuts a unit flooding 1,000 entries with notices in its own stream while a quiet unit loses none of its 20', async () => {
    const entries: ExportEntry[] = [];
    for (let i = 0; i < 1000; i++) {
      entries.push({ MESSAGE: `noisy ${i}`, _SYSTEMD_UNIT: 'noisy.service' });
      if (i % 50 === 0) entries.push({ MESSAGE: `quiet ${i / 50}`, _SYSTEMD_UNIT: 'quiet.service' });
    }
    await writeJournal(journalDir, entries);
    await until(() => ofKey('journal.quiet').length === 20, 'every quiet entry');
    expect(ofKey('journal.quiet').map((e) => e.text)).toEqual(Array.from({ length: 20 }, (_, i) => `quiet ${i}`));

    const noisy = (): any[] => ofKey('journal.noisy');
    const begins = (): any[] => noisy().filter((e) => e.text === 'logyard: beginning to drop events from journal.noisy (rate limit 50/s)');
    const ends = (): any[] => noisy().filter((e) => /^logyard: dropped \d+ events from journal\.noisy since \S+ \(rate limit 50\/s\)$/.test(e.text));
    const passed = (): string[] => noisy().filter((e) => /^noisy \d+$/.test(e.text)).map((e) => e.text);
    const counted = (): number => ends().reduce((n, e) => n + Number(/dropped (\d+) events/.exec(e.text)![1]), 0);
    // The count comes once the flood is over (within a second, by the limiter's flush).
    await until(() => passed().length + counted() === 1000, 'every noisy entry passed or counted in a notice');
    expect(begins()).toHaveLength(1);
    // The burst of 100 (and what the rate refilled meanwhile) passes in order, then comes the notice.
    const texts = noisy().map((e) => e.text);
    const notice = texts.indexOf(begins()[0].text);
    expect(notice).toBeGreaterThanOrEqual(100);
    expect(texts.slice(0, notice)).toEqual(Array.from({ length: notice }, (_, i) => `noisy ${i}`));
    expect(passed().length).toBeLessThan(500);
    // Notices went only into the flooding unit's stream.
    expect(target.rawEvents.filter((r) => /^logyard: /.test(r.event.text)).every((r) => r.key === 'journal.noisy')).toBe(true);
    const stats = await until(async () => {
      const s = await clientStats();
      return s?.rateLimited === counted() ? s : null;
    }, 'rateLimited in logyard status');
    expect(stats).toMatchObject({ running: true, journal: journalDir, dropped: 0 });
  });

  it('resumes from its cursor after a stop: exactly the 3 entries written meanwhile arrive, across a reboot, none twice', async () => {
    const before = target.lines.length;
    expect((await client.stop('SIGTERM')).code).toBe(0);
    expect(savedCursor(node)).toBe(lastCursor(journalDir));
    // The first before a reboot, the others after it: entries of the previous boot after the
    // cursor are read too (journalctl --follow alone would start at the current boot).
    const nextBoot = 'fedcba9876543210fedcba9876543210';
    await writeJournal(journalDir, [1, 2, 3].map((i) => ({ MESSAGE: `while stopped ${i}`, _SYSTEMD_UNIT: 'restart.service', ...(i > 1 ? { _BOOT_ID: nextBoot } : {}) })));
    client = await startClient();
    await until(() => ofKey('journal.restart').length === 3, 'the 3 entries written while stopped');
    // Following goes on after the restart.
    await writeJournal(journalDir, [{ MESSAGE: 'after the restart', _SYSTEMD_UNIT: 'restart.service' }]);
    await until(() => ofKey('journal.restart').length === 4, 'the entry written after the restart');
    expect(ofKey('journal.restart').map((e) => e.text)).toEqual(['while stopped 1', 'while stopped 2', 'while stopped 3', 'after the restart']);
    // Nothing read before the stop came again.
    expect(target.lines.slice(before).map((l) => l.split(' ')[0])).toEqual(Array(4).fill('journal.restart'));
  });

  it('keeps the cursor of confirmed entries while running, so even kill -9 repeats and loses nothing once it is saved', async () => {
    await writeJournal(journalDir, [{ MESSAGE: 'before the kill', _SYSTEMD_UNIT: 'crash.service' }]);
    await until(() => ofKey('journal.crash').length === 1, 'the entry before the kill');
    // Saved within a second of the core confirming it.
    const cursor = lastCursor(journalDir);
    await until(() => savedCursor(node) === cursor, 'the cursor of the last entry saved');
    await client.stop('SIGKILL');
    await writeJournal(journalDir, [{ MESSAGE: 'while dead 1', _SYSTEMD_UNIT: 'crash.service' }, { MESSAGE: 'while dead 2', _SYSTEMD_UNIT: 'crash.service' }]);
    client = await startClient();
    await until(() => ofKey('journal.crash').length >= 3, 'the entries written while the client was dead');
    await writeJournal(journalDir, [{ MESSAGE: 'marker', _SYSTEMD_UNIT: 'crash.service' }]);
    await until(() => ofKey('journal.crash').length >= 4, 'the marker');
    expect(ofKey('journal.crash').map((e) => e.text)).toEqual(['before the kill', 'while dead 1', 'while dead 2', 'marker']);
  });

  it('saves no cursor past what the core has not confirmed: entries read while the core is down arrive once it is back', async () => {
    const readSoFar = (): number => JSON.parse(readFileSync(join(node.runDir, 'clients', 'journal.json'), 'utf8')).read;
    // Everything so far confirmed and counted (the counters file is written once a second).
    await until(() => savedCursor(node) === lastCursor(journalDir), 'the cursor of everything so far');
    const confirmed = savedCursor(node);
    let readBefore = -1;
    await until(async () => {
      const seen = readSoFar();
      await new Promise((r) => setTimeout(r, 1100));
      readBefore = readSoFar();
      return readBefore === seen;
    }, 'the read counter to settle');
    await node.stopCore('SIGTERM');
    await writeJournal(journalDir, Array.from({ length: 50 }, (_, i) => ({ MESSAGE: `core down ${i}`, _SYSTEMD_UNIT: 'coredown.service' })));
    await until(() => readSoFar() === readBefore + 50, 'the client to read the 50 entries');
    // Two ticks of the cursor saver later, the cursor still points before them.
    await new Promise((r) => setTimeout(r, 2100));
    expect(savedCursor(node)).toBe(confirmed);
    await node.startCore();
    await until(() => ofKey('journal.coredown').length >= 50, 'the 50 entries after the core came back', 20_000);
    expect(ofKey('journal.coredown').map((e) => e.text)).toEqual(Array.from({ length: 50 }, (_, i) => `core down ${i}`));
    await until(() => savedCursor(node) === lastCursor(journalDir), 'the cursor saved once the core confirmed them');
  });

  it('pauses reading while the core is down, stops at once when told, and reads again what the core never got', async () => {
    const readSoFar = (): number => JSON.parse(readFileSync(join(node.runDir, 'clients', 'journal.json'), 'utf8')).read;
    const before = readSoFar();
    await node.stopCore('SIGTERM');
    // 250 units of 100 entries: each within its burst, 25,000 in all, more than the 20,000 the client holds.
    const entries: ExportEntry[] = [];
    for (let i = 0; i < 25_000; i++) entries.push({ MESSAGE: `paused ${i}`, _SYSTEMD_UNIT: `bp-${i % 250}.service` });
    await writeJournal(journalDir, entries);
    await until(() => readSoFar() - before >= 20_000, 'the client to read up to its limit', 30_000);
    await new Promise((r) => setTimeout(r, 1500));
    // Paused: the rest waits in the journal.
    expect(readSoFar() - before).toBeLessThan(25_000);
    expect((await client.stop('SIGTERM')).code).toBe(0);
    await node.startCore();
    client = await startClient();
    // Counted without parsing each poll: 25,000 lines.
    const arrived = (): string[] => target.lines.filter((l) => l.startsWith('journal.bp-'));
    await until(() => arrived().length >= 25_000, 'all 25,000 entries', 60_000).catch((e) => {
      throw new Error(`${e}: ${arrived().length} arrived; stats ${readFileSync(join(node.runDir, 'clients', 'journal.json'), 'utf8')}; log ${client.log}`);
    });
    const texts = arrived().map((l) => JSON.parse(l.slice(l.indexOf(' ') + 1)).text);
    expect(texts).toHaveLength(25_000);
    expect(new Set(texts).size).toBe(25_000);
  }, 120_000);

  it('exits 1 naming journalctl when journalctl dies while following', async () => {
    const pid = execFileSync('pgrep', ['-P', String(client.child.pid), '-x', 'journalctl'], { encoding: 'utf8' }).trim();
    expect(pid).toMatch(/^\d+$/);
    const exited = new Promise<number | null>((r) => client.child.once('exit', (code) => r(code)));
    process.kill(Number(pid), 'SIGKILL');
    expect(await exited).toBe(1);
    expect(client.log).toContain(`logyard: journalctl was killed by SIGKILL while following the journal in ${journalDir}`);
    expect(client.log).not.toMatch(/\n\s+at /);
    client = await startClient();
  });
});

describe('logyard journal with journal.units and max_event', () => {
  const node = new TestNode('jr-units');
  const target = new TcpTarget();
  const journalDir = join(node.root, 'journal');
  let client: NodeProcess;

  beforeAll(async () => {
    mkdirSync(journalDir);
    await node.startCore();
    await target.listen();
    expect((await node.cli(['drain', 'add', 'jr', `tcp://127.0.0.1:${target.port}`, '-f', 'journal', '--format', 'raw'])).code).toBe(0);
    await until(async () => (await node.drainStatus('jr'))?.state === 'RUNNING', 'drain jr RUNNING');
    const config = writeNodeConfig(node, ['max_event: 4KiB', 'journal:', '  directory: journal', '  units: [nginx, "web-*"]'].join('\n') + '\n');
    client = new NodeProcess(node, ['-c', config, 'journal']);
    await client.logged(/journal: started/);
  });
  afterAll(async () => {
    await client?.stop('SIGKILL');
    await target.close();
    await node.cleanup();
  });

  it('reads only the units and containers its globs name, and counts the others as filtered', async () => {
    await writeJournal(journalDir, [
      { MESSAGE: 'from cron', _SYSTEMD_UNIT: 'cron.service' },
      { MESSAGE: 'from nginx', _SYSTEMD_UNIT: 'nginx.service' },
      { MESSAGE: 'from the kernel', SYSLOG_IDENTIFIER: 'kernel' },
      { MESSAGE: 'from web-2', CONTAINER_NAME: 'web-2', _SYSTEMD_UNIT: 'docker.service' },
      { MESSAGE: 'from db-1', CONTAINER_NAME: 'db-1', _SYSTEMD_UNIT: 'docker.service' },
      { MESSAGE: 'last', _SYSTEMD_UNIT: 'nginx.service' },
    ]);
    await until(() => target.lines.length === 3, 'the three selected entries');
    expect(target.rawEvents.map((r) => [r.key, r.event.text])).toEqual([
      ['journal.nginx', 'from nginx'],
      ['journal.web-2', 'from web-2'],
      ['journal.nginx', 'last'],
    ]);
    const stats = await until(async () => {
      const r = await node.cli(['status', '--json']);
      const s = JSON.parse(r.stdout).clients.find((c: { client: string }) => c.client === 'journal');
      return s?.read === 6 ? s : null;
    }, 'the counters');
    expect(stats).toMatchObject({ read: 6, filtered: 3, published: 3 });
  });

  it('skips an entry whose event would be larger than max_event and counts it as tooLong', async () => {
    await writeJournal(journalDir, [
      { MESSAGE: 'x'.repeat(5000), _SYSTEMD_UNIT: 'nginx.service' },
      { MESSAGE: 'after the long one', _SYSTEMD_UNIT: 'nginx.service' },
    ]);
    await until(() => target.lines.length === 4, 'the entry after the long one');
    expect(target.rawEvents[3].event.text).toBe('after the long one');
    await until(async () => {
      const r = await node.cli(['status', '--json']);
      return JSON.parse(r.stdout).clients.find((c: { client: string }) => c.client === 'journal')?.tooLong === 1;
    }, 'tooLong 1 in logyard status');
    expect(client.log).toMatch(/WARN journal: skipping an entry of journal\.nginx of \d+ bytes, larger than max_event \(4096; counted in tooLong\)/);
  });
});

describe('logyard journal without a journal to read', () => {
  const node = new TestNode('jr-bad');

  afterAll(() => node.cleanup());

  const noStackTrace = (stderr: string): void => expect(stderr).not.toMatch(/\n\s+at /);

  it('exits 2 with a clear message when journalctl is not on the PATH', async () => {
    const config = writeNodeConfig(node, `journal:\n  directory: ${node.root}\n`, 'on-path.yaml');
    const r = await node.cli(['-c', config, 'journal'], { env: { PATH: '/nonexistent' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("logyard: journalctl not found on the PATH: the journal client reads the journal with systemd's journalctl (Debian: apt install systemd)");
    noStackTrace(r.stderr);
  });

  it('exits 2 naming journal.directory when it is missing or not a directory', async () => {
    const missing = writeNodeConfig(node, 'journal:\n  directory: no-such-journal\n', 'missing.yaml');
    const r1 = await node.cli(['-c', missing, 'journal']);
    expect(r1.code).toBe(2);
    expect(r1.stderr).toContain(`logyard: journal.directory ${join(node.root, 'no-such-journal')}: no such directory`);
    noStackTrace(r1.stderr);

    const file = join(node.root, 'not-a-dir');
    writeFileSync(file, 'x');
    const notDir = writeNodeConfig(node, 'journal:\n  directory: not-a-dir\n', 'file.yaml');
    const r2 = await node.cli(['-c', notDir, 'journal']);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toContain(`logyard: journal.directory ${file}: not a directory`);
    noStackTrace(r2.stderr);
  });

  it('logyard config check names a journal.directory that cannot be read and the journal client without journalctl', async () => {
    const config = writeNodeConfig(node, 'status: off\nclients: [journal]\njournal:\n  directory: no-such-journal\n', 'check.yaml');
    const r = await node.cli(['config', 'check', config], { env: { PATH: '/nonexistent' } });
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n').filter(Boolean).sort()).toEqual([
      `${config}:2: clients[0]: journalctl not found on the PATH: the journal client reads the journal with systemd's journalctl (Debian: apt install systemd)`,
      `${config}:4: journal.directory: ${join(node.root, 'no-such-journal')}: no such directory`,
    ]);
  });

  it('under logyard start: the error is logged once and the client is not restarted', async () => {
    const config = writeNodeConfig(node, 'clients: [journal]\njournal:\n  directory: no-such-journal\n', 'start.yaml');
    const start = new NodeProcess(node, ['-c', config, 'start']);
    try {
      await start.logged(/client journal exited with code 2 .*not restarting/);
      expect(start.log).toContain(`journal.directory ${join(node.root, 'no-such-journal')}: no such directory`);
      // The first restart would come after 0.5 s; wait well past it.
      await new Promise((r) => setTimeout(r, 2000));
      expect(start.log.match(/client journal started/g)).toHaveLength(1);
      expect(start.child.exitCode).toBeNull();
    } finally {
      expect((await start.stop('SIGTERM')).code).toBe(0);
    }
  });
});
