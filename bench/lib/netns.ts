// Two benchmark "hosts": network namespaces joined by a veth pair, optionally
// shaped with tc. Named after this process's pid so a run killed midway leaves
// namespaces the next run recognises (its pid is gone) and deletes.
import { spawnSync } from 'node:child_process';

export interface NsPair {
  a: string;
  b: string;
  ipA: string;
  ipB: string;
  /** `ip netns exec <ns>` as a command prefix. */
  exec(ns: string): string[];
  /** Bytes interface `dev` (default the veth end, eth0) in `ns` has sent so far. */
  txBytes(ns: string, dev?: string): number;
  /** Shapes both directions to `rate` (tc tbf, e.g. '1gbit'), or removes the shaping (null). */
  shape(rate: string | null): void;
  destroy(): void;
}

const PREFIX = 'roam-bench-';

function run(cmd: string, ...args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error) throw new Error(`${cmd} ${args.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr.trim() || `exit ${r.status}`}`);
  return r.stdout;
}

/** Why namespace hosts cannot be made here, or undefined. */
export function netnsProblem(): string | undefined {
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  const probe = `${PREFIX}${process.pid}-probe`;
  const r = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return `ip netns does not work here: ${r.error?.message ?? r.stderr.trim()}`;
  spawnSync('ip', ['netns', 'delete', probe]);
  return undefined;
}

/** Deletes namespaces of earlier bench runs whose process is gone. */
function reapStale(): void {
  const list = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '';
  for (const ns of list.split('\n').map((l) => l.split(' ')[0]!)) {
    const m = /^roam-bench-(\d+)-/.exec(ns);
    if (!m) continue;
    let alive = true;
    try { process.kill(Number(m[1]), 0); } catch (e) { alive = (e as NodeJS.ErrnoException).code === 'EPERM'; }
    if (!alive) spawnSync('ip', ['netns', 'delete', ns]);
  }
}

/** Makes two namespaces `<tag>a`/`<tag>b` with 10.<subnet>.0.1/.2 on a veth pair. */
export function makeNsPair(tag: string, subnet: number): NsPair {
  const p = netnsProblem();
  if (p) throw new Error(`cannot make namespace hosts: ${p}`);
  reapStale();
  const a = `${PREFIX}${process.pid}-${tag}a`;
  const b = `${PREFIX}${process.pid}-${tag}b`;
  const ipA = `10.${subnet}.0.1`, ipB = `10.${subnet}.0.2`;
  const destroy = () => { for (const ns of [a, b]) spawnSync('ip', ['netns', 'delete', ns]); };
  destroy();
  try {
    run('ip', 'netns', 'add', a);
    run('ip', 'netns', 'add', b);
    run('ip', '-n', a, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', b);
    for (const [ns, ip] of [[a, ipA], [b, ipB]] as const) {
      run('ip', '-n', ns, 'link', 'set', 'lo', 'up');
      run('ip', '-n', ns, 'addr', 'add', `${ip}/24`, 'dev', 'eth0');
      run('ip', '-n', ns, 'link', 'set', 'eth0', 'up');
    }
  } catch (e) { destroy(); throw e; }
  let shaped = false;
  return {
    a, b, ipA, ipB,
    exec: (ns) => ['ip', 'netns', 'exec', ns],
    txBytes: (ns, dev = 'eth0') => {
      if (!/^[a-z0-9]{1,15}$/.test(dev)) throw new Error(`bad interface name ${dev}`);
      const n = Number(run('ip', 'netns', 'exec', ns, 'cat', `/sys/class/net/${dev}/statistics/tx_bytes`).trim());
      if (!Number.isFinite(n)) throw new Error(`cannot read tx_bytes of ${dev} in ${ns}`);
      return n;
    },
    shape(rate) {
      for (const ns of [a, b]) {
        if (shaped) spawnSync('ip', ['netns', 'exec', ns, 'tc', 'qdisc', 'del', 'dev', 'eth0', 'root']);
        // burst must hold at least one timer tick of data at this rate (1 Gbit/s at HZ=250: 500 kB).
        if (rate) run('ip', 'netns', 'exec', ns, 'tc', 'qdisc', 'add', 'dev', 'eth0', 'root', 'tbf', 'rate', rate, 'burst', '1mb', 'latency', '50ms');
      }
      shaped = rate !== null;
    },
    destroy,
  };
}
