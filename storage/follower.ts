// The home that follows: watch the home tree, and once edits settle (debounce),
// take a snapshot and hand it to a push callback (the agent sends it to the
// machine the session lives on). The agent wiring (which peer, when) is roamd's.
import { watch, type FSWatcher } from 'node:fs';
import { resolve, sep } from 'node:path';
import { IgnoreRules } from './ignore.js';
import { isTempName } from './materialise.js';
import { snapshotTree, type SnapshotResult } from './snapshot.js';
import type { Store } from './store.js';

export interface FollowerOptions {
  machine: string;
  /** Quiet time after the last change before a snapshot is taken (default 2 s). */
  debounceMs?: number;
  /** Called with each new snapshot whose root differs from the previous one. */
  push: (snap: SnapshotResult) => Promise<void>;
  onError?: (err: Error) => void;
}

export class HomeFollower {
  private watcher: FSWatcher | null = null;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private paused = 0;
  private lastRoot: string | null = null;
  private ignore: IgnoreRules = IgnoreRules.empty();
  readonly dir: string;

  constructor(private readonly store: Store, dir: string, private readonly opts: FollowerOptions) {
    this.dir = resolve(dir);
  }

  async start(): Promise<void> {
    this.ignore = await IgnoreRules.load(this.dir);
    this.watcher = watch(this.dir, { recursive: true }, (_event, file) => this.onChange(file ? String(file) : null));
    this.watcher.on('error', (e) => this.opts.onError?.(e));
    await this.flush();
  }

  async stop(): Promise<void> {
    this.watcher?.close();
    this.watcher = null;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  /** While paused (e.g. during a materialise into the same tree) changes are not pushed. */
  pause(): void { this.paused++; }
  resume(): void { if (--this.paused === 0) this.schedule(); }

  private onChange(file: string | null): void {
    if (file) {
      const rel = file.split(sep).join('/');
      const base = rel.slice(rel.lastIndexOf('/') + 1);
      if (isTempName(base)) return;
      if (base === '.roamignore') void IgnoreRules.load(this.dir).then((r) => { this.ignore = r; }, () => undefined);
      else if (this.ignore.ignoresWithParents(rel, false)) return;
    }
    this.schedule();
  }

  private schedule(): void {
    if (this.paused > 0 || !this.watcher) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => { this.timer = null; void this.flush(); }, this.opts.debounceMs ?? 2000);
  }

  /** Snapshots now (one at a time; a change during a snapshot triggers another). */
  async flush(): Promise<void> {
    if (this.running) { this.again = true; return this.running; }
    this.running = (async () => {
      do {
        this.again = false;
        try {
          const snap = await snapshotTree(this.store, this.dir, { machine: this.opts.machine });
          if (snap.record.root !== this.lastRoot) {
            this.lastRoot = snap.record.root;
            await this.opts.push(snap);
          }
        } catch (e) { this.opts.onError?.(e as Error); }
      } while (this.again);
    })();
    try { await this.running; } finally { this.running = null; }
  }
}
