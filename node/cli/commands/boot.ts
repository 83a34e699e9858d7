// `roam boot`: run a guest in the foreground under roam's own VMM and print its console.
import { parseArgs } from 'node:util';
import { UsageError, type Command } from '../command.js';
import { parseDuration } from '../../common/units.js';
import { GUEST_OPTIONS, GUEST_USAGE, chooseGuest } from '../guest-options.js';
import { VmProcess } from '../../vm-host/index.js';
import { HeartbeatWatcher } from '../../../guest/index.js';

const usage = `usage: roam boot <guest> [options]

Boots a guest under roam's VMM in the foreground and prints its serial console.

${GUEST_USAGE}

  --for DURATION    stop after this long, e.g. 10s (default: until Ctrl-C)
  --json            print one JSON object per heartbeat and a summary, not the raw console

Exit status: 0 when the guest ran and its verification stayed ok, 3 when the probe
reported CORRUPT memory, 1 on any VM failure, 2 on bad arguments.`;

export const boot: Command = {
  name: 'boot',
  summary: 'run a guest (the probe guest by default) in the foreground and print its console',
  usage,
  async run(argv) {
    let parsed;
    try {
      parsed = parseArgs({
        args: argv, allowPositionals: true,
        options: { ...GUEST_OPTIONS, for: { type: 'string' }, json: { type: 'boolean' } },
      });
    } catch (e) { throw new UsageError((e as Error).message); }
    const { values: v, positionals } = parsed;
    if (positionals.length !== 1) throw new UsageError('name one guest: `probe` or the path of a kernel');
    const { kernelPath, memBytes, vcpus, cmdline, display } = chooseGuest(positionals[0]!, v);
    let forMs: number | undefined;
    try { forMs = v.for ? parseDuration(v.for, '--for') : undefined; } catch (e) { throw new UsageError((e as Error).message); }

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
      await vmp.request({ op: 'create', memBytes, vcpus, display });
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
