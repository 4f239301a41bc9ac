import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LOGYARD_BIN, until, type TestNode } from './cli.js';

/** A long-running `logyard <command>` of a test node (systail, apptail, events, start). */
export class NodeProcess {
  log = '';
  readonly child: ChildProcess;

  constructor(node: TestNode, args: string[], env: NodeJS.ProcessEnv = {}) {
    this.child = spawn(process.execPath, [LOGYARD_BIN, ...node.flags, ...args], {
      env: { ...process.env, LOGYARD_CONFIG: '', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.child.stderr!.setEncoding('utf8').on('data', (c: string) => (this.log += c));
  }

  /** Waits for a line of its log matching `re`. */
  async logged(re: RegExp, what = String(re), timeoutMs = 15_000): Promise<void> {
    await until(() => {
      if (this.child.exitCode !== null) throw new Error(`exited with ${this.child.exitCode}: ${this.log}`);
      return re.test(this.log);
    }, what, timeoutMs);
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<{ code: number | null; ms: number }> {
    const t0 = Date.now();
    if (this.child.exitCode !== null || this.child.signalCode !== null) return { code: this.child.exitCode, ms: 0 };
    const exited = new Promise<number | null>((r) => this.child.once('exit', (code) => r(code)));
    this.child.kill(signal);
    const code = await exited;
    return { code, ms: Date.now() - t0 };
  }
}

/** Writes a config file for a test node and returns its path. */
export function writeNodeConfig(node: TestNode, yaml: string, name = 'logyard.yaml'): string {
  const file = join(node.root, name);
  writeFileSync(file, yaml);
  return file;
}
