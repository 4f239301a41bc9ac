import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { Dealer } from 'zeromq';
import { LOGYARD_BIN, TcpTarget, TestNode, until } from './helpers/cli.js';
import { NodeProcess, writeNodeConfig } from './helpers/clients.js';

/**
 * max_event (docs/configuration.md): no event longer than max_event gets into the bus, on any
 * path: `logyard publish` (arguments and a streamed stdin), systail, and a publisher that sends
 * one anyway (the core refuses it). A real core, real ZeroMQ, a real TCP drain, real files.
 */
const MAX = 64 * 1024;
const NO_STACK = /\n\s+at /;

describe('max_event 64KiB', () => {
  const node = new TestNode('node-max');
  const target = new TcpTarget();
  let config = '';
  const logs = join(node.root, 'logs');

  beforeAll(async () => {
    execFileSync('mkdir', ['-p', logs]);
    config = writeNodeConfig(node, `max_event: 64KiB\nsystail:\n  max_line: 1000000\n  files:\n    big: ${join(logs, 'big.log')}\n`);
    await node.startCore(['-c', config]);
    await target.listen();
    // format=json: each line on the target is the event as it travelled the bus.
    const r = await node.cli(['-c', config, 'drain', 'add', 'all', `tcp://127.0.0.1:${target.port}`, '--filter', 'big', '--filter', 'systail.big']);
    expect(r.stderr).toBe('');
    await until(async () => (await node.drainStatus('all'))?.state === 'RUNNING', 'drain RUNNING');
  });
  afterAll(async () => {
    await target.close();
    await node.cleanup();
  });

  /** The events on the target whose text starts with `marker`, as their raw JSON lines. */
  const linesOf = (marker: string): string[] => target.lines.filter((l) => JSON.parse(l).text.startsWith(marker));

  it('publish splits a 5 MB stdin line into events of at most max_event that join to the line', async () => {
    const line = 'long1 ' + 'x'.repeat(5_000_000) + ' "quoted" \t end';
    const r = await node.cli(['-c', config, 'publish', 'big.stdin'], { input: `${line}\nshort1 after\n` });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(`logyard: 1 stdin lines were longer than max_event (${MAX} bytes), each split into several events\n`);
    await until(() => target.lines.some((l) => l.includes('short1 after')), 'the line after the long one');
    const all = target.events;
    const pieces = all.slice(0, all.findIndex((e) => e.text === 'short1 after'));
    expect(pieces.map((e) => e.text).join('')).toBe(line);
    for (const l of target.lines) expect(Buffer.byteLength(l)).toBeLessThanOrEqual(MAX);
    expect(pieces.length).toBeGreaterThanOrEqual(Math.ceil(5_000_000 / MAX));
  });

  it('publish --json refuses a stdin object longer than max_event, naming its line, and sends the rest', async () => {
    const big = JSON.stringify({ text: 'json-big ' + 'y'.repeat(100_000) });
    const input = `{"text":"json-small 1"}\n${big}\n{"text":"json-small 3"}\n`;
    const r = await node.cli(['-c', config, 'publish', 'big.json', '--json'], { input });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`logyard: stdin line 2: longer than max_event (${MAX} bytes), skipped\n`);
    expect(r.stderr).toContain('logyard: 1 stdin lines were not valid events and were skipped\n');
    expect(r.stderr).not.toMatch(NO_STACK);
    await until(() => linesOf('json-small').length === 2, 'both small objects');
    expect(linesOf('json-big')).toEqual([]);
  });

  it('publish --json refuses an argument longer than max_event before sending anything', async () => {
    const r = await node.cli(['-c', config, 'publish', 'big.arg', '--json', '{"text":"arg-ok"}', JSON.stringify({ text: 'arg-big ' + 'z'.repeat(70_000) })]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`logyard: TEXT 2: longer than max_event (${MAX} bytes)\n`);
  });

  it('publish splits a text argument longer than max_event', async () => {
    const text = 'arg-long ' + 'w'.repeat(100_000);
    const r = await node.cli(['-c', config, 'publish', 'big.arg2', text]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe(`logyard: 1 texts were longer than max_event (${MAX} bytes), each split into several events\n`);
    await until(() => target.lines.filter((l) => l.includes('www')).map((l) => JSON.parse(l).text).join('').includes(text), 'the pieces');
  });

  it('the core refuses an event longer than max_event from a publisher that sends one anyway, and takes the rest of its batch', async () => {
    const before = (await node.status()).events.malformed.too_long;
    const dealer = new Dealer({ linger: 1000 });
    dealer.connect(`ipc://${join(node.runDir, 'publish.sock')}`);
    const huge = JSON.stringify({ text: 'raw-huge ' + 'h'.repeat(200_000), node_id: 'n', unix_time: 1, human_time: 'x' });
    const ok = JSON.stringify({ text: 'raw-ok', node_id: 'n', unix_time: 1, human_time: 'x' });
    await dealer.send(`LY1\nbig.raw ${huge}\nbig.raw ${ok}\n`);
    await until(() => linesOf('raw-ok').length === 1, 'the event beside the long one');
    expect((await node.status()).events.malformed.too_long).toBe(before + 1);
    expect(linesOf('raw-huge')).toEqual([]);
    dealer.close();
    const r = await node.cli(['status']);
    expect(r.stdout).toMatch(/malformed: 1 too_long/);
  });

  it('systail cuts a line of a file so that no event is longer than max_event, whatever max_line', async () => {
    const systail = new NodeProcess(node, ['-c', config, 'systail']);
    try {
      await systail.logged(/systail: started/);
      await new Promise((r) => setTimeout(r, 500));
      const line = 'sys-long ' + 'é'.repeat(150_000);
      appendFileSync(join(logs, 'big.log'), `${line}\nsys-short\n`);
      await until(() => target.lines.some((l) => l.includes('sys-short')), 'the line after the long one');
      const pieces = target.lines.map((l) => JSON.parse(l)).filter((e) => e.name === 'big' && e.text !== 'sys-short');
      expect(pieces.length).toBeGreaterThan(1);
      expect(pieces.map((e) => e.text).join('')).toBe(line);
      for (const l of target.lines) expect(Buffer.byteLength(l)).toBeLessThanOrEqual(MAX);
      // Cut for max_event, not for max_line (1,000,000 bytes): counted as split, as receive does.
      await until(() => JSON.parse(readFileSync(join(node.runDir, 'clients', 'systail.json'), 'utf8')).split === 1, 'the split counted');
    } finally {
      await systail.stop('SIGKILL');
    }
  });
});

describe('a 100 MB line, default max_event', () => {
  const node = new TestNode('node-huge');
  beforeAll(() => node.startCore());
  afterAll(() => node.cleanup());

  it('publish streams it as 1 MiB events, and neither it nor the core holds the line', async () => {
    // head | tr: the line is never in this test's memory either.
    const child = spawn('sh', ['-c', `head -c 100000000 /dev/zero | tr '\\0' a | "${process.execPath}" "${LOGYARD_BIN}" ${node.flags.join(' ')} publish huge.line; echo "rc=$?" >&2`], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    await new Promise((r) => child.once('close', r));
    expect(stderr).toBe(`logyard: 1 stdin lines were longer than max_event (1048576 bytes), each split into several events\nrc=0\n`);
    const status = await node.status();
    expect(status.events.in).toBeGreaterThanOrEqual(96);
    expect(status.events.in).toBeLessThanOrEqual(100);
    // Peak resident memory of the core: a 100 MB event would have cost it several times that.
    const peakKb = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${node.core!.pid}/status`, 'utf8'))![1]);
    expect(peakKb).toBeLessThan(250 * 1024);
  }, 120_000);
});
