// A machine outside the household, for test/home-*.test.ts (run inside its own
// network namespace): it tries to pull a roamd's home over /roam/store/1.0.0
// and to ask it to pull over /roam/home/1.0.0, and prints what happened as one
// JSON line: {"store": "ok" | error message, "home": …, "files": entries in HOME}.
//   home-stranger STORE HOME MULTIADDR
import '../../node/common/polyfill.js';
import { readdirSync } from 'node:fs';
import { createLibp2p } from 'libp2p';
import { tcp } from '@libp2p/tcp';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { multiaddr } from '@multiformats/multiaddr';
import { Store, syncFrom } from '../../storage/index.js';
import { HOME_PROTOCOL, askToPull } from '../../node/agent/home-protocol.js';

const [storeDir, homeDir, addr] = process.argv.slice(2);
if (!storeDir || !homeDir || !addr) {
  console.error('usage: home-stranger STORE HOME MULTIADDR');
  process.exit(2);
}
const node = await createLibp2p({ transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()] });
const store = await Store.open(storeDir);
const outcome: Record<string, unknown> = {};
try {
  await syncFrom(node, multiaddr(addr), store, { dir: homeDir, machine: 'stranger' });
  outcome.store = 'ok';
} catch (e) { outcome.store = (e as Error).message; }
try {
  const stream = await node.dialProtocol(multiaddr(addr), HOME_PROTOCOL, { signal: AbortSignal.timeout(10_000) });
  await askToPull(stream, 'a'.repeat(64));
  outcome.home = 'ok';
} catch (e) { outcome.home = (e as Error).message; }
outcome.files = readdirSync(homeDir);
process.stdout.write(JSON.stringify(outcome) + '\n');
await store.close();
await node.stop();
process.exit(0);
