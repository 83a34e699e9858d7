#!/usr/bin/env node
// Thin launcher: the CLI is TypeScript compiled to dist/ by `npm install`.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const entry = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'node', 'cli', 'entry.js');
if (!existsSync(entry)) {
  console.error('roam: not built yet; run `npm install` (or `npm run build`) in the roam checkout first');
  process.exit(1);
}
await import(pathToFileURL(entry).href);
