import { createServer, type AddressInfo, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { DrainStatus } from '../src/index.js';
import { closeDrains, eventJson, listenForLines, makeDrain, NODE_ID, unusedPort, waitFor, waitForState, type LineServer } from './helpers.js';

const servers: LineServer[] = [];
async function lineServer(port?: number): Promise<LineServer> {
  const server = await listenForLines(port);
  servers.push(server);
  return server;
}

afterEach(async () => {
  await closeDrains();
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

describe('tcp drain', () => {
  it('delivers every event as a line, in order, and counts them', async () => {
    const server = await lineServer();
    const drain = makeDrain('ordered', `tcp://127.0.0.1:${server.port}`);
    drain.start();
    await waitForState(drain, 'RUNNING');
    const total = 2500; // several batches
    for (let i = 0; i < total; i++) drain.push('systail.app', eventJson(`line ${i}`));
    await waitFor('all lines', () => server.lines.length >= total, undefined, drain);
    expect(server.lines.map((line) => JSON.parse(line).text)).toEqual(Array.from({ length: total }, (_, i) => `line ${i}`));
    expect(drain.status()).toMatchObject({ name: 'ordered', state: 'RUNNING', sent: total, buffered: 0, dropped: { buffer_full: 0 } });
  });

  it('formats lines with the drain format', async () => {
    const server = await lineServer();
    const drain = makeDrain('templated', `tcp://127.0.0.1:${server.port}?format=short`, { formats: { short: '{{key}} {{name}}: {{text}}' } });
    drain.start();
    drain.push('systail.nginx', eventJson('hello', { name: 'nginx' }));
    await waitFor('the line', () => server.lines.length === 1, undefined, drain);
    expect(server.lines).toEqual(['systail.nginx nginx: hello']);
  });

  it('is RETRYING while the target is down, then delivers what waited once it listens', async () => {
    const port = await unusedPort();
    const seen: DrainStatus[] = [];
    const drain = makeDrain('late', `tcp://127.0.0.1:${port}`, { onStatus: (status) => seen.push(status) });
    drain.start();
    const retrying = await waitForState(drain, 'RETRYING');
    expect(retrying.error).toContain('ECONNREFUSED');
    expect(retrying.error).toContain(`127.0.0.1:${port}`);
    drain.push('systail.app', eventJson('first'));
    drain.push('systail.app', eventJson('second'));
    expect(drain.status().buffered).toBe(2);

    const server = await lineServer(port); // the drain's next try is about 5 s away
    await waitFor('the buffered lines', () => server.lines.length === 2, 20_000, drain);
    expect(server.lines.map((line) => JSON.parse(line).text)).toEqual(['first', 'second']);
    const status = await waitForState(drain, 'RUNNING');
    expect(status.error).toBeUndefined();
    expect(status.sent).toBe(2);
    expect(seen.map((s) => s.state)).toEqual(['RETRYING', 'RUNNING']);
  });

  it('past its buffer, announces the drop in-band before the newest events', async () => {
    const port = await unusedPort();
    const drain = makeDrain('small', `tcp://127.0.0.1:${port}?buffer=5&format=raw`);
    drain.start();
    await waitForState(drain, 'RETRYING');
    for (let i = 1; i <= 12; i++) drain.push('systail.app', eventJson(`event ${i}`));
    expect(drain.status()).toMatchObject({ buffered: 5, dropped: { buffer_full: 7 } });

    const server = await lineServer(port);
    await waitFor('notice and 5 events', () => server.lines.length === 6, 20_000, drain);
    const [notice, ...events] = server.lines;
    expect(notice.startsWith('logyard.notice {')).toBe(true);
    const noticeEvent = JSON.parse(notice.slice('logyard.notice '.length));
    expect(noticeEvent.text).toMatch(/^logyard: dropped 7 events for drain small since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d \(buffer full\)$/);
    expect(noticeEvent.node_id).toBe(NODE_ID);
    expect(events.map((line) => JSON.parse(line.slice('systail.app '.length)).text)).toEqual([
      'event 8',
      'event 9',
      'event 10',
      'event 11',
      'event 12',
    ]);
    expect(drain.status()).toMatchObject({ sent: 5, dropped: { buffer_full: 7 } });
  });

  it('reconnects at once when the target closes the connection', async () => {
    const server = await lineServer();
    const states: string[] = [];
    const drain = makeDrain('reconnecting', `tcp://127.0.0.1:${server.port}`, { onStatus: (status) => states.push(status.state) });
    drain.start();
    drain.push('systail.app', eventJson('before'));
    await waitFor('the first line', () => server.lines.length === 1, undefined, drain);
    server.dropConnections();
    // The first retry is immediate: well under the 4-6 s of the next step of the schedule.
    await waitFor('a reconnect', () => states.join() === 'RUNNING,RETRYING,RUNNING', 3_000, drain);
    drain.push('systail.app', eventJson('after'));
    await waitFor('the second line', () => server.lines.length === 2, undefined, drain);
    expect(server.lines.map((line) => JSON.parse(line).text)).toEqual(['before', 'after']);
  });

  it('a bad URI makes the drain FATAL with the message, and it takes no events', () => {
    const drain = makeDrain('broken', 'tcp://127.0.0.1:99999?filter=systail');
    drain.start();
    drain.push('systail.app', eventJson('ignored'));
    expect(drain.filters).toEqual([]);
    expect(drain.status()).toMatchObject({ state: 'FATAL', error: 'drain URI: bad port "99999"', buffered: 0 });
  });

  it.each([
    ['tcp://127.0.0.1:1?filter=a..b', 'drain URI: filter "a..b" has an empty segment (".."): keys are dot-separated segments of [A-Za-z0-9_:-]'],
    ['tcp://127.0.0.1:1?buffer=10000000000', 'drain URI: bad value for buffer: "10000000000" (events, 1 to 10000000)'],
    ['tcp://127.0.0.1:1?disk=1MiB', 'drain URI: bad value for disk: "1MiB" (at least 16MiB)'],
  ])('an entry that reaches a core another way is FATAL naming the part: %s', (uri, error) => {
    const drain = makeDrain('hand-written', uri);
    drain.start();
    expect(drain.status()).toMatchObject({ state: 'FATAL', error });
  });

  it('close() stops the drain (twice is fine) and shows STOPPED', async () => {
    const server = await lineServer();
    const drain = makeDrain('closing', `tcp://127.0.0.1:${server.port}?filter=systail&filter=event`);
    expect(drain.filters).toEqual(['systail', 'event']);
    drain.start();
    await waitForState(drain, 'RUNNING');
    await Promise.all([drain.close(), drain.close()]);
    await drain.close();
    expect(drain.status().state).toBe('STOPPED');
    drain.push('systail.app', eventJson('after close'));
    expect(drain.status().buffered).toBe(0);
  });

  it('close() does not hang on a target that stopped reading', async () => {
    const accepted: Socket[] = [];
    const stalled = createServer((socket) => {
      socket.pause();
      accepted.push(socket);
    });
    await new Promise<void>((resolve) => stalled.listen(0, '127.0.0.1', resolve));
    const { port } = stalled.address() as AddressInfo;
    try {
      const drain = makeDrain('stalled', `tcp://127.0.0.1:${port}?buffer=100000`);
      drain.start();
      const kilobyte = eventJson('x'.repeat(1000));
      for (let i = 0; i < 60_000; i++) drain.push('systail.app', kilobyte); // more than socket buffers hold
      await waitFor('the target to stall the drain', async () => {
        const before = drain.status().buffered;
        await new Promise((resolve) => setTimeout(resolve, 300));
        return before > 0 && drain.status().buffered === before;
      }, undefined, drain);
      await drain.close();
      expect(drain.status().state).toBe('STOPPED');
    } finally {
      accepted.forEach((socket) => socket.destroy());
      await new Promise((resolve) => stalled.close(resolve));
    }
  });

  it('shows the URI with its password hidden', () => {
    const drain = makeDrain('secret', 'redis://admin:hunter2@127.0.0.1:1/0');
    expect(drain.uri).toBe('redis://admin:hunter2@127.0.0.1:1/0');
    expect(drain.status().uri).toBe('redis://admin:***@127.0.0.1:1/0');
  });
});
