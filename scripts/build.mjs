#!/usr/bin/env node
// Builds everything roam needs from source, offline: the probe guest (gcc),
// the native KVM addon (node-gyp against the installed Node headers) and the
// TypeScript. Runs on `npm install`, `npm run build` and before `npm test`.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

function run(step, cmd, args, opts = {}) {
  const t0 = Date.now();
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'], cwd: root, ...opts });
  if (r.error) {
    console.error(`build: ${step}: cannot run ${cmd}: ${r.error.message}`);
    process.exit(1);
  }
  if (r.status !== 0) {
    console.error(`build: ${step} failed (exit ${r.status})`);
    process.exit(r.status ?? 1);
  }
  if (process.env.ROAM_BUILD_VERBOSE) console.error(`build: ${step} done in ${Date.now() - t0} ms`);
}

// Node's headers ship with the distro's node (/usr/include/node); point
// node-gyp at them so it never tries to download a tarball.
function nodeDir() {
  const prefix = resolve(dirname(process.execPath), '..');
  return existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? prefix : undefined;
}

if (existsSync(join(root, 'guest', 'Makefile'))) {
  run('probe guest', 'make', ['-s', '-C', 'guest']);
}

if (existsSync(join(root, 'native', 'binding.gyp'))) {
  const gyp = require.resolve('node-gyp/bin/node-gyp.js');
  const dir = nodeDir();
  const args = [gyp, '--directory', 'native', '--jobs', 'max', '--loglevel', 'warn'];
  if (dir) args.push(`--nodedir=${dir}`);
  // node-gyp fixes the source list when it configures: configure again whenever
  // the list of .cc files changed, or a new file would be silently left out.
  const sources = spawnSync(process.execPath, ['list-sources.cjs'], { cwd: join(root, 'native'), encoding: 'utf8' }).stdout;
  const stamp = join(root, 'native', 'build', 'sources.stamp');
  const configured = existsSync(join(root, 'native', 'build', 'Makefile')) && existsSync(stamp) && readFileSync(stamp, 'utf8') === sources;
  run('native addon', process.execPath, [...args, configured ? 'build' : 'rebuild']);
  writeFileSync(stamp, sources);
}

run('typescript', process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.json']);

// roamd's web page (node/web serves dist/web): its own tsconfig (DOM, no Node), plus the static files.
if (existsSync(join(root, 'web', 'tsconfig.json'))) {
  run('web page', process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join('web', 'tsconfig.json')]);
  for (const f of ['index.html', 'style.css']) copyFileSync(join(root, 'web', f), join(root, 'dist', 'web', f));
}
