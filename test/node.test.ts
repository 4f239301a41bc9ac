import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { readFileSync, symlinkSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Dealer } from 'zeromq';
import Redis from 'ioredis';
import { TcpTarget, TestNode, until } from './helpers/cli.js';

/**
 * A working node end to end (issue 2): the real `logyard` command, a real core process,
 * real ZeroMQ sockets, real TCP listeners, a real redis-server and real files.
 */
describe('a node on the embedded store', () => {
  const node = new TestNode('node-a');
  const targets: TcpTarget[] = [];

  beforeAll(async () => {
    await node.startCore();
  });
  afterAll(async () => {
    for (const t of targets) await t.close();
    await node.cleanup();
  });

  async function target(): Promise<TcpTarget> {
    const t = await new TcpTarget().listen();
    targets.push(t);
    return t;
  }

  async function addDrain(name: string, uri: string, ...extra: string[]): Promise<void> {
    const r = await node.cli(['drain', 'add', name, uri, ...extra]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    await until(async () => (await node.drainStatus(name))?.state === 'RUNNING', `drain ${name} RUNNING`);
  }

  it('sends a filtered stream to a tcp drain as JSON events', async () => {
    const t = await target();
    await addDrain('a-only', `tcp://127.0.0.1:${t.port}`, '--filter', 'systail.a');
    expect((await node.cli(['publish', 'systail.a.x', 'hello'])).code).toBe(0);
    expect((await node.cli(['publish', 'systail.b.x', 'not for this drain'])).code).toBe(0);
    expect((await node.cli(['publish', 'systail.a.y', 'second'])).code).toBe(0);
    await until(() => t.lines.length >= 2, 'two events at the target');
    const [first, second] = t.events;
    expect(first).toMatchObject({ text: 'hello', node_id: 'node-a' });
    expect(typeof first.unix_time).toBe('number');
    expect(first.human_time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+[+-]\d\d:\d\d$/);
    expect(second.text).toBe('second');
    await new Promise((r) => setTimeout(r, 200));
    expect(t.events.map((e) => e.text)).toEqual(['hello', 'second']);
  });

  it('delivers 2,000 lines piped into publish, all of them, in order', async () => {
    const t = await target();
    await addDrain('piped', `tcp://127.0.0.1:${t.port}?filter=bulk.pipe`);
    const input = Array.from({ length: 2000 }, (_, i) => `line ${i}`).join('\n') + '\n';
    const r = await node.cli(['publish', 'bulk.pipe'], { input });
    expect(r.code).toBe(0);
    await until(() => t.lines.length >= 2000, '2000 lines at the target');
    expect(t.events.map((e) => e.text)).toEqual(Array.from({ length: 2000 }, (_, i) => `line ${i}`));
  });

  it('keeps fields of --json events', async () => {
    const t = await target();
    await addDrain('json-in', `tcp://127.0.0.1:${t.port}?filter=app.json`);
    const r = await node.cli(['publish', 'app.json', '--json', '{"text":"with fields","level":"warn","n":3}']);
    expect(r.code).toBe(0);
    await until(() => t.lines.length >= 1, 'the event');
    expect(t.events[0]).toMatchObject({ text: 'with fields', level: 'warn', n: 3, node_id: 'node-a' });
  });

  it('keeps the 5 newest events in a redis list with limit=5, under the key asked for', async () => {
    const port = inject('redisPort');
    const redis = new Redis({ port, host: '127.0.0.1', db: 3 });
    try {
      await redis.del('recent-five');
      await addDrain('redis-five', `redis://127.0.0.1:${port}/3?filter=redis.test&limit=5&key=recent-five`);
      const texts = Array.from({ length: 12 }, (_, i) => `event ${i}`);
      expect((await node.cli(['publish', 'redis.test.one', ...texts])).code).toBe(0);
      await until(async () => (await redis.lrange('recent-five', 0, -1)).some((v) => v.includes('event 11')), 'the newest event in redis');
      const kept = (await redis.lrange('recent-five', 0, -1)).map((v) => JSON.parse(v).text);
      expect(kept).toEqual(['event 11', 'event 10', 'event 9', 'event 8', 'event 7']);
    } finally {
      redis.disconnect();
    }
  });

  it('appends to a file drain; a path outside file_drain_roots goes FATAL alone', async () => {
    const path = join(node.filesDir, 'app.log');
    writeFileSync(path, 'already here\n');
    await addDrain('to-file', `file://${path}?filter=file.test&format={{text}}`);
    const outside = join(node.stateDir, 'outside.log');
    mkdirSync(join(node.filesDir, 'sub'), { recursive: true });
    symlinkSync(node.root, join(node.filesDir, 'escape'));
    const viaDots = `file://${node.filesDir}/sub/../../outside.log`;
    const viaLink = `file://${node.filesDir}/escape/outside2.log`;
    for (const [name, uri] of [['dots', viaDots], ['link', viaLink]]) {
      const r = await node.cli(['drain', 'add', name, uri]);
      // Another node's file_drain_roots may take it: added, with a warning for this node.
      expect(r.code).toBe(0);
      expect(r.stderr).toMatch(new RegExp(`^logyard: warning: drain ${name}: file drain path ".*" (\\(resolves to ".*"\\) )?is outside file_drain_roots \\(.*\\); it goes FATAL on this node and on every node with the same file_drain_roots\n$`));
    }
    await until(async () => (await node.drainStatus('dots'))?.state === 'FATAL', 'dots FATAL');
    await until(async () => (await node.drainStatus('link'))?.state === 'FATAL', 'link FATAL');
    expect((await node.drainStatus('dots')).error).toContain(outside);
    expect((await node.drainStatus('link')).error).toContain('outside2.log');
    expect((await node.drainStatus('to-file')).state).toBe('RUNNING');

    expect((await node.cli(['publish', 'file.test', 'one', 'two'])).code).toBe(0);
    await until(() => readFileSync(path, 'utf8').includes('two'), 'lines in the file');
    expect(readFileSync(path, 'utf8')).toBe('already here\none\ntwo\n');
    expect(existsSync(outside)).toBe(false);

    // The store's copy of the counters trails the core by up to a second.
    const status = await until(async () => {
      const r = await node.cli(['drain', 'status', 'dots', 'to-file']);
      return /^to-file\s+node-a\s+RUNNING\s+2\s/m.test(r.stdout) ? r : null;
    }, 'drain status showing 2 sent');
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/^NAME\s+NODE\s+STATE\s+SENT\s+DROPPED\s+ERROR$/m);
    expect(status.stdout).toMatch(/^dots\s+node-a\s+FATAL\s+0\s+0\s+.*outside/m);
    expect(status.stdout).toMatch(/^to-file\s+node-a\s+RUNNING\s+2\s+0/m);
    for (const name of ['dots', 'link']) await node.cli(['drain', 'delete', name]);
  });

  it('keeps events for a dead target, delivers them when it comes up, and tells what it had to drop', async () => {
    const t = new TcpTarget();
    await t.listen();
    const port = t.port;
    await t.close(); // the port is now free: the target is "down"
    expect((await node.cli(['drain', 'add', 'down', `tcp://127.0.0.1:${port}?filter=retry.test&buffer=5`])).code).toBe(0);
    const retrying = await until(async () => {
      const s = await node.drainStatus('down');
      return s?.state === 'RETRYING' ? s : null;
    }, 'RETRYING');
    expect(retrying.error).toMatch(/ECONNREFUSED/);
    // `drain status` reads the node's status document in the store, written within a second of the
    // state change (the core's own API above answers at once).
    const drainStatus = await until(async () => {
      const r = await node.cli(['drain', 'status', 'down']);
      return /^down\s/m.test(r.stdout) ? r : null;
    }, 'the RETRYING row in drain status');
    expect(drainStatus.stdout).toMatch(/^down\s+node-a\s+RETRYING\s+0\s+0\s+.*ECONNREFUSED/m);

    const texts = Array.from({ length: 12 }, (_, i) => `waiting ${i}`);
    expect((await node.cli(['publish', 'retry.test', ...texts])).code).toBe(0);
    await until(async () => (await node.drainStatus('down')).buffered === 5, 'five buffered');

    const up = await new TcpTarget().listen(port);
    targets.push(up);
    await until(() => up.lines.length >= 6, 'the notice and the 5 newest', 15_000);
    const [notice, ...rest] = up.events;
    expect(notice.text).toMatch(/^logyard: dropped 7 events for drain down since \S+ \(buffer full\)$/);
    expect(rest.map((e) => e.text)).toEqual(texts.slice(7));
    const s = await until(async () => {
      const st = await node.drainStatus('down');
      return st.state === 'RUNNING' ? st : null;
    }, 'RUNNING again');
    expect(s.dropped.buffer_full).toBe(7);
  });

  it('stops a deleted drain at once and restarts only the drain whose URI changed', async () => {
    const a = await target();
    const b = await target();
    const c = await target();
    await addDrain('keep', `tcp://127.0.0.1:${a.port}?filter=change.test`);
    await addDrain('gone', `tcp://127.0.0.1:${b.port}?filter=change.test`);
    expect((await node.cli(['publish', 'change.test', 'before'])).code).toBe(0);
    await until(() => a.lines.length === 1 && b.lines.length === 1, 'both drains got the first event');
    const keepSince = (await node.drainStatus('keep')).since;

    const del = await node.cli(['drain', 'delete', 'gone']);
    expect(del).toMatchObject({ code: 0, stdout: 'deleted drain gone\n' });
    await until(async () => (await node.drainStatus('gone')) === undefined, 'the drain gone from the core', 1000);
    expect((await node.cli(['publish', 'change.test', 'after delete'])).code).toBe(0);
    await until(() => a.lines.length === 2, 'the kept drain got it');
    await new Promise((r) => setTimeout(r, 300));
    expect(b.lines.length).toBe(1);

    await addDrain('gone', `tcp://127.0.0.1:${b.port}?filter=change.test`);
    const goneSince = (await node.drainStatus('gone')).since;
    await node.cli(['drain', 'add', 'gone', `tcp://127.0.0.1:${c.port}?filter=change.test`]);
    await until(async () => (await node.drainStatus('gone'))?.uri.includes(String(c.port)), 'the new URI running');
    expect((await node.drainStatus('gone')).since).toBeGreaterThanOrEqual(goneSince);
    expect((await node.drainStatus('keep')).since).toBe(keepSince);
    expect((await node.cli(['publish', 'change.test', 'after change'])).code).toBe(0);
    await until(() => c.lines.length === 1 && a.lines.length === 3, 'the changed drain at its new target');
    expect(c.events[0].text).toBe('after change');
  });

  it('lists drains sorted, passwords hidden', async () => {
    await node.cli(['drain', 'add', 'zz-secret', 'redis://:hunter2@127.0.0.1:1/?filter=nothing.here']);
    const list = await node.cli(['drain', 'list']);
    expect(list.code).toBe(0);
    const names = list.stdout.trim().split('\n').map((l) => l.split(/\s+/)[0]);
    expect(names).toEqual([...names].sort());
    expect(list.stdout).toMatch(/^zz-secret\s+redis:\/\/:\*\*\*@127\.0\.0\.1:1\/\?filter=nothing\.here$/m);
    expect(list.stdout).not.toContain('hunter2');
    const status = await node.cli(['drain', 'status', '--json']);
    expect(status.stdout).not.toContain('hunter2');
    expect(node.coreLog).not.toContain('hunter2');
    await node.cli(['drain', 'delete', 'zz-secret']);
  });

  it('counts garbage sent to its socket and carries on', async () => {
    const t = await target();
    await addDrain('after-garbage', `tcp://127.0.0.1:${t.port}?filter=garbage.test`);
    const dealer = new Dealer();
    dealer.connect(`ipc://${join(node.runDir, 'publish.sock')}`);
    await dealer.send(Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x00, 0x0a]));
    await dealer.send('LY1\nthis is not an event\nbad..key {"text":"x"}\n');
    await dealer.send(['two', 'frames']);
    dealer.close();
    await until(async () => (await node.status()).events.malformed.bad_batch >= 2, 'garbage counted');
    const { malformed } = (await node.status()).events;
    expect(malformed).toMatchObject({ bad_batch: 2, bad_key: 1, bad_event: 1 });
    expect((await node.cli(['publish', 'garbage.test', 'still alive'])).code).toBe(0);
    await until(() => t.lines.length === 1, 'the event after the garbage');
    const status = await node.cli(['status']);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/core\s+running, node node-a/);
    expect(status.stdout).toMatch(/malformed: 2 bad_batch, 1 bad_key, 1 bad_event/);
    // The core's log says what it dropped and shows the first of it, once a minute per reason.
    expect(node.coreLog).toContain('WARN dropping 1 event (not one JSON object in UTF-8) from a local publisher, the first beginning "this is not an event" (counted in malformed bad_event; logged at most once a minute)');
    expect(node.coreLog).toContain('WARN dropping 1 event (key not valid) from a local publisher, the first beginning "bad..key {\\"text\\":\\"x\\"}"');
    expect(node.coreLog).toMatch(/WARN dropping a message that is not a batch from a local publisher, the first beginning ".*" \(counted in malformed bad_batch/);
  });

  it('drops and counts the events of a publisher that did not check them and that are not one JSON object in UTF-8: a drain gets the others', async () => {
    const t = await target();
    await addDrain('foreign', `tcp://127.0.0.1:${t.port}?filter=foreign.test`);
    const before = (await node.status()).events.malformed.bad_event;
    const lines = (n: number): Buffer[] => [
      Buffer.from(`LY1\nforeign.test {"text":"good ${n}"}\n`),
      Buffer.from('foreign.test {"text":"trailing comma",}\n'),
      Buffer.from('foreign.test {"text":"two"} {"text":"objects"}\n'),
      Buffer.concat([Buffer.from('foreign.test {"text":"latin-1 '), Buffer.of(0xe9), Buffer.from('"}\n')]),
      Buffer.from(`foreign.test { "text" : "good ${n + 1}", "n": [1, {"a": null}] }\n`),
    ];
    // A publisher written by hand: a bare batch, and a sequenced one whose header vouches for nothing.
    const dealer = new Dealer();
    dealer.connect(`ipc://${join(node.runDir, 'publish.sock')}`);
    await dealer.send(Buffer.concat(lines(1)));
    await dealer.send(['LY2 B foreign-1 0 5 0', Buffer.concat(lines(3))]);
    await until(() => t.lines.length >= 4, 'the good events of both batches');
    dealer.close();
    expect(t.lines.map((l) => JSON.parse(l).text)).toEqual(['good 1', 'good 2', 'good 3', 'good 4']);
    expect(t.lines[1]).toBe('{ "text" : "good 2", "n": [1, {"a": null}] }');
    expect((await node.status()).events.malformed.bad_event - before).toBe(6);
  });

  it('refuses a second core on the same run_dir', async () => {
    const r = await node.cli(['core']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^logyard: another core \(pid \d+\) is running on .*run/);
    expect((await node.status()).node_id).toBe('node-a');
  });
});

