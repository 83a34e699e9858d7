// One side of a real-VM migration in its own process (run inside `ip netns exec` by
// migrate-real-netns.test.ts and migrate-real-cut.test.ts). Talks JSON lines on stdout; ends when stdin closes.
//   receive <listenIp>
//       prints {t:'addr', addr}; every VM that arrives runs here: {t:'arrived', generation}
//   send <listenIp> <toAddr> <memBytes> <deadlineMs> <cmdline…>
//       boots the probe guest, waits for `PROBE ready`, sends it to <toAddr>:
//       {t:'ready'}, then {t:'sent', stats} (source VM process closed after) or {t:'failed', error, phase, vmState}
// Both forward the guest's serial output as {t:'serial', b64} so the test watches one heartbeat.
//
// Faults (migrate-real-cut.test.ts): the env variable ROAM_MR_FAULT holds JSON `PeerFault`.
// The peer cuts its own end of the veth (`ip link set <dev> down`, synchronously, so nothing
// more is handled before the link is gone) at the chosen moment and reports {t:'cut', at, round}.
// A receiver also reports {t:'vm-created', pid}, {t:'vm-exit', pid} and {t:'state', state};
// a sender reports each status query's stream as {t:'open', n, running} (n ≥ 2: asking again).
import '../node/common/polyfill.js';
import { spawnSync } from 'node:child_process';
import { HeartbeatWatcher } from '../guest/index.js';
import { MigrationError, sendVm, type MigrationStream, type Progress } from '../migrate/index.js';
import { T, type Frame } from '../migrate/frames.js';
import { MigratableVm, VmProcessHost, type VmProcess } from '../node/vm-host/index.js';
import { bootProbe, moreBeats, probeReady, startPeer } from './migrate-real-support.js';

/** Where a peer cuts the link, and the short timeouts that let both sides notice. */
export interface PeerFault {
  /** Receiver: at the first pages of round 0 / of round ≥ 1, at the last round's end, at the state frame. Sender: as the destination's accept arrives (round 0 then streams into a dead link), before its commit goes out. */
  cutAt?: 'round0' | 'round1' | 'last-round-end' | 'state' | 'accepted' | 'commit';
  /** The veth end in this namespace (default eth0). */
  dev?: string;
  idleTimeoutMs?: number;
  readyGraceMs?: number;
  replyTimeoutMs?: number;
  statusRetryMs?: number;
  statusDeadlineMs?: number;
  targetDowntimeMs?: number;
}

function out(msg: Record<string, unknown>): void { process.stdout.write(JSON.stringify(msg) + '\n'); }
const forward = (d: Buffer) => out({ t: 'serial', b64: d.toString('base64') });
const procs: VmProcess[] = [];
const fault: PeerFault = process.env.ROAM_MR_FAULT ? JSON.parse(process.env.ROAM_MR_FAULT) as PeerFault : {};

let cut = false;
/** Take this namespace's end of the veth down now (blocking: no frame is handled in between). */
function cutLink(at: string, round: number): void {
  if (cut) return;
  cut = true;
  const r = spawnSync('ip', ['link', 'set', fault.dev ?? 'eth0', 'down'], { encoding: 'utf8' });
  out({ t: 'cut', at, round, ok: r.status === 0, error: r.stderr?.trim() });
}

/** The receiver-side moments, seen as frames arrive (before they are handled). */
function receiverCut(f: Frame, round: number): void {
  const at = fault.cutAt;
  if ((at === 'round0' && f.type === T.PAGES && round === 0) ||
      (at === 'round1' && f.type === T.PAGES && round >= 1) ||
      (at === 'last-round-end' && f.type === T.ROUND_END && f.lastRound) ||
      (at === 'state' && f.type === T.STATE)) cutLink(at, round);
}

/** A sender stream that cuts the link just before a COMMIT frame (length 1, type 8) is handed to it. */
function cutBeforeCommit(s: MigrationStream): MigrationStream {
  const send = s.send.bind(s);
  s.send = (data: Uint8Array): boolean => {
    if (data.byteLength === 5 && data[3] === 1 && data[4] === T.COMMIT) cutLink('commit', -1);
    return send(data);
  };
  return s;
}

async function shutdown(): Promise<void> {
  await Promise.all(procs.map((p) => p.kill()));
  process.exit(0);
}
process.stdin.on('end', () => void shutdown());
process.stdin.on('error', () => void shutdown());
process.stdin.resume();

async function main(): Promise<void> {
  const [mode, listenIp, ...rest] = process.argv.slice(2);
  if (!listenIp || (mode !== 'receive' && mode !== 'send')) throw new Error('usage: migrate-real-peer.js receive <ip> | send <ip> <toAddr> <memBytes> <deadlineMs> <cmdline…>');
  if (mode === 'receive') {
    const host = new VmProcessHost({
      onCreated: (vm) => {
        procs.push(vm.process);
        vm.process.on('serial', forward);
        out({ t: 'vm-created', pid: vm.process.pid });
        vm.process.on('exit', () => out({ t: 'vm-exit', pid: vm.process.pid }));
      },
    });
    const peer = await startPeer({
      host, onArrived: (vm) => out({ t: 'arrived', generation: vm.spec.generation }),
      onFrame: (f, round) => receiverCut(f, round),
      onStateChange: (state) => out({ t: 'state', state }),
      ...(fault.idleTimeoutMs ? { idleTimeoutMs: fault.idleTimeoutMs } : {}),
      ...(fault.readyGraceMs ? { readyGraceMs: fault.readyGraceMs } : {}),
    }, listenIp);
    out({ t: 'addr', addr: peer.addr });
    return;
  }
  const [toAddr, memBytes, deadlineMs, ...cmd] = rest;
  const watcher = new HeartbeatWatcher();
  const src = await bootProbe(watcher, cmd.join(' '), Number(memBytes));
  procs.push(src);
  src.on('serial', forward);
  await probeReady(watcher);
  await moreBeats(watcher, 4);
  const peer = await startPeer({ host: new VmProcessHost() }, listenIp);
  const vm = await MigratableVm.attach(src, { id: 'probe-netns', generation: 1 });
  out({ t: 'ready' });
  let last: Progress | undefined;
  let opened = 0;
  const openStream = async (): Promise<MigrationStream> => {
    opened++;
    if (opened > 1) out({ t: 'open', n: opened, running: vm.isRunning() });
    const s = await peer.open(toAddr!);
    return fault.cutAt === 'commit' && opened === 1 ? cutBeforeCommit(s) : s;
  };
  try {
    const stats = await sendVm({
      vm, openStream, deadlineMs: Number(deadlineMs),
      onProgress: (p) => { last = p; if (fault.cutAt === 'accepted') cutLink('accepted', p.round); },
      ...(fault.replyTimeoutMs ? { replyTimeoutMs: fault.replyTimeoutMs } : {}),
      ...(fault.statusRetryMs ? { statusRetryMs: fault.statusRetryMs } : {}),
      ...(fault.statusDeadlineMs ? { statusDeadlineMs: fault.statusDeadlineMs } : {}),
      ...(fault.targetDowntimeMs !== undefined ? { targetDowntimeMs: fault.targetDowntimeMs } : {}),
    });
    await vm.release();
    out({ t: 'sent', stats, sourceAlive: src.alive });
  } catch (e) {
    const m = e instanceof MigrationError ? { phase: e.phase, vmState: e.vmState } : {};
    out({ t: 'failed', error: (e as Error).message, ...m, last, running: vm.isRunning() });
  }
}

main().catch((e: unknown) => { out({ t: 'fatal', error: (e as Error).stack ?? String(e) }); void shutdown(); });
