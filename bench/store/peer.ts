// The two ends of the `store` benchmark, each in a namespace:
//   serve <ip> <storeDir> <treeDir>   serves roam's home store of <treeDir> (snapshotted
//                                     when a peer asks, as roamd does); prints {t:'addr', addr}
//   sync <ip>                         then JSON commands on stdin, one at a time:
//                                     {from, storeDir, dir, fresh} → {t:'done', ms, chunksFetched, bytesFetched} | {t:'error', error}
// `fresh` removes the destination store and tree first (an initial sync); otherwise the
// store stays open between syncs, as in roamd.
import '../../node/common/polyfill.js';
import { mkdirSync, rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { createLibp2p, type Libp2p } from 'libp2p';
import { tcp } from '@libp2p/tcp';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { multiaddr } from '@multiformats/multiaddr';
import { Store, serveStore, snapshotTree, syncFrom } from '../../storage/index.js';

const out = (m: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(m)}\n`);
const nowMs = () => Number(process.hrtime.bigint()) / 1e6;
const MAX_CMD = 1 << 12;

function node(ip: string): Promise<Libp2p> {
  return createLibp2p({
    addresses: { listen: [`/ip4/${ip}/tcp/0`] },
    transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()],
    connectionMonitor: { abortConnectionOnPingFailure: false },
  });
}

async function serve(ip: string, storeDir: string, treeDir: string): Promise<void> {
  const store = await Store.open(storeDir);
  // roamd keeps its home snapshotted; the benchmark starts from the same state.
  await snapshotTree(store, treeDir, { machine: 'source' });
  const p2p = await node(ip);
  await serveStore(p2p, store, { isMember: () => true, dir: treeDir, machine: 'source' });
  out({ t: 'addr', addr: p2p.getMultiaddrs()[0]!.toString() });
  process.stdin.on('end', () => { void Promise.resolve(p2p.stop()).then(() => store.close()).finally(() => process.exit(0)); });
  process.stdin.resume();
}

async function sync(ip: string): Promise<void> {
  const p2p = await node(ip);
  let store: Store | undefined;
  let storePath = '';
  out({ t: 'ready' });
  let busy = Promise.resolve();
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    busy = busy.then(async () => {
      try {
        if (line.length > MAX_CMD) throw new Error('command too long');
        const c = JSON.parse(line) as { from: string; storeDir: string; dir: string; fresh: boolean };
        if (c.fresh || storePath !== c.storeDir) {
          await store?.close();
          store = undefined;
          if (c.fresh) { rmSync(c.storeDir, { recursive: true, force: true }); rmSync(c.dir, { recursive: true, force: true }); }
          mkdirSync(c.dir, { recursive: true });
          store = await Store.open(c.storeDir);
          storePath = c.storeDir;
        }
        const t0 = nowMs();
        const r = await syncFrom(p2p, multiaddr(c.from), store!, { dir: c.dir, machine: 'dest', isMember: () => true });
        const ms = nowMs() - t0;
        if (r.refusedChunks.length || r.unavailable.length) throw new Error(`sync incomplete: ${r.refusedChunks.length} chunks refused, ${r.unavailable.length} paths unavailable`);
        out({ t: 'done', ms, chunksFetched: r.chunksFetched, bytesFetched: r.bytesFetched, conflicts: r.conflicts.length });
      } catch (e) {
        out({ t: 'error', error: (e as Error).message });
      }
    });
  });
  lines.on('close', () => { void busy.then(() => store?.close()).then(() => p2p.stop()).finally(() => process.exit(0)); });
}

async function main(): Promise<void> {
  const [mode, ip, a, b] = process.argv.slice(2);
  if (mode === 'serve' && ip && a && b) return serve(ip, a, b);
  if (mode === 'sync' && ip) return sync(ip);
  throw new Error('usage: peer.js serve <ip> <storeDir> <treeDir> | sync <ip>');
}

main().catch((e: unknown) => { out({ t: 'fatal', error: (e as Error).stack ?? String(e) }); process.exit(1); });
