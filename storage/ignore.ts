// .roamignore: the subset of gitignore syntax the store honours. Lines are globs
// ('*', '?', '[...]', '**'), '#' starts a comment, '!' re-includes, a trailing '/'
// matches directories only, and a '/' at the start or in the middle anchors the
// pattern to the root (otherwise it matches at any depth). The last matching rule
// wins. An ignored directory is not descended into, so its contents stay ignored.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

export const IGNORE_FILE = '.roamignore';

interface Rule { re: RegExp; negate: boolean; dirOnly: boolean }

function globToRegex(glob: string): string {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        const atStart = i === 0 || glob[i - 1] === '/';
        const atEnd = i + 2 === glob.length;
        if (atStart && glob[i + 2] === '/') { out += '(?:.*/)?'; i += 2; continue; } // "**/" any leading dirs
        if (atStart && atEnd) { out += '.*'; i += 1; continue; } // trailing "/**" everything inside
        out += '[^/]*'; i += 1; continue; // "**" elsewhere behaves like "*"
      }
      out += '[^/]*';
    } else if (c === '?') out += '[^/]';
    else if (c === '[') {
      const close = glob.indexOf(']', i + 2);
      if (close < 0) { out += '\\['; continue; }
      let body = glob.slice(i + 1, close).replace(/\\/g, '\\\\');
      if (body.startsWith('!')) body = '^' + body.slice(1);
      out += `[${body}]`;
      i = close;
    } else if (c === '\\' && i + 1 < glob.length) { out += glob[i + 1]!.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'); i++; }
    else out += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return out;
}

export class IgnoreRules {
  private constructor(private readonly rules: Rule[]) {}

  static parse(text: string): IgnoreRules {
    const rules: Rule[] = [];
    for (let line of text.split(/\r?\n/)) {
      if (line.startsWith('#')) continue;
      line = line.replace(/(?<!\\)\s+$/, '');
      if (!line) continue;
      let negate = false;
      if (line.startsWith('!')) { negate = true; line = line.slice(1); }
      else if (line.startsWith('\\!') || line.startsWith('\\#')) line = line.slice(1);
      let dirOnly = false;
      if (line.endsWith('/')) { dirOnly = true; line = line.slice(0, -1); }
      if (!line) continue;
      const anchored = line.includes('/');
      if (line.startsWith('/')) line = line.slice(1);
      const body = globToRegex(line);
      rules.push({ re: new RegExp(anchored ? `^${body}$` : `^(?:.*/)?${body}$`), negate, dirOnly });
    }
    return new IgnoreRules(rules);
  }

  static empty(): IgnoreRules { return new IgnoreRules([]); }

  /** Reads `<root>/.roamignore`; a missing file means nothing is ignored. */
  static async load(root: string): Promise<IgnoreRules> {
    try {
      return IgnoreRules.parse(await readFile(join(root, IGNORE_FILE), 'utf8'));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return IgnoreRules.empty();
      throw e;
    }
  }

  /** Whether a path (relative, '/'-separated, no leading '/') is ignored. Parents must be checked by the walker. */
  ignores(relPath: string, isDir: boolean): boolean {
    let ignored = false;
    for (const r of this.rules) {
      if (r.dirOnly && !isDir) continue;
      if (r.re.test(relPath)) ignored = !r.negate;
    }
    return ignored;
  }

  /** Whether the path or any directory above it is ignored. */
  ignoresWithParents(relPath: string, isDir: boolean): boolean {
    const parts = relPath.split('/');
    for (let i = 1; i < parts.length; i++) if (this.ignores(parts.slice(0, i).join('/'), true)) return true;
    return this.ignores(relPath, isDir);
  }
}
