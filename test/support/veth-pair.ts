// Two network namespaces joined by one veth pair (eth0 on each side), for the
// real-VM migration tests. Names are `roam-mr-<pid>-<tag>-a|b`; namespaces of
// earlier runs whose process is gone are deleted when a new pair is made.
import { spawnSync } from 'node:child_process';
import { kvmProblem } from './kvm.js';

const PREFIX = 'roam-mr-';

/** Runs a command that must succeed (ip, tc). */
export function run(cmd: string, ...args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr.trim() || `exit ${r.status}`}`);
}

/** Why a pair with a VM in it cannot be made here (root, ip netns, KVM), or undefined. */
function problem(): string | undefined {
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  const k = kvmProblem();
  if (k) return k;
  const probe = `${PREFIX}${process.pid}-probe`;
  const r = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' });
  if (r.status !== 0) return `ip netns does not work here: ${r.stderr.trim()}`;
  spawnSync('ip', ['netns', 'delete', probe]);
  return undefined;
}

/** Skips on a developer's machine, FAILS under CI=true, when the pair cannot be made. */
export function requireVethPair(ctx: Mocha.Context): void {
  const p = problem();
  if (!p) return;
  if (process.env.CI === 'true') throw new Error(`${p} (CI=true: failing instead of skipping)`);
  ctx.skip();
}

function reapStale(): void {
  const list = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '';
  for (const ns of list.split('\n').map((l) => l.split(' ')[0]!)) {
    const m = new RegExp(`^${PREFIX}(\\d+)-`).exec(ns);
    if (!m) continue;
    let alive = true;
    try { process.kill(Number(m[1]), 0); } catch (e) { alive = (e as NodeJS.ErrnoException).code === 'EPERM'; }
    if (!alive) spawnSync('ip', ['netns', 'delete', ns]);
  }
}

export class VethPair {
  readonly a: string;
  readonly b: string;

  constructor(tag: string, readonly ipA: string, readonly ipB: string) {
    this.a = `${PREFIX}${process.pid}-${tag}-a`;
    this.b = `${PREFIX}${process.pid}-${tag}-b`;
  }

  /** Makes both namespaces and the link (addresses on eth0, lo up); `up` also brings eth0 up. Undoes itself on failure. */
  create(opts: { up: boolean }): this {
    reapStale();
    this.destroy();
    try {
      run('ip', 'netns', 'add', this.a);
      run('ip', 'netns', 'add', this.b);
      run('ip', '-n', this.a, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', this.b);
      for (const [ns, ip] of [[this.a, this.ipA], [this.b, this.ipB]] as const) {
        run('ip', '-n', ns, 'link', 'set', 'lo', 'up');
        run('ip', '-n', ns, 'addr', 'add', `${ip}/24`, 'dev', 'eth0');
        if (opts.up) run('ip', '-n', ns, 'link', 'set', 'eth0', 'up');
      }
    } catch (e) {
      this.destroy();
      throw e;
    }
    return this;
  }

  /** Sets eth0 up or down on both sides. */
  link(state: 'up' | 'down'): void {
    for (const ns of [this.a, this.b]) run('ip', '-n', ns, 'link', 'set', 'eth0', state);
  }

  destroy(): void {
    for (const ns of [this.a, this.b]) spawnSync('ip', ['netns', 'delete', ns]);
  }
}
