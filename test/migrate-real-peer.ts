// One side of a real-VM migration in its own process (run inside `ip netns exec` by
// migrate-real-netns.test.ts). Talks JSON lines on stdout; ends when stdin closes.
//   receive <listenIp>
//       prints {t:'addr', addr}; every VM that arrives runs here: {t:'arrived', generation}
//   send <listenIp> <toAddr> <memBytes> <deadlineMs> <cmdline…>
//       boots the probe guest, waits for `PROBE ready`, sends it to <toAddr>:
//       {t:'ready'}, then {t:'sent', stats} (source VM process closed after) or {t:'failed', error, phase, vmState}
// Both forward the guest's serial output as {t:'serial', b64} so the test watches one heartbeat.
import '../node/common/polyfill.js';
import { HeartbeatWatcher } from '../guest/index.js';
import { MigrationError, sendVm, type Progress } from '../migrate/index.js';
import { MigratableVm, VmProcessHost, type VmProcess } from '../node/vm-host/index.js';
import { bootProbe, moreBeats, probeReady, startPeer } from './migrate-real-support.js';

function out(msg: Record<string, unknown>): void { process.stdout.write(JSON.stringify(msg) + '\n'); }
const forward = (d: Buffer) => out({ t: 'serial', b64: d.toString('base64') });
const procs: VmProcess[] = [];

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
    const host = new VmProcessHost({ onCreated: (vm) => { procs.push(vm.process); vm.process.on('serial', forward); } });
    const peer = await startPeer({ host, onArrived: (vm) => out({ t: 'arrived', generation: vm.spec.generation }) }, listenIp);
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
  try {
    const stats = await sendVm({ vm, openStream: () => peer.open(toAddr!), deadlineMs: Number(deadlineMs), onProgress: (p) => { last = p; } });
    await vm.release();
    out({ t: 'sent', stats, sourceAlive: src.alive });
  } catch (e) {
    const m = e instanceof MigrationError ? { phase: e.phase, vmState: e.vmState } : {};
    out({ t: 'failed', error: (e as Error).message, ...m, last, running: vm.isRunning() });
  }
}

main().catch((e: unknown) => { out({ t: 'fatal', error: (e as Error).stack ?? String(e) }); void shutdown(); });
