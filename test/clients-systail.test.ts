import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendFileSync, copyFileSync, existsSync, mkdirSync, renameSync, rmSync, symlinkSync, truncateSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TcpTarget, TestNode, until } from './helpers/cli.js';
import { NodeProcess, writeNodeConfig } from './helpers/clients.js';

/** systail (issue 4): real files, a real core, a real systail process, a real TCP drain. */
describe('systail', () => {
  const node = new TestNode('sys-node');
  const logs = join(node.root, 'logs');
  const target = new TcpTarget();
  let config = '';
  let systail: NodeProcess | null = null;

  const lines = (): Array<{ text: string; name: string; node_id: string }> => target.events;
  const texts = (prefix: string): string[] => lines().map((e) => e.text).filter((t) => t.startsWith(prefix));
  const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 400));

  beforeAll(async () => {
    mkdirSync(join(logs, 'apps'), { recursive: true });
    writeFileSync(join(logs, 'main.log'), 'old line 1\nold line 2\n');
    writeFileSync(join(logs, 'fast.log'), '');
    symlinkSync(join(logs, 'nowhere'), join(logs, 'apps', 'broken.log'));
    config = writeNodeConfig(
      node,
      [
        'systail:',
        '  max_line: 100',
        '  files:',
        `    main: ${join(logs, 'main.log')}`,
        `    late: ${join(logs, 'late.log')}`,
        `    fast: ${join(logs, 'fast.log')}`,
        `    app-*: ${join(logs, 'apps', '*.log')}`,
      ].join('\n') + '\n',
    );
    await node.startCore();
    await target.listen();
    const r = await node.cli(['drain', 'add', 'sys', `tcp://127.0.0.1:${target.port}`, '--filter', 'systail']);
    expect(r.code).toBe(0);
    await until(async () => (await node.drainStatus('sys'))?.state === 'RUNNING', 'drain RUNNING');
    systail = new NodeProcess(node, ['-c', config, 'systail']);
    await systail.logged(/systail: started/);
  });
  afterAll(async () => {
    await systail?.stop('SIGKILL');
    await target.close();
    await node.cleanup();
  });

  it('sends 100 appended lines once each, and nothing from before the start', async () => {
    for (let i = 0; i < 100; i++) appendFileSync(join(logs, 'main.log'), `append ${i}\n`);
    await until(() => texts('append ').length >= 100, '100 lines');
    await settle();
    expect(texts('append ')).toEqual(Array.from({ length: 100 }, (_, i) => `append ${i}`));
    expect(texts('old line')).toEqual([]);
    const e = lines().find((x) => x.text === 'append 0')!;
    expect(e).toMatchObject({ name: 'main', node_id: 'sys-node' });
  });

  it('follows rotation by rename+create, with a last line written to the old file after the rename', async () => {
    const main = join(logs, 'main.log');
    appendFileSync(main, 'rot before\n');
    renameSync(main, `${main}.1`);
    appendFileSync(`${main}.1`, 'rot last in old file\n');
    writeFileSync(main, 'rot new 0\n');
    for (let i = 1; i < 10; i++) appendFileSync(main, `rot new ${i}\n`);
    await until(() => texts('rot ').length >= 12, '12 lines around the rotation');
    await settle();
    const got = texts('rot ');
    expect([...got].sort()).toEqual(['rot before', 'rot last in old file', ...Array.from({ length: 10 }, (_, i) => `rot new ${i}`)].sort());
    expect(got.filter((t) => t.startsWith('rot new'))).toEqual(Array.from({ length: 10 }, (_, i) => `rot new ${i}`));
  });

  it('reads every line of a file rotated four times in a row, and tells in its stream when rotation removed files before they were read', async () => {
    const fast = join(logs, 'fast.log');
    let n = 0;
    const write = (count: number): void => {
      for (let i = 0; i < count; i++) appendFileSync(fast, `fast ${++n}\n`);
    };
    /** As Docker's json-file and logrotate rotate: drop the oldest, shift the others, rename, create. */
    const rotate = (maxFiles: number): void => {
      rmSync(`${fast}.${maxFiles - 1}`, { force: true });
      for (let i = maxFiles - 1; i > 1; i--) if (existsSync(`${fast}.${i - 1}`)) renameSync(`${fast}.${i - 1}`, `${fast}.${i}`);
      renameSync(fast, `${fast}.1`);
      writeFileSync(fast, '');
    };
    write(5);
    await until(() => texts('fast ').length >= 5, 'the first lines');
    // systail is stopped (SIGSTOP) while the file rotates, so it finds all rotations at once.
    systail.child.kill('SIGSTOP');
    for (let r = 0; r < 4; r++) {
      rotate(5);
      write(5);
    }
    systail.child.kill('SIGCONT');
    await until(() => texts('fast ').length >= 25, '25 lines', 30_000); // a loaded machine may take a while to resume the stopped systail
    expect(texts('fast ')).toEqual(Array.from({ length: 25 }, (_, i) => `fast ${i + 1}`));
    // Now faster than files are kept: 6 rotations with 2 rotated files kept lose 3 files.
    for (const old of [3, 4]) rmSync(`${fast}.${old}`);
    systail.child.kill('SIGSTOP');
    for (let r = 0; r < 6; r++) {
      rotate(3);
      write(5);
    }
    systail.child.kill('SIGCONT');
    const notice = await until(() => lines().find((e) => e.text.startsWith(`logyard: ${fast} was rotated faster than it could be read`)), 'the notice');
    expect(notice.text).toMatch(/: [1-3] rotated files? (was|were) removed unread, lines written after \S+ are missing$/);
    expect(notice.name).toBe('fast');
    await until(() => texts('fast ').length >= 40, 'the lines left');
    await settle();
    expect(texts('fast ').slice(25)).toEqual(Array.from({ length: 15 }, (_, i) => `fast ${i + 41}`));
  });

  it('follows copytruncate', async () => {
    const main = join(logs, 'main.log');
    for (let i = 0; i < 20; i++) appendFileSync(main, `ct before ${i} ${'x'.repeat(40)}\n`);
    await until(() => texts('ct before').length >= 20, 'lines before the truncation');
    copyFileSync(main, `${main}.2`);
    truncateSync(main, 0);
    await new Promise((r) => setTimeout(r, 300));
    for (let i = 0; i < 5; i++) appendFileSync(main, `ct after ${i}\n`);
    await until(() => texts('ct after').length >= 5, 'lines after the truncation');
    await settle();
    expect(texts('ct after')).toEqual(Array.from({ length: 5 }, (_, i) => `ct after ${i}`));
    expect(texts('ct before').length).toBe(20);
  });

  it('picks up files created after the start (a named one and one of a glob) from their first line', async () => {
    writeFileSync(join(logs, 'late.log'), 'late 0\nlate 1\n');
    writeFileSync(join(logs, 'apps', 'web.log'), 'web 0\n');
    await until(() => texts('late ').length >= 2 && texts('web ').length >= 1, 'the late files');
    const late = lines().find((e) => e.text === 'late 0')!;
    expect(late.name).toBe('late');
    expect(lines().find((e) => e.text === 'web 0')!.name).toBe('web');
  });

  it('splits long lines at max_line, skips binary junk and counts it and the unreadable file, and goes on', async () => {
    const main = join(logs, 'main.log');
    appendFileSync(main, `long ${'y'.repeat(245)}\n`);
    appendFileSync(main, Buffer.concat([Buffer.from('junk \x00\x01\x02 '), Buffer.from([0xff, 0xfe, 0x0a]), Buffer.from('after junk\n')]));
    await until(() => texts('after junk').length === 1, 'the line after the junk');
    const long = lines().filter((e) => e.text.startsWith('long ') || /^y+$/.test(e.text));
    expect(long.map((e) => Buffer.byteLength(e.text))).toEqual([100, 100, 50]);
    expect(texts('junk')).toEqual([]);
    await until(() => {
      const s = JSON.parse(readFileSync(join(node.runDir, 'clients', 'systail.json'), 'utf8'));
      return s.binary === 1 && s.unreadable === 1 && s.split === 1;
    }, 'the counters in run_dir/clients/systail.json');
    expect(systail!.log).toMatch(/cannot read .*broken\.log/);
  });

  it('loses and repeats nothing when restarted in the middle of a stream of 10,000 lines', async () => {
    const file = join(logs, 'apps', 'stream.log');
    writeFileSync(file, '');
    await until(() => JSON.parse(readFileSync(join(node.runDir, 'clients', 'systail.json'), 'utf8')).files >= 4, 'stream.log followed');
    let written = 0;
    const writeSome = (n: number): void => {
      let chunk = '';
      for (let i = 0; i < n && written < 10_000; i++) chunk += `stream ${written++}\n`;
      appendFileSync(file, chunk);
    };
    const writer = setInterval(() => writeSome(50), 2);
    await until(() => written >= 3000, '3000 lines written');
    await systail!.stop('SIGTERM');
    writeSome(500); // written while systail is down
    systail = new NodeProcess(node, ['-c', config, 'systail']);
    await systail.logged(/systail: started/);
    await until(() => written >= 10_000, 'all lines written', 30_000);
    clearInterval(writer);
    await until(() => texts('stream ').length >= 10_000, '10,000 lines at the target', 30_000);
    await settle();
    const got = texts('stream ');
    expect(got.length).toBe(10_000);
    expect(new Set(got).size).toBe(10_000);
    expect(got).toEqual(Array.from({ length: 10_000 }, (_, i) => `stream ${i}`));
  });
});
