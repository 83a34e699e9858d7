// roamd's own files (its state dir with the store, identity key and socket;
// its config) must never become part of the home tree: the store would
// snapshot itself forever, and another machine would receive this machine's
// identity. When they lie inside the home, an anchored rule for each is
// appended to the home's .roamignore (once; an existing rule that covers the
// path is left as it is).
import { appendFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { IgnoreRules, IGNORE_FILE } from '../../storage/index.js';

/** Returns the rules it added (empty when nothing inside the home needed one). */
export async function ensurePrivateIgnored(home: string, paths: string[]): Promise<string[]> {
  const rules = await IgnoreRules.load(home);
  const added: string[] = [];
  for (const p of paths) {
    const rel = relative(home, p);
    if (!rel || rel.startsWith('..') || rel.startsWith(sep)) {
      if (!rel) throw new Error(`roamd's own directory ${p} is the home tree itself; give roamd another --state or --home`);
      continue;
    }
    const posix = rel.split(sep).join('/');
    if (rules.ignoresWithParents(posix, true)) continue;
    added.push(`/${posix.replace(/([*?[\\!#])/g, '\\$1')}/`);
  }
  if (added.length) {
    await appendFile(join(home, IGNORE_FILE), `\n# roamd's own files: never synced (added by roamd)\n${added.join('\n')}\n`, { mode: 0o644 });
  }
  return added;
}
