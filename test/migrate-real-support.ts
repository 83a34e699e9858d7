// Shared by the migrate-real-* tests and the netns peer script: booting the probe guest
// in a VM process, waiting for heartbeats, and libp2p nodes that serve /roam/migrate/1.0.0.
import '../node/common/polyfill.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createLibp2p, type Libp2p } from 'libp2p';
import { tcp } from '@libp2p/tcp';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { multiaddr } from '@multiformats/multiaddr';
import { HeartbeatWatcher, probeGuestPath, type Heartbeat } from '../guest/index.js';
import { MigrationReceiver, PROTOCOL, type MigrationStream, type ReceiverOptions } from '../migrate/index.js';
import { VmProcess } from '../node/vm-host/index.js';
import { stopProcess } from '../node/demo/household.js';
export { moreBeats } from './support/heartbeat.js';

export const MiB = 1024 * 1024;

/** Polls `cond` every 20 ms until it holds; rejects after `ms`. */
export async function waitFor(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Boots the probe guest in a fresh VM process; its serial output feeds `watcher`. */
export async function bootProbe(watcher: HeartbeatWatcher, cmdline: string, memBytes: number): Promise<VmProcess> {
  const vm = await VmProcess.spawn();
  vm.on('serial', (d: Buffer) => watcher.push(d));
  try {
    await vm.request({ op: 'create', memBytes, vcpus: 1 });
    await vm.request({ op: 'loadMultiboot', kernelPath: probeGuestPath(), cmdline });
    await vm.request({ op: 'start' });
  } catch (e) { await vm.kill(); throw e; }
  return vm;
}

/** Resolves at `PROBE ready` (the fill is done and the working set is being rewritten). */
export function probeReady(watcher: HeartbeatWatcher, ms = 30_000): Promise<void> {
  if (watcher.ready) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`probe guest not ready after ${ms} ms (${watcher.heartbeats} heartbeats)`)), ms);
    watcher.once('ready', () => { clearTimeout(t); resolve(); });
  });
}

/** Guest-side continuity: ticks never go back, and the largest step of the guest's own clock between beats. */
export class GuestClock {
  ticksWentBack = 0;
  maxGuestGapMs = 0;
  private last: Heartbeat | undefined;
  constructor(watcher: HeartbeatWatcher) {
    watcher.on('heartbeat', (hb: Heartbeat) => {
      if (this.last) {
        if (hb.ticks < this.last.ticks) this.ticksWentBack++;
        this.maxGuestGapMs = Math.max(this.maxGuestGapMs, hb.ms - this.last.ms);
      }
      this.last = hb;
    });
  }
  /** Reset the gap measure (e.g. after boot, whose first beats are irregular). */
  resetGap(): void { this.maxGuestGapMs = 0; }
}

export interface MigrationPeer {
  node: Libp2p;
  receiver: MigrationReceiver;
  addr: string;
  open: (addr: string) => Promise<MigrationStream>;
  stop: () => Promise<void>;
}

/** A libp2p node (TCP + Noise + Yamux) on `listenIp` that receives migrations with `opts`. */
export async function startPeer(opts: ReceiverOptions, listenIp = '127.0.0.1'): Promise<MigrationPeer> {
  const node = await createLibp2p({
    addresses: { listen: [`/ip4/${listenIp}/tcp/0`] },
    transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()],
  });
  const receiver = new MigrationReceiver(opts);
  await node.handle(PROTOCOL, async (stream, conn) => {
    await receiver.handle(stream as unknown as MigrationStream, conn.remotePeer.toString());
  }, { maxInboundStreams: 64 });
  const addr = node.getMultiaddrs()[0]!.toString();
  return {
    node, receiver, addr,
    open: async (to: string) => (await node.dialProtocol(multiaddr(to), PROTOCOL)) as unknown as MigrationStream,
    stop: async () => { receiver.close(); await node.stop(); },
  };
}

/** A JSON-lines message from a migrate-real-peer.js process. */
export type PeerMsg = { t: string; [k: string]: unknown };

/**
 * A migrate-real-peer.js process inside network namespace `ns` (`fault` goes to it as
 * ROAM_MR_FAULT); its serial lines feed `watcher`, its other messages queue for `next`.
 */
export class PeerProcess {
  readonly child: ChildProcess;
  /** Every non-serial message, in order (the queue `next` consumes is separate). */
  readonly seen: PeerMsg[] = [];
  private readonly queue: PeerMsg[] = [];
  private wake: (() => void) | null = null;
  private exited = false;
  stderr = '';

  constructor(ns: string, args: string[], watcher: HeartbeatWatcher, fault: object = {}) {
    const script = join(dirname(fileURLToPath(import.meta.url)), 'migrate-real-peer.js');
    this.child = spawn('ip', ['netns', 'exec', ns, process.execPath, script, ...args],
      { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ROAM_MR_FAULT: JSON.stringify(fault) } });
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      let m: PeerMsg;
      try { m = JSON.parse(line) as PeerMsg; } catch { return; }
      if (m.t === 'serial') watcher.push(Buffer.from(String(m.b64), 'base64'));
      else { this.seen.push(m); this.queue.push(m); this.wake?.(); }
    });
    this.child.stderr!.on('data', (d: Buffer) => { this.stderr = (this.stderr + d.toString()).slice(-4000); });
    this.child.on('exit', () => { this.exited = true; this.wake?.(); });
  }

  /** The next queued message of one of `types` (a peer's `fatal` throws); earlier other messages stay queued. */
  async next(types: string[], ms: number, match: (m: PeerMsg) => boolean = () => true): Promise<PeerMsg> {
    const end = Date.now() + ms;
    for (;;) {
      const i = this.queue.findIndex((m) => (types.includes(m.t) && match(m)) || m.t === 'fatal');
      if (i >= 0) {
        const m = this.queue.splice(i, 1)[0]!;
        if (m.t === 'fatal') throw new Error(`peer failed: ${String(m.error)}`);
        return m;
      }
      if (this.exited) throw new Error(`peer exited before ${types.join('/')}: ${this.stderr}`);
      if (Date.now() > end) throw new Error(`no ${types.join('/')} from the peer within ${ms} ms (seen: ${JSON.stringify(this.seen.map((m) => m.t))})`);
      await new Promise<void>((r) => { this.wake = r; setTimeout(r, 200); });
      this.wake = null;
    }
  }

  /** Closing stdin ends it (it kills its VM processes first). */
  async stop(): Promise<void> {
    if (this.exited) return;
    await stopProcess(this.child, 5000, (c) => c.stdin!.end());
  }
}
