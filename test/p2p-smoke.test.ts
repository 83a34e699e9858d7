import '../node/common/polyfill.js';
import assert from 'node:assert/strict';
import { createLibp2p } from 'libp2p';
import { tcp } from '@libp2p/tcp';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';

describe('libp2p on this Node', () => {
  it('opens a Noise + Yamux stream on loopback and echoes bytes', async () => {
    const mk = () => createLibp2p({
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()],
    });
    const a = await mk(); const b = await mk();
    try {
      await b.handle('/echo/1.0.0', async (stream: any) => {
        for await (const chunk of stream) stream.send(chunk.subarray ? chunk.subarray() : chunk);
        await stream.close();
      });
      const s: any = await a.dialProtocol(b.getMultiaddrs()[0], '/echo/1.0.0');
      s.send(new TextEncoder().encode('hello'));
      await s.close();
      const got: Uint8Array[] = [];
      for await (const c of s) got.push(c.subarray ? c.subarray() : c);
      assert.equal(Buffer.concat(got).toString(), 'hello');
    } finally { await a.stop(); await b.stop(); }
  });
});