describe('bad input', () => {
  const node = new TestNode('node-bad');
  afterAll(() => node.cleanup());

  const cases: Array<[string, string[], number, RegExp]> = [
    ['unknown scheme', ['drain', 'add', 'x', 'gopher://h:1'], 2, /scheme "gopher"/],
    ['bad port', ['drain', 'add', 'x', 'tcp://127.0.0.1:99999'], 2, /port "99999"/],
    ['relative file path', ['drain', 'add', 'x', 'file://logs/x.log'], 2, /path .*must be absolute/],
    ['unknown param', ['drain', 'add', 'x', 'tcp://127.0.0.1:9?colour=red'], 2, /param "colour"/],
    ['bad drain name', ['drain', 'add', 'no/slash', 'tcp://127.0.0.1:9'], 2, /no\/slash/],
    ['bad key', ['publish', 'bad key', 'x'], 2, /"bad key"/],
    ['unknown drain name', ['drain', 'delete', 'nope'], 1, /no drain named nope/],
    ['unknown command', ['frobnicate'], 2, /frobnicate/],
    ['no core', ['publish', 'a.b', 'x'], 1, /no core running/],
    ['status without core', ['status'], 1, /no core running/],
  ];
  for (const [what, args, code, message] of cases) {
    it(`${what}: exit ${code} with one line naming it`, async () => {
      const r = await node.cli(args);
      expect(r.code).toBe(code);
      const firstLine = r.stderr.split('\n')[0];
      expect(firstLine).toMatch(message);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    });
  }

  const badConfigs: Array<[string, string, string]> = [
    ['a bad value', 'systail:\n  max_line: -1\n', '2: systail.max_line: must be a positive integer'],
    ['an etcd store without a host', 'store: etcd://\n', '1: store: etcd:// must be followed by host:port'],
    ['a bad max_event', 'max_event: lots\n', '1: max_event: must be a size such as 1MiB'],
    // "billion laughs": nine levels of nine aliases would expand into 387 million strings.
    ['a YAML alias bomb', billionLaughs(), '2: b: expands too many YAML aliases'],
  ];
  for (const [what, yaml, lineKeyAndProblem] of badConfigs) {
    it(`a config with ${what} names the file and the key, exit 2`, async () => {
      const file = join(node.root, 'bad.yaml');
      writeFileSync(file, yaml);
      const r = await node.cli(['-c', file, 'drain', 'list']);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`logyard: ${file}:${lineKeyAndProblem}`);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    });
  }
});

function billionLaughs(): string {
  const names = 'abcdefghi';
  const lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]'];
  for (let i = 1; i < names.length; i++) lines.push(`${names[i]}: &${names[i]} [${Array(9).fill(`*${names[i - 1]}`).join(', ')}]`);
  return lines.join('\n') + '\n';
}

