// `roam run`: start a guest under roamd, detached (it keeps running after this
// command returns; `roam console` shows its output, `roam stop` ends it).
import { existsSync } from 'node:fs';
import { totalmem } from 'node:os';
import { basename, resolve } from 'node:path';
import { UsageError, type Command } from '../command.js';
import { COMMON_USAGE, ask, parseCommand, printJson } from '../../agent/cli-support.js';
import { formatSize, parseDuration, parseSize } from '../../common/units.js';
import { probeGuestPath } from '../../../guest/index.js';

const usage = `usage: roam run <guest> [--name NAME] [--mem SIZE] [--vcpus N] [--ws SIZE] [--rate SIZE] [options]

Starts a guest under roamd on this machine, detached.

  <guest>         'probe' (roam's probe guest) or the path of a multiboot ELF kernel
  --name NAME     the VM's name (default: the guest's name, made unique)
  --mem SIZE      guest RAM, a multiple of 2M (default 256M)
  --vcpus N       virtual CPUs (default 1)
  --fill SIZE, --ws SIZE, --rate SIZE, --beat DURATION, --entropy X, --cmdline TEXT
                  the probe workload, as for \`roam boot\`
${COMMON_USAGE}`;

const TWO_MIB = 2 * 1024 * 1024;

function sizeOpt(v: unknown, flag: string, dflt: number): number {
  if (v === undefined) return dflt;
  try { return parseSize(String(v), flag); } catch (e) { throw new UsageError((e as Error).message); }
}

export function probeWorkload(v: Record<string, unknown>, memBytes: number): string {
  const fill = sizeOpt(v.fill, '--fill', Math.floor(memBytes / 2));
  const ws = sizeOpt(v.ws, '--ws', Math.min(16 * 1024 * 1024, fill));
  const rate = sizeOpt(v.rate, '--rate', 8 * 1024 * 1024);
  let beat = 100;
  if (v.beat !== undefined) { try { beat = parseDuration(String(v.beat), '--beat'); } catch (e) { throw new UsageError((e as Error).message); } }
  const entropy = v.entropy !== undefined ? Number(v.entropy) : 0.3;
  if (fill >= memBytes) throw new UsageError(`--fill ${formatSize(fill)} must be smaller than --mem ${formatSize(memBytes)}`);
  if (ws > fill) throw new UsageError(`--ws ${formatSize(ws)} must not exceed --fill ${formatSize(fill)}`);
  if (!(entropy >= 0 && entropy <= 1)) throw new UsageError(`--entropy must be a number from 0 to 1, not '${String(v.entropy)}'`);
  if (beat <= 0) throw new UsageError('--beat must be longer than 0');
  return `fill=${Math.floor(fill / 1024)}K ws=${Math.floor(ws / 1024)}K rate=${Math.floor(rate / 1024)}K beat=${beat}ms entropy=${entropy}`;
}

export const run: Command = {
  name: 'run',
  summary: 'start a guest under roamd, detached',
  usage,
  async run(argv) {
    const { values: v, positionals, json, state } = parseCommand(argv, {
      name: { type: 'string' }, mem: { type: 'string' }, vcpus: { type: 'string' }, fill: { type: 'string' }, ws: { type: 'string' },
      rate: { type: 'string' }, beat: { type: 'string' }, entropy: { type: 'string' }, cmdline: { type: 'string' },
    }, { min: 1, max: 1, what: 'the guest to run: `probe` or the path of a kernel' });
    const guest = positionals[0]!;
    const isProbe = guest === 'probe';
    const kernelPath = isProbe ? probeGuestPath() : resolve(guest);
    if (!existsSync(kernelPath)) throw new UsageError(isProbe ? `the probe guest is not built (${kernelPath}); run \`npm install\` first` : `no such guest kernel: ${kernelPath}`);
    const memBytes = sizeOpt(v.mem, '--mem', 256 * 1024 * 1024);
    if (memBytes === 0 || memBytes % TWO_MIB) throw new UsageError(`--mem must be a positive multiple of 2M, not ${String(v.mem)}`);
    if (memBytes > totalmem()) throw new UsageError(`--mem ${formatSize(memBytes)} is more than this machine's RAM (${formatSize(totalmem())})`);
    const vcpus = v.vcpus !== undefined ? Number(v.vcpus) : 1;
    if (!Number.isInteger(vcpus) || vcpus < 1 || vcpus > 64) throw new UsageError(`--vcpus must be a whole number from 1 to 64, not '${String(v.vcpus)}'`);
    const cmdline = typeof v.cmdline === 'string' ? v.cmdline : isProbe ? probeWorkload(v, memBytes) : '';
    let name = typeof v.name === 'string' ? v.name : undefined;
    if (name === undefined) {
      const existing = new Set((await ask(state, 'ps') as { name: string }[]).map((x) => x.name));
      const base = (isProbe ? 'probe' : basename(guest).replace(/\.[^.]*$/, '').replace(/[^A-Za-z0-9._-]/g, '-')) || 'vm';
      name = base;
      for (let i = 2; existing.has(name); i++) name = `${base}-${i}`;
    }
    const s = await ask(state, 'run', { name, guest, kernelPath, cmdline, memBytes, vcpus }) as { name: string; pid: number; state: string };
    if (json) printJson(s);
    else console.log(`started VM '${s.name}' (pid ${s.pid}, ${formatSize(memBytes)}); \`roam console ${s.name}\` shows its console, \`roam stop ${s.name}\` ends it`);
    return 0;
  },
};
