// The two ends of the `transport` benchmark, each run in a namespace:
//   serve <ip> <maxBytes>      raw TCP sink, libp2p sink protocol and a migration receiver
//                              (BufferHost); prints {t:'addr', tcp, p2p}
//   send <ip> <entropy>        then JSON commands on stdin, one at a time:
//                              {kind:'tcp'|'p2p'|'mig-zstd'|'mig-raw', to, bytes} → {t:'done', ms, extra} | {t:'error', error}
// Sinks read until the sender ends its side and answer with the byte count they got
// (u64 BE), so a transfer is timed until the last byte has arrived.
import '../../node/common/polyfill.js';
import { createConnection, createServer, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { createLibp2p, type Libp2p } from 'libp2p';
import { tcp } from '@libp2p/tcp';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { multiaddr } from '@multiformats/multiaddr';
import { MigrationReceiver, PROTOCOL, sendVm, type MigrationStream } from '../../migrate/index.js';
import { BufferHost, PatternVm } from './fake-vm.js';
import { BLOCK_BYTES, guestLikePages } from './pattern.js';

const SINK = '/roam-bench/sink/1.0.0';
const MAX_CMD = 1 << 12;
const out = (m: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(m)}\n`);
const nowMs = () => Number(process.hrtime.bigint()) / 1e6;
const u64 = (n: number) => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(n)); return b; };

type Chunk = Uint8Array | { subarray(): Uint8Array };
const bytesOf = (c: Chunk) => (c instanceof Uint8Array ? c : c.subarray());

interface P2pStream extends AsyncIterable<Chunk> {
  send(b: Uint8Array): boolean;
  onDrain(): Promise<void>;
  close(): Promise<void>;
}

function node(ip: string): Promise<Libp2p> {
  return createLibp2p({
    addresses: { listen: [`/ip4/${ip}/tcp/0`] },
    transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()],
    // libp2p 3 pings every connection each 10 s and, by default, aborts it when a ping times
    // out. A ping queued behind a saturating transfer on a loaded host does time out, and the
    // transfer dies ("The operation was aborted due to timeout"); keep the connection instead.
    connectionMonitor: { abortConnectionOnPingFailure: false },
  });
}

async function serve(ip: string, maxBytes: number): Promise<void> {
  const server = createServer((sock: Socket) => {
    let got = 0;
    sock.on('data', (d: Buffer) => { got += d.byteLength; });
    sock.on('end', () => sock.end(u64(got)));
    sock.on('error', () => sock.destroy());
  });
  await new Promise<void>((r) => server.listen(0, ip, r));
  const p2p = await node(ip);
  await p2p.handle(SINK, async (stream) => {
    const s = stream as unknown as P2pStream;
    let got = 0;
    for await (const c of s) got += bytesOf(c).byteLength;
    s.send(u64(got));
    await s.close();
  });
  const receiver = new MigrationReceiver({ host: new BufferHost(maxBytes) });
  await p2p.handle(PROTOCOL, async (stream, conn) => {
    await receiver.handle(stream as unknown as MigrationStream, conn.remotePeer.toString());
  });
  const addr = server.address();
  if (!addr || typeof addr === 'string') throw new Error('raw TCP sink has no address');
  out({ t: 'addr', tcp: `${ip}:${addr.port}`, p2p: p2p.getMultiaddrs()[0]!.toString() });
}

/** Writes `bytes` of `block` repeated into a raw TCP socket; resolves with the sink's count. */
async function sendTcp(to: string, bytes: number, block: Uint8Array): Promise<number> {
  const [host, port] = [to.slice(0, to.lastIndexOf(':')), Number(to.slice(to.lastIndexOf(':') + 1))];
  const sock = await new Promise<Socket>((resolve, reject) => {
    const s = createConnection({ host, port }, () => { s.off('error', reject); resolve(s); });
    s.once('error', reject);
  });
  const reply: Buffer[] = [];
  const done = new Promise<number>((resolve, reject) => {
    sock.on('data', (d: Buffer) => reply.push(d));
    sock.on('end', () => { const r = Buffer.concat(reply); r.length === 8 ? resolve(Number(r.readBigUInt64BE())) : reject(new Error('raw TCP sink gave no count')); });
    sock.on('error', reject);
  });
  for (let sent = 0; sent < bytes; sent += block.byteLength) {
    const part = block.subarray(0, Math.min(block.byteLength, bytes - sent));
    if (!sock.write(part)) await new Promise((r) => sock.once('drain', r));
  }
  sock.end();
  return done;
}

async function sendP2p(p2p: Libp2p, to: string, bytes: number, block: Uint8Array): Promise<number> {
  const s = (await p2p.dialProtocol(multiaddr(to), SINK)) as unknown as P2pStream;
  // Yamux frames and Noise messages are at most 64 KiB: hand it 1 MiB at a time.
  const STEP = 1 << 20;
  for (let sent = 0; sent < bytes; sent += STEP) {
    const off = sent % block.byteLength;
    if (!s.send(block.subarray(off, off + Math.min(STEP, bytes - sent)))) await s.onDrain();
  }
  await s.close();
  const got: Uint8Array[] = [];
  for await (const c of s) got.push(bytesOf(c));
  const r = Buffer.concat(got);
  if (r.length !== 8) throw new Error('libp2p sink gave no count');
  return Number(r.readBigUInt64BE());
}

async function sender(ip: string, entropy: number): Promise<void> {
  const block = guestLikePages(BLOCK_BYTES, entropy);
  const p2p = await node(ip);
  let n = 0;
  out({ t: 'ready' });
  const lines = createInterface({ input: process.stdin });
  let busy = Promise.resolve();
  lines.on('line', (line) => {
    busy = busy.then(async () => {
      try {
        if (line.length > MAX_CMD) throw new Error('command too long');
        const c = JSON.parse(line) as { kind: string; to: string; bytes: number };
        const bytes = Number(c.bytes);
        if (!Number.isInteger(bytes) || bytes <= 0 || bytes % BLOCK_BYTES !== 0) throw new Error(`bytes must be a positive multiple of ${BLOCK_BYTES}`);
        const t0 = nowMs();
        let extra: Record<string, number> = {};
        if (c.kind === 'tcp' || c.kind === 'p2p') {
          const got = c.kind === 'tcp' ? await sendTcp(c.to, bytes, block) : await sendP2p(p2p, c.to, bytes, block);
          if (got !== bytes) throw new Error(`the sink got ${got} bytes of ${bytes}`);
        } else if (c.kind === 'mig-zstd' || c.kind === 'mig-raw') {
          const vm = new PatternVm(`transport-${process.pid}-${n++}`, bytes, block);
          const stats = await sendVm({
            vm, compression: c.kind === 'mig-zstd', deadlineMs: 600_000,
            openStream: async () => (await p2p.dialProtocol(multiaddr(c.to), PROTOCOL)) as unknown as MigrationStream,
          });
          extra = { vmmWireBytes: stats.wireBytes, compressionRatio: stats.compressionRatio, rounds: stats.rounds };
        } else {
          throw new Error(`unknown kind '${c.kind}'`);
        }
        out({ t: 'done', ms: nowMs() - t0, extra });
      } catch (e) {
        out({ t: 'error', error: (e as Error).message });
      }
    });
  });
  lines.on('close', () => { void busy.then(() => p2p.stop()).finally(() => process.exit(0)); });
}

async function main(): Promise<void> {
  const [mode, ip, arg] = process.argv.slice(2);
  if (!ip || (mode !== 'serve' && mode !== 'send')) throw new Error('usage: peer.js serve <ip> <maxBytes> | send <ip> <entropy>');
  if (mode === 'serve') {
    await serve(ip, Number(arg));
    process.stdin.on('end', () => process.exit(0));
    process.stdin.resume();
  } else {
    await sender(ip, Number(arg));
  }
}

main().catch((e: unknown) => { out({ t: 'fatal', error: (e as Error).stack ?? String(e) }); process.exit(1); });
