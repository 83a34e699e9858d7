// Prints every C++ translation unit under native/ (except build output) for binding.gyp's
// "sources": ["<!@(node list-sources.cjs)"], so files other engineers add are compiled without
// editing the .gyp. Paths are relative to this folder, '/'-separated, sorted for stable builds.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = __dirname;
const skip = new Set(['build', 'node_modules']);
const out = [];

function walk(dir) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.name.startsWith('.')) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!skip.has(entry.name)) walk(full);
    } else if (entry.isFile() && entry.name.endsWith('.cc')) {
      out.push(path.relative(root, full).split(path.sep).join('/'));
    }
  }
}

walk(root);
out.sort();
process.stdout.write(out.join('\n') + '\n');
