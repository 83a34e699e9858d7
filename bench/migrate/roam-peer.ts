// One roam "host" of the migration benchmark, run inside a network namespace
// (`ip netns exec <ns> node roam-peer.js <listenIp> [keepDir]`): a libp2p node (TCP +
// Noise + Yamux) that receives VMs on /roam/migrate/1.0.0 into VM processes and sends
// the VMs it holds when told to. JSON lines: commands on stdin, events on stdout.
//   in : {op:'boot', id, memBytes, cmdline} | {op:'send', id, to} | {op:'pause'|'resume'|'kill', id}
//   out: {t:'addr', addr} · {t:'serial', id, at, b64} · {t:'arrived', id, generation, returnTrip, stale}
//        {t:'done', op, id, stats?} · {t:'error', op, id, error}
// With a keepDir, images of VMs that left are kept (return trips send only what changed).
// Ends, killing its VM processes, when stdin closes.
import '../../node/common/polyfill.js';
import { createInterface } from 'node:readline';
import { createLibp2p } from 'libp2p';
import { tcp } from '@libp2p/tcp';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { multiaddr } from '@multiformats/multiaddr';
import { probeGuestPath } from '../../guest/index.js';
import { KeptImages, MigrationReceiver, PROTOCOL, sendVm, type MigrationStream } from '../../migrate/index.js';
import { MigratableVm, VmProcess, VmProcessHost } from '../../node/vm-host/index.js';

const out = (m: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(m)}\n`);
const vms = new Map<string, MigratableVm>();
const MAX_LINE = 1 << 16;
const wallMs = () => performance.timeOrigin + performance.now();

function forwardSerial(id: string, proc: VmProcess): void {
  // Stamped on arrival here (wall clock, shared by every process on the host): the bench
  // measures heartbeat gaps from these stamps, not from when the relay reached it.
  proc.on('serial', (d: Buffer) => out({ t: 'serial', id, at: wallMs(), b64: d.toString('base64') }));
}

async function shutdown(): Promise<never> {
  await Promise.all([...vms.values()].map((v) => v.release({ kill: true }).catch(() => undefined)));
  process.exit(0);
}

async function main(): Promise<void> {
  const [listenIp, keepDir] = process.argv.slice(2);
  if (!listenIp) throw new Error('usage: roam-peer.js <listenIp> [keepDir]');
  const kept = keepDir ? new KeptImages(keepDir, 16 * 2 ** 30) : undefined;
  const host = new VmProcessHost({ onCreated: (vm) => forwardSerial(vm.spec.id, vm.process) });
  const receiver = new MigrationReceiver({
    host, kept,
    onArrived: (vm, info) => {
      vms.set(vm.spec.id, vm as MigratableVm);
      out({ t: 'arrived', id: vm.spec.id, generation: vm.spec.generation, returnTrip: info.returnTrip, stale: info.stalePagesResent });
    },
  });
  const node = await createLibp2p({
    addresses: { listen: [`/ip4/${listenIp}/tcp/0`] },
    transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()],
    // libp2p 3 pings every connection each 10 s and, by default, aborts it when a ping times
    // out. A ping queued behind a saturating transfer on a loaded host does time out, and the
    // transfer dies ("The operation was aborted due to timeout"); keep the connection instead.
    connectionMonitor: { abortConnectionOnPingFailure: false },
  });
  await node.handle(PROTOCOL, async (stream, conn) => {
    await receiver.handle(stream as unknown as MigrationStream, conn.remotePeer.toString());
  }, { maxInboundStreams: 64 });
  out({ t: 'addr', addr: node.getMultiaddrs()[0]!.toString() });

  const handlers: Record<string, (c: Record<string, unknown>, id: string) => Promise<Record<string, unknown> | void>> = {
    async boot(c, id) {
      const memBytes = Number(c.memBytes);
      const proc = await VmProcess.spawn();
      forwardSerial(id, proc);
      try {
        // No framebuffer: QEMU runs with -nodefaults (no VGA), so both sides move the same guest memory.
        await proc.request({ op: 'create', memBytes, vcpus: 1, display: false });
        await proc.request({ op: 'loadMultiboot', kernelPath: probeGuestPath(), cmdline: String(c.cmdline) });
        await proc.request({ op: 'start' });
        vms.set(id, await MigratableVm.attach(proc, { id, generation: 1 }));
      } catch (e) { await proc.kill(); throw e; }
    },
    async send(c, id) {
      const vm = held(id);
      const stats = await sendVm({
        vm, keep: kept, deadlineMs: Number(c.deadlineMs ?? 120_000),
        openStream: async () => (await node.dialProtocol(multiaddr(String(c.to)), PROTOCOL)) as unknown as MigrationStream,
      });
      vms.delete(id);
      await vm.release();
      return { stats };
    },
    async pause(_c, id) { await held(id).pause(); },
    async resume(_c, id) { await held(id).resume(); },
    async kill(_c, id) {
      const vm = vms.get(id);
      vms.delete(id);
      await vm?.release({ kill: true });
    },
  };
  const held = (id: string): MigratableVm => {
    const vm = vms.get(id);
    if (!vm) throw new Error(`no VM '${id}' runs on this host`);
    return vm;
  };

  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    if (line.length > MAX_LINE) { out({ t: 'error', op: '?', id: '?', error: 'command line too long' }); return; }
    let c: Record<string, unknown>;
    try { c = JSON.parse(line) as Record<string, unknown>; } catch { out({ t: 'error', op: '?', id: '?', error: 'not JSON' }); return; }
    const op = String(c.op), id = String(c.id);
    const h = handlers[op];
    if (!h) { out({ t: 'error', op, id, error: `unknown op '${op}'` }); return; }
    h(c, id).then((r) => out({ t: 'done', op, id, ...(r ?? {}) }), (e: unknown) => out({ t: 'error', op, id, error: (e as Error).message }));
  });
  lines.on('close', () => { void Promise.resolve(node.stop()).catch(() => undefined).then(shutdown); });
}

main().catch((e: unknown) => { out({ t: 'fatal', error: (e as Error).stack ?? String(e) }); void shutdown(); });
