import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { Publisher } from '@logyard/bus';
import { TcpTarget, TestNode, until } from './helpers/cli.js';
import { freePort, startEtcd, type RunningEtcd } from './setup/services.js';

/** Debian's Chromium, headless, with nothing that would reach the network by itself. */
export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/**
 * Issue 13, "what it must show" 3: the web console rendered by a real headless Chromium, over two
 * real cores on a real etcd with one RUNNING and one RETRYING drain. One browser for the file.
 */
describe('the web console in Chromium', () => {
  let etcd: RunningEtcd;
  let a: TestNode;
  let b: TestNode;
  let target: TcpTarget;
  let browser: BrowserContext;
  let consoleA: string;
  let consoleB: string;
  let trickle: NodeJS.Timeout;
  /** When the events started flowing. */
  let flowing = 0;
  const publishers: Publisher[] = [];
  const profile = mkdtempSync(join(tmpdir(), 'ly-chromium-'));
  const artifacts = mkdtempSync(join(tmpdir(), 'ly-console-artifacts-'));

  beforeAll(async () => {
    etcd = await startEtcd();
    a = new TestNode('node-a', etcd.uri);
    b = new TestNode('node-b', etcd.uri);
    const [portA, portB] = [await freePort(), await freePort()];
    consoleA = `http://127.0.0.1:${portA}`;
    consoleB = `http://127.0.0.1:${portB}`;
    // Node b's status address is not a loopback one: its console asks for the token.
    await Promise.all([a.startCore(['--status', `127.0.0.1:${portA}`]), b.startCore(['--status', `0.0.0.0:${portB}`])]);
    target = await new TcpTarget().listen();
    const closed = await freePort();
    expect((await a.cli(['drain', 'add', 'good', `tcp://127.0.0.1:${target.port}`, '-f', 'app'])).code).toBe(0);
    expect((await a.cli(['drain', 'add', 'bad', `tcp://127.0.0.1:${closed}`, '-f', 'app', 'buffer=500'])).code).toBe(0);
    for (const node of [a, b]) publishers.push(new Publisher({ runDir: node.runDir, nodeId: node.nodeId }));
    // Events flowing on both nodes all along: rates and points on the graph.
    flowing = Date.now();
    trickle = setInterval(() => {
      for (const p of publishers) for (let i = 0; i < 10; i++) p.publish('app.web', `tick ${i}`);
    }, 200);
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: '/usr/bin/chromium',
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1280, height: 1000 },
    });
  });

  afterAll(async () => {
    clearInterval(trickle);
    await browser?.close();
    for (const p of publishers) await p.close();
    await target?.close();
    await Promise.all([a?.cleanup(), b?.cleanup()]);
    await etcd?.stop();
    rmSync(profile, { recursive: true, force: true });
    process.stderr.write(`console.test: screenshots in ${artifacts}\n`);
  });

  /** A new page that records every request it makes. */
  async function open(url: string): Promise<{ page: Page; requests: string[] }> {
    const page = await browser.newPage();
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    await page.goto(url);
    return { page, requests };
  }

  async function consoleDrains(node: TestNode): Promise<string[]> {
    const list = await node.cli(['drain', 'list']);
    return list.stdout.split('\n').filter((l) => l.startsWith('tmp.console.')).map((l) => l.split(/\s+/)[0]);
  }

  it('shows both drains on both nodes with their states, a graph with points, the keys and nodes; nothing loads from elsewhere', async () => {
    // No console was open before: the core kept the graph's history all along, 5 s a sample.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, flowing + 16_000 - Date.now())));
    const history = ((await (await fetch(consoleA + '/api/cluster')).json()) as { history: { drains: Record<string, Array<number | null>> } }).history;
    expect(history.drains.good.filter((rate) => rate !== null && rate > 0).length).toBeGreaterThanOrEqual(2);
    const { page, requests } = await open(consoleA + '/');
    // At once: the page's first picture already has the points of the last 16 s.
    await page.locator('[data-graph="good"]').waitFor({ timeout: 5_000 });
    expect(Number(await page.locator('[data-graph="good"]').getAttribute('data-points'))).toBeGreaterThanOrEqual(2);
    const cell = (drain: string, node: string) => page.locator(`#drains tr[data-drain="${drain}"][data-node="${node}"]`);
    for (const node of ['node-a', 'node-b']) {
      await expect.poll(() => cell('good', node).getAttribute('data-state'), { timeout: 15_000 }).toBe('RUNNING');
      await expect.poll(() => cell('bad', node).getAttribute('data-state'), { timeout: 15_000 }).toBe('RETRYING');
    }
    await expect.poll(async () => Number(await cell('good', 'node-a').locator('td').nth(3).textContent()), { timeout: 15_000 }).toBeGreaterThan(0);
    expect(await cell('bad', 'node-b').locator('td.error').textContent()).toMatch(/ECONNREFUSED/);
    expect(await page.locator('[data-graph="good"] canvas').count()).toBe(1);
    await expect.poll(() => page.locator('#keys tbody tr').first().getAttribute('data-key'), { timeout: 15_000 }).toBe('app.web');
    expect(await page.locator('#nodes tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-node')))).toEqual(['node-a', 'node-b']);
    await page.screenshot({ path: join(artifacts, 'console.png'), fullPage: true });
    expect(requests.length).toBeGreaterThan(3);
    expect(requests.filter((url) => !url.startsWith(consoleA + '/'))).toEqual([]);
    await page.close();
  });

  it('tails a prefix live: 5 events published on the other node within 5 s; closing the page removes the temporary drain within 15 s', async () => {
    const { page, requests } = await open(consoleA + '/');
    await page.fill('#tail-prefix', 'tailme');
    await page.click('#tail-start');
    await expect.poll(() => page.locator('#tail-state').textContent(), { timeout: 10_000 }).toMatch(/^tailing tailme through drain tmp\.console\.node-a\.\d+$/);
    const [name] = await consoleDrains(b);
    expect(name).toMatch(/^tmp\.console\.node-a\.\d+$/);
    await until(async () => (await b.drainStatus(name))?.state === 'RUNNING', 'the tail drain running on node b');
    const published = Date.now();
    for (let i = 1; i <= 5; i++) publishers[1].publish('tailme.web', `live ${i}`);
    await page.waitForFunction(() => document.querySelectorAll('#tail .tail-line').length >= 5, undefined, { timeout: 5_000 });
    process.stderr.write(`console.test: 5 events from node b on the page ${Date.now() - published} ms after publishing\n`);
    expect(await page.locator('#tail .tail-line').allTextContents()).toEqual([1, 2, 3, 4, 5].map((i) => `tailme.web node-b: live ${i}`));
    expect(requests.filter((url) => !url.startsWith(consoleA + '/'))).toEqual([]);

    await page.close();
    const closed = Date.now();
    await until(async () => (await consoleDrains(b)).length === 0, 'the temporary drain to go', 15_000);
    process.stderr.write(`console.test: temporary drain gone ${Date.now() - closed} ms after the page closed\n`);
  });

  it('asks for the token of <state_dir>/console.token (mode 0600) when the status address is not loopback', async () => {
    const path = join(b.stateDir, 'console.token');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const token = readFileSync(path, 'utf8').trim();
    expect((await fetch(`${consoleB}/api/cluster`)).status).toBe(401);
    expect((await fetch(`${consoleB}/api/cluster`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await fetch(`${consoleB}/api/cluster`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);

    const { page } = await open(consoleB + '/');
    await page.locator('#token-form').waitFor({ state: 'visible' });
    expect(await page.locator('#drains tbody tr').count()).toBe(0);
    await page.fill('#token', token);
    await page.click('#token-form button');
    await page.locator('#drains tr[data-drain="good"][data-node="node-b"]').waitFor();
    expect(await page.locator('#token-form').isHidden()).toBe(true);
    await page.close();
  });
});
