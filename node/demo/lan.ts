// Network namespaces as household machines (for the demo and the tests): each
// host namespace gets a veth whose other end sits on a bridge in a "switch"
// namespace, an address in 10.<net>.0.0/24 and the multicast route mDNS needs.
// Names start with `<prefix><pid>-` and are deleted by destroy(), on process
// exit, and (for runs whose process is gone) at the next create().
import { execFileSync, spawnSync } from 'node:child_process';

function ip(...args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')} failed: ${r.stderr.trim() || `exit ${r.status}`}`);
}

export function listNamespaces(): string[] {
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.split('\n').map((l) => l.split(' ')[0]!).filter(Boolean) : [];
}

/** Why namespaces cannot be used here, or undefined when they can. */
export function netnsProblem(prefix = 'roam-'): string | undefined {
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  const probe = `${prefix}probe-${process.pid}`;
  const r = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' });
  if (r.status !== 0) return `ip netns does not work here: ${r.stderr.trim()}`;
  spawnSync('ip', ['netns', 'delete', probe]);
  return undefined;
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}

/** Deletes namespaces left by earlier runs (with this prefix) whose process no longer exists. */
function reapStale(prefix: string): void {
  for (const ns of listNamespaces()) {
    const m = new RegExp(`^${prefix}(\\d+)-`).exec(ns);
    if (m && !alive(Number(m[1]))) spawnSync('ip', ['netns', 'delete', ns]);
  }
}

export class NetnsLan {
  readonly hosts = new Map<string, { ns: string; addr: string }>();
  readonly switchNs: string;
  private readonly created: string[] = [];
  private readonly onExit = () => this.destroy();

  /** `prefix` names this LAN's namespaces (`<prefix><pid>-<host>`); `net` picks 10.<net>.0.0/24. */
  constructor(private readonly net = 77, private readonly prefix = 'roam-ag-') {
    this.switchNs = `${prefix}${process.pid}-switch`;
  }

  /** Creates the switch and one namespace per host name; on any failure removes what it made. */
  create(hostNames: string[]): this {
    reapStale(this.prefix);
    process.once('exit', this.onExit);
    try {
      this.addNs(this.switchNs);
      ip('-n', this.switchNs, 'link', 'add', 'br0', 'type', 'bridge');
      // No IGMP snooping: mDNS multicast must flood to every port.
      ip('-n', this.switchNs, 'link', 'set', 'br0', 'type', 'bridge', 'mcast_snooping', '0');
      ip('-n', this.switchNs, 'link', 'set', 'br0', 'up');
      hostNames.forEach((host, i) => {
        const ns = `${this.prefix}${process.pid}-${host}`;
        const addr = `10.${this.net}.0.${i + 10}`;
        this.addNs(ns);
        ip('link', 'add', 'eth0', 'netns', ns, 'type', 'veth', 'peer', 'name', `p${i}`, 'netns', this.switchNs);
        ip('-n', this.switchNs, 'link', 'set', `p${i}`, 'master', 'br0');
        ip('-n', this.switchNs, 'link', 'set', `p${i}`, 'up');
        ip('-n', ns, 'link', 'set', 'lo', 'up');
        ip('-n', ns, 'addr', 'add', `${addr}/24`, 'dev', 'eth0');
        ip('-n', ns, 'link', 'set', 'eth0', 'up');
        ip('-n', ns, 'route', 'add', '224.0.0.0/4', 'dev', 'eth0');
        this.hosts.set(host, { ns, addr });
      });
    } catch (e) {
      this.destroy();
      throw e;
    }
    return this;
  }

  ns(host: string): string {
    const h = this.hosts.get(host);
    if (!h) throw new Error(`no host '${host}' in this test LAN`);
    return h.ns;
  }

  /** Deletes every namespace this LAN made (their veths go with them). Safe to call twice. */
  destroy(): void {
    process.off('exit', this.onExit);
    while (this.created.length) {
      const ns = this.created.pop()!;
      spawnSync('ip', ['netns', 'delete', ns]);
    }
  }

  private addNs(ns: string): void {
    execFileSync('ip', ['netns', 'add', ns]);
    this.created.push(ns);
  }
}
