#!/usr/bin/env node
// npm run pack: builds logyard-<version>.tgz in the repository root, one installable package:
// the `logyard` command (packages/cli) with the other workspaces and every production
// dependency bundled (bundleDependencies), so `npm install -g ./logyard-<version>.tgz` needs no
// registry and no compiler: the native addons (zeromq's prebuilt one, unix-dgram's and receive's
// udp_batch built ones) ship as built here, for linux-x64 and this Node major.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const readJson = (path) => JSON.parse(readFileSync(path, 'utf8'));
const rootPackage = readJson(join(root, 'package.json'));
const version = rootPackage.version;

execFileSync('npx', ['tsc', '-b'], { cwd: root, stdio: 'inherit' });

/** The workspaces by package name: their directory and package.json. */
const workspaces = new Map(
  rootPackage.workspaces.map((dir) => {
    const pkg = readJson(join(root, dir, 'package.json'));
    return [pkg.name, { dir: join(root, dir), pkg }];
  }),
);

/** Finds a dependency as Node would from `fromDir`: the nearest node_modules/<name> up to the root. */
function resolvePackageDir(name, fromDir) {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dir === root || dir === dirname(dir)) throw new Error(`pack: dependency ${name} not installed (run npm ci)`);
  }
}

/** Every production dependency (not a workspace) reachable from the workspaces, by directory. */
const external = new Map();
function collect(name, fromDir) {
  if (workspaces.has(name)) return;
  const dir = resolvePackageDir(name, fromDir);
  if (external.has(dir)) return;
  const pkg = readJson(join(dir, 'package.json'));
  external.set(dir, pkg);
  for (const dep of Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies })) {
    try {
      collect(dep, dir);
    } catch (err) {
      if (!(pkg.optionalDependencies && dep in pkg.optionalDependencies)) throw err;
    }
  }
}
for (const { dir, pkg } of workspaces.values()) for (const dep of Object.keys(pkg.dependencies ?? {})) collect(dep, dir);

const stage = join(mkdtempSync(join(tmpdir(), 'logyard-pack-')), 'logyard');
try {
  const cli = workspaces.get('@logyard/cli');
  mkdirSync(stage, { recursive: true });
  cpSync(join(cli.dir, 'bin'), join(stage, 'bin'), { recursive: true });
  cpSync(join(cli.dir, 'dist'), join(stage, 'dist'), { recursive: true, filter: (src) => !src.endsWith('.tsbuildinfo') });
  for (const extra of ['README.md', 'configs', 'deploy', 'docs']) {
    if (existsSync(join(root, extra))) cpSync(join(root, extra), join(stage, extra), { recursive: true });
  }
  // The other workspaces, as installed packages: package.json and dist/.
  for (const [name, { dir, pkg }] of workspaces) {
    if (name === '@logyard/cli') continue;
    const target = join(stage, 'node_modules', name);
    mkdirSync(target, { recursive: true });
    // A workspace's own addon (receive's udp_batch) ships built, as the others: no install script to rebuild it.
    const { scripts, gypfile, ...installed } = pkg;
    writeFileSync(join(target, 'package.json'), JSON.stringify({ ...installed, version }, null, 2) + '\n');
    cpSync(join(dir, 'dist'), join(target, 'dist'), { recursive: true, filter: (src) => !src.endsWith('.tsbuildinfo') });
    const addons = join(dir, 'build', 'Release');
    if (gypfile) {
      for (const file of readdirSync(addons).filter((f) => f.endsWith('.node'))) cpSync(join(addons, file), join(target, 'build', 'Release', file));
    }
    // The web console's page and script, served by the core as they are (packages/core/console).
    if (existsSync(join(dir, 'console'))) cpSync(join(dir, 'console'), join(target, 'console'), { recursive: true });
  }
  // External dependencies where npm put them (hoisted or nested), so each resolves what it did here.
  for (const dir of external.keys()) {
    const target = join(stage, relative(root, dir));
    if (!existsSync(target)) cpSync(dir, target, { recursive: true, dereference: true });
  }
  // The package is for Linux (os: linux): prebuilt addons for other systems are dead weight.
  for (const dir of external.keys()) {
    for (const other of ['darwin', 'win32']) rmSync(join(stage, relative(root, dir), 'build', other), { recursive: true, force: true });
  }
  const topLevel = readdirSync(join(stage, 'node_modules')).flatMap((entry) =>
    entry.startsWith('@') ? readdirSync(join(stage, 'node_modules', entry)).map((sub) => `${entry}/${sub}`) : [entry],
  ).filter((name) => !name.startsWith('.'));
  const dependencies = Object.fromEntries(
    topLevel.map((name) => [name, readJson(join(stage, 'node_modules', name, 'package.json')).version]),
  );
  writeFileSync(
    join(stage, 'package.json'),
    JSON.stringify(
      {
        name: 'logyard',
        version,
        description: rootPackage.description,
        type: 'module',
        license: rootPackage.license,
        engines: rootPackage.engines,
        os: ['linux'],
        bin: { logyard: 'bin/logyard.js' },
        main: './dist/index.js',
        dependencies,
        bundleDependencies: Object.keys(dependencies),
      },
      null,
      2,
    ) + '\n',
  );
  const out = execFileSync('npm', ['pack', '--pack-destination', root, '--loglevel=error'], { cwd: stage, encoding: 'utf8' });
  const tarball = out.trim().split('\n').pop();
  console.log(join(root, tarball));
} finally {
  rmSync(dirname(stage), { recursive: true, force: true });
}
