#!/usr/bin/env node
// Makes the README's pictures, docs/console.png and docs/top.png: two real cores on a real etcd
// (Debian's etcd-server), a RUNNING and a RETRYING drain, events flowing; the web console
// rendered by Debian's headless Chromium, and `logyard top` run in tmux, its screen (with its
// colours) drawn as HTML and rendered by the same Chromium. Usage: node scripts/screenshots.mjs
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { Publisher } from '@logyard/bus';
import { freePort, getStatus, sleep, startBenchEtcd } from './bench/lib.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const bin = join(here, '../packages/cli/bin/logyard.js');
const docs = join(here, '../docs');
const root = mkdtempSync(join(tmpdir(), 'logyard-screenshots-'));
const children = [];
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

function flags(store, id) {
  return ['--store', store, '--node-id', id, '--run-dir', join(root, id, 'run'), '--state-dir', join(root, id, 'state')];
}

async function startCore(store, id, status) {
  mkdirSync(join(root, id, 'state'), { recursive: true });
  const p = spawn(process.execPath, [bin, ...flags(store, id), '--status', status, 'core'], { env: { ...process.env, LOGYARD_CONFIG: '' }, stdio: 'ignore' });
  children.push(p);
  while (!(await getStatus(join(root, id, 'run')).catch(() => null))) await sleep(50);
}

const cli = (store, id, args) => execFileSync(process.execPath, [bin, ...flags(store, id), ...args], { env: { ...process.env, LOGYARD_CONFIG: '' } });

/** tmux's screen with its colours (capture-pane -e) as HTML. */
function screenHtml(ansi) {
  const colors = { 31: '#e06c75', 32: '#98c379', 33: '#e5c07b', 90: '#7f848e' };
  let style = '';
  let html = '';
  const escape = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  for (const part of ansi.split(/(\x1b\[[0-9;]*m)/)) {
    const sgr = /^\x1b\[([0-9;]*)m$/.exec(part);
    if (!sgr) {
      html += style ? `<span style="${style}">${escape(part)}</span>` : escape(part);
      continue;
    }
    for (const code of sgr[1].split(';').map(Number)) {
      if (code === 0) style = '';
      else if (code === 1) style += 'font-weight:bold;';
      else if (colors[code]) style += `color:${colors[code]};`;
    }
  }
  return `<html><body style="margin:0;background:#1e1e1e"><pre id="screen" style="margin:0;padding:12px;display:inline-block;color:#ddd;font:13px/1.3 'DejaVu Sans Mono',monospace">${html}</pre></body></html>`;
}

const session = `logyard-screenshots-${process.pid}`;
try {
  const store = await startBenchEtcd(root, children);
  const statusPort = await freePort();
  await startCore(store, '10.0.0.5', `127.0.0.1:${statusPort}`);
  await startCore(store, '10.0.0.7', 'off');
  const target = createServer((s) => s.resume()).listen(0, '127.0.0.1');
  await new Promise((r) => target.once('listening', r));
  cli(store, '10.0.0.5', ['drain', 'add', 'archive', `tcp://127.0.0.1:${target.address().port}`, '-f', 'systail', '-f', 'apptail']);
  cli(store, '10.0.0.5', ['drain', 'add', 'papertrail', `tcp://127.0.0.1:${await freePort()}`, '-f', 'systail', 'buffer=20000']);
  const publishers = ['10.0.0.5', '10.0.0.7'].map((id) => new Publisher({ runDir: join(root, id, 'run'), nodeId: id }));
  let tick = 0;
  const keys = ['systail.nginx', 'systail.nginx', 'systail.nginx', 'apptail.4f2c', 'systail.cron', 'systail.kernel'];
  const flowing = setInterval(() => {
    tick++;
    publishers.forEach((p, n) => {
      for (let i = 0; i < 20 + 15 * Math.sin(tick / 15 + n); i++) p.publish(keys[(i + n) % keys.length], `line ${tick}.${i}`);
    });
  }, 100);
  // Enough samples for the graph: one every 5 s once the console is open.
  const profile = mkdtempSync(join(root, 'chromium-'));
  const browser = await chromium.launchPersistentContext(profile, { executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS, viewport: { width: 1100, height: 800 } });
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${statusPort}/`);
  await sleep(60_000);
  await page.fill('#tail-prefix', 'systail.cron');
  await page.click('#tail-start');
  await sleep(3_000);
  await page.screenshot({ path: join(docs, 'console.png'), fullPage: true });

  execFileSync('tmux', ['new-session', '-d', '-s', session, '-x', '118', '-y', '24', [process.execPath, bin, ...flags(store, '10.0.0.5'), 'top'].map((w) => `'${w}'`).join(' ')]);
  await sleep(3_000);
  const screen = execFileSync('tmux', ['capture-pane', '-p', '-e', '-t', session], { encoding: 'utf8' });
  execFileSync('tmux', ['kill-session', '-t', session]);
  await page.setContent(screenHtml(screen.trimEnd()));
  await page.locator('#screen').screenshot({ path: join(docs, 'top.png') });
  clearInterval(flowing);
  await browser.close();
  for (const p of publishers) await p.close();
  target.close();
  process.stdout.write(`wrote ${join(docs, 'console.png')} and ${join(docs, 'top.png')}\n`);
} finally {
  try {
    execFileSync('tmux', ['kill-session', '-t', session], { stdio: 'ignore' });
  } catch {}
  for (const c of children) c.kill('SIGKILL');
  rmSync(root, { recursive: true, force: true });
}
