// A machine outside the household, for test/web-household.test.ts (run inside
// a network namespace): it posts a well-formed migration notification to a
// roamd over /roam/migrations/1.0.0 and prints {peerId, posted} as one JSON line.
//   news-stranger MULTIADDR
import '../../node/common/polyfill.js';
import { createLibp2p } from 'libp2p';
import { tcp } from '@libp2p/tcp';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { multiaddr } from '@multiformats/multiaddr';
import { NEWS_PROTOCOL } from '../../node/agent/protocols.js';
import { postNews } from '../../node/web/migration-news.js';

const [addr] = process.argv.slice(2);
if (!addr) {
  console.error('usage: news-stranger MULTIADDR');
  process.exit(2);
}
const node = await createLibp2p({ transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()] });
let posted: string;
try {
  const stream = await node.dialProtocol(multiaddr(addr), NEWS_PROTOCOL, { signal: AbortSignal.timeout(10_000) });
  await postNews(stream as never, {
    t: 'migration', id: 'feedfeedfeed', seq: 1, vm: 'intruder', from: 'basement', to: 'imac', via: null, ageMs: 10, phase: 'precopy',
    round: 1, percent: 50, bytesSent: 1, bytesPerSec: 1, etaMs: 1, predictedDowntimeMs: null, throttle: 0, roundsFrom: 0, rounds: [], outcome: null,
  });
  // The answer (a reset, for a stranger) may come after the write went out: give it a moment.
  await new Promise((r) => setTimeout(r, 500));
  posted = 'written';
} catch (e) { posted = (e as Error).message; }
process.stdout.write(`${JSON.stringify({ peerId: node.peerId.toString(), posted })}\n`);
await node.stop();
process.exit(0);
