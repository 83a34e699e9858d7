// `roam boot`: run a guest in the foreground under roam's own VMM and print its console.
import { parseArgs } from 'node:util';
import { totalmem } from 'node:os';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { UsageError, type Command } from '../command.js';
import { formatSize, parseDuration, parseSize } from '../../common/units.js';
import { VmProcess } from '../../vm-host/index.js';
import { HeartbeatWatcher, probeGuestPath } from '../../../guest/index.js';

const usage = `usage: roam boot <guest> [options]

Boots a guest under roam's VMM in the foreground and prints its serial console.

  <guest>           'probe' (roam's probe guest, built by npm install) or the path of a multiboot ELF kernel
  --mem SIZE        guest RAM, a multiple of 2M (default 256M)
  --vcpus N         virtual CPUs (default 1)
  --for DURATION    stop after this long, e.g. 10s (default: until Ctrl-C)
  --json            print one JSON object per heartbeat and a summary, not the raw console

Probe workload (probe only; see guest/README.md):
  --fill SIZE       memory to fill with checked pages (default: half of --mem)
  --ws SIZE         working set rewritten continuously (default 16M)
  --rate SIZE       bytes per second rewritten in the working set (default 8M; 0 = idle)
  --beat DURATION   heartbeat period (default 100ms)
  --entropy X       share of each page that is incompressible, 0..1 (default 0.3)
  --cmdline TEXT    the kernel command line as is (replaces the options above)

Exit status: 0 when the guest ran and its verification stayed ok, 3 when the probe
reported CORRUPT memory, 1 on any VM failure, 2 on bad arguments.`;

const TWO_MIB = 2 * 1024 * 1024;

function probeCmdline(v: Record<string, string | boolean | undefined>, memBytes: number): string {
  const fill = v.fill ? parseSize(String(v.fill), '--fill') : Math.floor(memBytes / 2);
  const ws = v.ws ? parseSize(String(v.ws), '--ws') : 16 * 1024 * 1024;
  const rate = v.rate !== undefined ? parseSize(String(v.rate), '--rate') : 8 * 1024 * 1024;
  const beat = v.beat ? parseDuration(String(v.beat), '--beat') : 100;
  const entropy = v.entropy !== undefined ? Number(v.entropy) : 0.3;
  if (fill >= memBytes) throw new UsageError(`--fill ${formatSize(fill)} must be smaller than --mem ${formatSize(memBytes)}`);
  if (ws > fill) throw new UsageError(`--ws ${formatSize(ws)} must not exceed --fill ${formatSize(fill)}`);
  if (!(entropy >= 0 && entropy <= 1)) throw new UsageError(`--entropy must be a number from 0 to 1, not '${v.entropy}'`);
  if (beat <= 0) throw new UsageError('--beat must be longer than 0');
  return `fill=${Math.floor(fill / 1024)}K ws=${Math.floor(ws / 1024)}K rate=${Math.floor(rate / 1024)}K beat=${beat}ms entropy=${entropy}`;
}

export const boot: Command = {
  name: 'boot',
  summary: 'run a guest (the probe guest by default) in the foreground and print its console',
  usage,
  async run(argv) {
    let parsed;
    try {
      parsed = parseArgs({
        args: argv, allowPositionals: true,
        options: {
          mem: { type: 'string' }, vcpus: { type: 'string' }, for: { type: 'string' }, json: { type: 'boolean' },
          fill: { type: 'string' }, ws: { type: 'string' }, rate: { type: 'string' }, beat: { type: 'string' },
          entropy: { type: 'string' }, cmdline: { type: 'string' },
        },
      });
    } catch (e) { throw new UsageError((e as Error).message); }
    const { values: v, positionals } = parsed;
    if (positionals.length !== 1) throw new UsageError('name one guest: `probe` or the path of a kernel');
    const guest = positionals[0]!;
    const isProbe = guest === 'probe';
    const kernelPath = isProbe ? probeGuestPath() : resolve(guest);
    if (!existsSync(kernelPath)) {
      throw new UsageError(isProbe ? `the probe guest is not built (${kernelPath}); run \`npm install\` first` : `no such guest kernel: ${kernelPath}`);
    }
    let memBytes: number; let forMs: number | undefined; let cmdline: string;
    try {
      memBytes = parseSize(v.mem ?? '256M', '--mem');
      forMs = v.for ? parseDuration(v.for, '--for') : undefined;
      if (memBytes === 0 || memBytes % TWO_MIB) throw new UsageError(`--mem must be a positive multiple of 2M, not ${v.mem}`);
      if (memBytes > totalmem()) throw new UsageError(`--mem ${formatSize(memBytes)} is more than this machine's RAM (${formatSize(totalmem())})`);
      cmdline = v.cmdline ?? (isProbe ? probeCmdline(v, memBytes) : '');
    } catch (e) {
      throw e instanceof UsageError ? e : new UsageError((e as Error).message);
    }
    const vcpus = v.vcpus ? Number(v.vcpus) : 1;
    if (!Number.isInteger(vcpus) || vcpus < 1 || vcpus > 64) throw new UsageError(`--vcpus must be a whole number from 1 to 64, not '${v.vcpus}'`);

    const vmp = await VmProcess.spawn();
    const watcher = new HeartbeatWatcher();
    let failure: string | undefined;
    let finish!: () => void;
    const done = new Promise<void>((r) => { finish = r; });
    vmp.on('serial', (data: Buffer) => {
      if (!v.json) process.stdout.write(data);
      watcher.push(data);
    });
    if (v.json) watcher.on('heartbeat', (hb: unknown) => console.log(JSON.stringify({ heartbeat: hb })));
    vmp.on('vm-error', (m: string) => { failure = `the VM stopped: ${m}`; finish(); });
    vmp.on('shutdown', () => { failure = 'the guest shut down (triple fault)'; finish(); });
    vmp.on('reset', () => { finish(); });
    vmp.on('exit', (x: { expected: boolean; message: string }) => { if (!x.expected) failure = x.message; finish(); });
    const onSigint = () => finish();
    process.once('SIGINT', onSigint);
    try {
      await vmp.request({ op: 'create', memBytes, vcpus });
      await vmp.request({ op: 'loadMultiboot', kernelPath, cmdline });
      await vmp.request({ op: 'start' });
      if (forMs !== undefined) setTimeout(finish, forMs).unref();
      await done;
    } catch (e) {
      failure = (e as Error).message;
    } finally {
      process.off('SIGINT', onSigint);
      await vmp.close();
    }
    const w = watcher;
    if (v.json) {
      const summary = { heartbeats: w.heartbeats, lastSeq: w.lastSeq, gaps: w.gaps, repeats: w.repeats,
        corruptPage: w.corruptPage ?? null, maxWallGapMs: w.maxWallGapMs, failure: failure ?? null };
      console.log(JSON.stringify({ summary }));
    } else if (w.heartbeats > 0) {
      console.error(`roam boot: ${w.heartbeats} heartbeats, last seq ${w.lastSeq}, ${w.corruptPage !== undefined ? `CORRUPT page ${w.corruptPage}` : 'verification ok'}`);
    }
    if (failure) { console.error(`roam boot: ${failure}`); return 1; }
    return w.corruptPage !== undefined ? 3 : 0;
  },
};
