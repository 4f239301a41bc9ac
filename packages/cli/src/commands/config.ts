import type { Command } from 'commander';
import { stringify } from 'yaml';
import { checkConfig, effectiveConfig, type CheckedConfig } from '@logyard/config';
import { openStore } from '@logyard/store';
import { redactUri } from '@logyard/drains';
import { asConfigProblems, checkEnvironment } from '../config-environment.js';
import { globalFlags } from '../context.js';
import { EXIT_USAGE } from '../errors.js';

/** How long config check waits for the store's formats before checking without them. */
const STORE_TIMEOUT_MS = 2_000;

export function registerConfigCommands(program: Command): void {
  const config = program.command('config').description('check the configuration');
  config
    .command('check')
    .description('read the config (default: the one `start` would use) and every drain URI in it; print the effective settings, or every problem as FILE:LINE: KEY: problem (exit 2)')
    .argument('[file]', 'the config file to check')
    .action(async (file: string | undefined, _opts: unknown, cmd: Command) => {
      const checked = checkConfig({ ...globalFlags(cmd), ...(file === undefined ? {} : { config: file }) });
      const problems = [...checked.problems];
      // The machine is only asked about a config that reads: its values are what start would use.
      if (problems.length === 0) problems.push(...asConfigProblems(checked, await checkEnvironment(checked.config, await storeFormats(checked))));
      if (problems.length > 0) {
        process.stderr.write(problems.map((p) => `${p.message}\n`).join(''));
        process.exitCode = EXIT_USAGE;
        return;
      }
      const from = checked.shownFile ? `# ${checked.shownFile}: OK` : '# no config file: every default';
      process.stdout.write(`${from}\n${stringify(effectiveConfig(checked.config, redactUri))}`);
    });
}

/** The store's named formats, or null when it cannot tell in time (then formats are not judged). */
async function storeFormats(checked: CheckedConfig): Promise<Record<string, string> | null> {
  if (Object.keys(checked.config.builtinDrains).length === 0) return {};
  let store;
  try {
    store = await openStore(checked.config.store);
  } catch {
    return null;
  }
  const timeout = new Promise<null>((resolve) => setTimeout(() => resolve(null), STORE_TIMEOUT_MS).unref());
  try {
    return await Promise.race([store.listFormats(), timeout]);
  } catch {
    return null;
  } finally {
    await store.close().catch(() => {});
  }
}
