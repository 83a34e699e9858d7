// The guest options `roam boot` and `roam run` share: which kernel, how much
// memory and how many vCPUs, whether it gets a screen, and the probe guest's
// workload on its command line.
import { existsSync } from 'node:fs';
import { totalmem } from 'node:os';
import { resolve } from 'node:path';
import { UsageError } from './command.js';
import { formatSize, parseDuration, parseSize } from '../common/units.js';
import { probeGuestPath } from '../../guest/index.js';

const TWO_MIB = 2 * 1024 * 1024;

/** parseArgs option specs for every guest option. */
export const GUEST_OPTIONS = {
  mem: { type: 'string' }, vcpus: { type: 'string' }, fill: { type: 'string' }, ws: { type: 'string' },
  rate: { type: 'string' }, beat: { type: 'string' }, entropy: { type: 'string' }, cmdline: { type: 'string' },
  'no-display': { type: 'boolean' },
} as const;

export const GUEST_USAGE = `  <guest>           'probe' (roam's probe guest, built by npm install) or the path of a multiboot ELF kernel
  --mem SIZE        guest RAM, a multiple of 2M (default 256M)
  --vcpus N         virtual CPUs (default 1)
  --no-display      no screen: the VM gets no framebuffer (by default it has a 1024x768 one, 3 MiB
                    of guest-physical memory beside its RAM that travels with it; keyboard and
                    mouse work either way)

Probe workload (probe only; see guest/README.md):
  --fill SIZE       memory to fill with checked pages (default: half of --mem)
  --ws SIZE         working set rewritten continuously (default 16M, at most --fill)
  --rate SIZE       bytes per second rewritten in the working set (default 8M; 0 = idle)
  --beat DURATION   heartbeat period (default 100ms)
  --entropy X       share of each page that is incompressible, 0..1 (default 0.3)
  --cmdline TEXT    the kernel command line as is (replaces the options above)`;

export interface GuestChoice { guest: string; isProbe: boolean; kernelPath: string; memBytes: number; vcpus: number; cmdline: string; display: boolean }

function size(v: unknown, flag: string, dflt: number): number {
  if (v === undefined) return dflt;
  try { return parseSize(String(v), flag); } catch (e) { throw new UsageError((e as Error).message); }
}

/** The probe guest's command line for these options (sizes in KiB, as the probe reads them). */
export function probeWorkload(v: Record<string, unknown>, memBytes: number): string {
  const fill = size(v.fill, '--fill', Math.floor(memBytes / 2));
  const ws = size(v.ws, '--ws', Math.min(16 * 1024 * 1024, fill));
  const rate = size(v.rate, '--rate', 8 * 1024 * 1024);
  let beat = 100;
  if (v.beat !== undefined) { try { beat = parseDuration(String(v.beat), '--beat'); } catch (e) { throw new UsageError((e as Error).message); } }
  const entropy = v.entropy !== undefined ? Number(v.entropy) : 0.3;
  if (fill >= memBytes) throw new UsageError(`--fill ${formatSize(fill)} must be smaller than --mem ${formatSize(memBytes)}`);
  if (ws > fill) throw new UsageError(`--ws ${formatSize(ws)} must not exceed --fill ${formatSize(fill)}`);
  if (!(entropy >= 0 && entropy <= 1)) throw new UsageError(`--entropy must be a number from 0 to 1, not '${String(v.entropy)}'`);
  if (beat <= 0) throw new UsageError('--beat must be longer than 0');
  return `fill=${Math.floor(fill / 1024)}K ws=${Math.floor(ws / 1024)}K rate=${Math.floor(rate / 1024)}K beat=${beat}ms entropy=${entropy}`;
}

/** Validates the guest, memory, vCPUs and workload options; every problem is a UsageError. */
export function chooseGuest(guest: string, v: Record<string, unknown>): GuestChoice {
  const isProbe = guest === 'probe';
  const kernelPath = isProbe ? probeGuestPath() : resolve(guest);
  if (!existsSync(kernelPath)) {
    throw new UsageError(isProbe ? `the probe guest is not built (${kernelPath}); run \`npm install\` first` : `no such guest kernel: ${kernelPath}`);
  }
  const memBytes = size(v.mem, '--mem', 256 * 1024 * 1024);
  if (memBytes === 0 || memBytes % TWO_MIB) throw new UsageError(`--mem must be a positive multiple of 2M, not ${String(v.mem)}`);
  if (memBytes > totalmem()) throw new UsageError(`--mem ${formatSize(memBytes)} is more than this machine's RAM (${formatSize(totalmem())})`);
  const vcpus = v.vcpus !== undefined ? Number(v.vcpus) : 1;
  if (!Number.isInteger(vcpus) || vcpus < 1 || vcpus > 64) throw new UsageError(`--vcpus must be a whole number from 1 to 64, not '${String(v.vcpus)}'`);
  const cmdline = typeof v.cmdline === 'string' ? v.cmdline : isProbe ? probeWorkload(v, memBytes) : '';
  return { guest, isProbe, kernelPath, memBytes, vcpus, cmdline, display: v['no-display'] !== true };
}
