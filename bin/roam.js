#!/usr/bin/env node
// Thin launcher: the CLI is TypeScript compiled to dist/ by `npm install`.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const main = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'node', 'cli', 'main.js');
if (!existsSync(main)) {
  console.error('roam: not built yet; run `npm install` (or `npm run build`) in the roam checkout first');
  process.exit(1);
}
const { run } = await import(pathToFileURL(main).href);
process.exitCode = await run(process.argv.slice(2));
