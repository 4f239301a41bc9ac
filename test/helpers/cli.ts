import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';

export const LOGYARD_BIN = fileURLToPath(new URL('../../packages/cli/bin/logyard.js', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real `logyard` command and collects what a user would see. */
export function runCli(args: string[], options: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [LOGYARD_BIN, ...args], {
      env: { ...process.env, LOGYARD_CONFIG: '', ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`logyard ${args.join(' ')} did not finish in ${options.timeoutMs ?? 20_000} ms; stderr: ${stderr}`));
    }, options.timeoutMs ?? 20_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    // A child that exits without reading its input closes the pipe: its exit code tells what
    // happened, so EPIPE on our side is not an error of the test.
    child.stdin.on('error', () => {});
    child.stdin.end(options.input ?? '');
  });
}

export async function until<T>(probe: () => T | Promise<T>, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** One node's directories and the global flags that point the CLI at them. */
export class TestNode {
  readonly root: string;
  readonly runDir: string;
  readonly stateDir: string;
  readonly filesDir: string;
  core: ChildProcess | null = null;
  coreLog = '';

  constructor(
    readonly nodeId = 'test-node',
    readonly store?: string,
  ) {
    this.root = mkdtempSync(join(tmpdir(), 'ly-node-'));
    this.runDir = join(this.root, 'run');
    this.stateDir = join(this.root, 'state');
    this.filesDir = join(this.stateDir, 'files');
    mkdirSync(this.filesDir, { recursive: true });
  }

  get flags(): string[] {
    return [
      '--run-dir', this.runDir,
      '--state-dir', this.stateDir,
      '--node-id', this.nodeId,
      '--status', 'off',
      ...(this.store ? ['--store', this.store] : []),
    ];
  }

  cli(args: string[], options: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliResult> {
    return runCli([...this.flags, ...args], options);
  }

  /** Starts `logyard core` and waits until its status socket answers. */
  async startCore(extraArgs: string[] = []): Promise<ChildProcess> {
    // Global flags given twice: the last one wins, so extraArgs can override --status off.
    const child = spawn(process.execPath, [LOGYARD_BIN, ...this.flags, ...extraArgs, 'core'], {
      env: { ...process.env, LOGYARD_CONFIG: '' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child.stderr!.setEncoding('utf8').on('data', (c: string) => (this.coreLog += c));
    // A core that dies on its own is a bug worth its log in the test output.
    child.once('exit', (code, signal) => {
      if (this.core === child) process.stderr.write(`core of ${this.nodeId} exited unexpectedly (${signal ?? code}); its log:\n${this.coreLog}\n`);
    });
    this.core = child;
    await until(async () => {
      if (child.exitCode !== null) throw new Error(`core exited with ${child.exitCode}: ${this.coreLog}`);
      return (await this.status().catch(() => null)) !== null;
    }, 'the core to answer on its status socket');
    return child;
  }

  async stopCore(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    const child = this.core;
    if (!child || child.exitCode !== null) return child?.exitCode ?? null;
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill(signal);
    this.core = null;
    return exited;
  }

  /** GET /status from the core's unix socket, parsed. */
  status(): Promise<any> {
    return new Promise((resolve, reject) => {
      const req = request({ socketPath: join(this.runDir, 'status.sock'), path: '/status' }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => (body += c));
        res.on('end', () => {
          try {
            resolve(JSON.parse(body));
          } catch (err) {
            reject(err);
          }
        });
      });
      req.on('error', reject);
      req.end();
    });
  }

  async drainStatus(name: string): Promise<any> {
    return (await this.status()).drains.find((d: { name: string }) => d.name === name);
  }

  async cleanup(): Promise<void> {
    await this.stopCore('SIGKILL');
    rmSync(this.root, { recursive: true, force: true });
  }
}

/** A real TCP listener that collects newline-delimited lines, as a drain target. */
export class TcpTarget {
  readonly lines: string[] = [];
  private server: Server | null = null;
  private sockets = new Set<Socket>();
  port = 0;

  async listen(port = 0): Promise<this> {
    const server = createServer((socket) => {
      this.sockets.add(socket);
      let rest = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => {
        rest += chunk;
        let nl: number;
        while ((nl = rest.indexOf('\n')) >= 0) {
          this.lines.push(rest.slice(0, nl));
          rest = rest.slice(nl + 1);
        }
      });
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    const addr = server.address();
    this.port = typeof addr === 'object' && addr ? addr.port : 0;
    return this;
  }

  get events(): any[] {
    return this.lines.map((l) => JSON.parse(l));
  }

  /** Events of a `format=raw` drain: `<key> <event JSON>` per line. */
  get rawEvents(): Array<{ key: string; event: any }> {
    return this.lines.map((l) => {
      const sp = l.indexOf(' ');
      return { key: l.slice(0, sp), event: JSON.parse(l.slice(sp + 1)) };
    });
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    this.server = null;
  }
}
