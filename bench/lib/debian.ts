// Baseline tools come from Debian: when one is missing the benchmark installs its
// package with apt-get (and says so), rather than failing on a fresh machine.
import { spawnSync } from 'node:child_process';

function has(bin: string): boolean {
  const r = spawnSync('sh', ['-c', `command -v ${bin}`], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim().length > 0;
}

/**
 * Makes sure `bin` is on PATH, installing Debian package `pkg` when it is not.
 * Returns what happened ("present", "installed …"); throws with apt-get's error otherwise.
 */
export function ensureDebianTool(bin: string, pkg: string, log: (m: string) => void): string {
  if (!/^[a-z0-9][a-z0-9+.-]*$/.test(pkg) || !/^[A-Za-z0-9_.+-]+$/.test(bin)) throw new Error(`bad tool or package name: ${bin} / ${pkg}`);
  if (has(bin)) return 'present';
  log(`${bin} is missing: installing the Debian package ${pkg} (apt-get install -y ${pkg})`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  let r = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', pkg], { encoding: 'utf8', env });
  if (r.status !== 0) {
    spawnSync('apt-get', ['update'], { encoding: 'utf8', env });
    r = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', pkg], { encoding: 'utf8', env });
  }
  if (r.error || r.status !== 0 || !has(bin)) {
    throw new Error(`${bin} is missing and apt-get install ${pkg} failed: ${(r.error?.message ?? r.stderr ?? '').trim().slice(-300)}`);
  }
  log(`installed ${pkg} from Debian`);
  return `installed ${pkg} from Debian by this run`;
}
