// Child process for the storage tests that need a separate process:
//   sync  STORE HOME MULTIADDR   one pull-sync (storage-crash SIGKILLs it mid-way)
//   serve STORE HOME LISTEN      serve STORE (snapshotting HOME) until killed; prints its address
import '../node/common/polyfill.js';
import { createLibp2p } from 'libp2p';
import { tcp } from '@libp2p/tcp';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { multiaddr } from '@multiformats/multiaddr';
import { Store } from '../storage/store.js';
import { serveStore, syncFrom } from '../storage/sync.js';

const [mode, storeDir, homeDir, addr] = process.argv.slice(2);
if ((mode !== 'sync' && mode !== 'serve') || !storeDir || !homeDir || !addr) {
  console.error('usage: storage-child sync|serve STORE HOME MULTIADDR');
  process.exit(2);
}
const node = await createLibp2p({
  addresses: { listen: mode === 'serve' ? [addr] : [] },
  transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()],
});
const store = await Store.open(storeDir);
if (mode === 'serve') {
  await serveStore(node, store, { isMember: () => true, dir: homeDir, machine: 'server' });
  process.stdout.write(`LISTENING ${node.getMultiaddrs()[0]!.toString()}\n`);
} else {
  process.stdout.write('READY\n');
  let phase = '';
  const r = await syncFrom(node, multiaddr(addr), store, {
    dir: homeDir, machine: 'child',
    onProgress: (p) => { if (p.phase !== phase) { phase = p.phase; process.stdout.write(`PHASE ${phase}\n`); } },
  });
  await store.close();
  await node.stop();
  process.stdout.write(`DONE ${r.chunksFetched}\n`);
  process.exit(0);
}
