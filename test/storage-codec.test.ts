import assert from 'node:assert/strict';
import {
  FrameDecoder, MAX_FRAME_BODY, MsgType, ProtocolError, decodeMessage, encodeMessage, type Message,
} from '../storage/codec.js';
import { ObjectFormatError, decodeManifest, decodeTree, encodeTree } from '../storage/objects.js';
import { randomBuffer, seededRandom } from './storage-helpers.js';

const h = (n: number) => Buffer.alloc(32, n);
const samples: Message[] = [
  { type: MsgType.Hello, version: 1, machine: 'laptop' },
  { type: MsgType.Head, snapshot: null },
  { type: MsgType.Head, snapshot: { id: h(1), record: '{"type":"snapshot"}' } },
  { type: MsgType.GetObjects, ids: [h(2), h(3)] },
  { type: MsgType.Object, id: h(4), data: Buffer.from('{"type":"tree","entries":[]}') },
  { type: MsgType.Object, id: h(5), data: null },
  { type: MsgType.GetChunks, hashes: [h(6)] },
  { type: MsgType.Chunk, hash: h(7), data: Buffer.alloc(1000, 9) },
  { type: MsgType.Error, message: 'nope' },
  { type: MsgType.Bye },
];

/** Decodes everything in a byte string; only ProtocolError may escape. */
function feed(bytes: Uint8Array, rand: () => number): number {
  const d = new FrameDecoder();
  let decoded = 0;
  try {
    for (let pos = 0; pos < bytes.length;) {
      const n = 1 + Math.floor(rand() * 64);
      for (const body of d.push(bytes.subarray(pos, pos + n))) {
        try { decodeMessage(body); decoded++; } catch (e) { if (!(e instanceof ProtocolError)) throw e; }
      }
      assert.ok(d.pending <= MAX_FRAME_BODY + 4, 'the decoder never holds more than one frame');
      pos += n;
    }
  } catch (e) {
    if (!(e instanceof ProtocolError)) throw e;
  }
  return decoded;
}

describe('storage: wire codec', () => {
  it('round-trips every message type, even split into 1-byte pieces', () => {
    const wire = Buffer.concat(samples.map(encodeMessage));
    const d = new FrameDecoder();
    const got: Message[] = [];
    for (let i = 0; i < wire.length; i++) for (const b of d.push(wire.subarray(i, i + 1))) got.push(decodeMessage(b));
    assert.equal(got.length, samples.length);
    const norm = (v: unknown): unknown => v instanceof Uint8Array ? Buffer.from(v).toString('hex')
      : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, norm(x)])) : v;
    const plain = (m: Message) => JSON.stringify(norm(m));
    got.forEach((m, i) => assert.equal(plain(m), plain(samples[i]!)));
  });

  it('refuses an oversized frame from its length alone', () => {
    const d = new FrameDecoder();
    assert.throws(() => d.push(Uint8Array.from([0x7f, 0xff, 0xff, 0xff])), ProtocolError);
    assert.throws(() => decodeMessage(Uint8Array.from([MsgType.GetChunks, 0xff, 0xff])), /more than/);
    assert.throws(() => decodeMessage(Uint8Array.from([MsgType.Bye, 0])), /trailing/);
    assert.throws(() => decodeMessage(Uint8Array.from([99])), /unknown/);
  });

  it('fuzz (fixed seed): random and mutated frames never crash or over-allocate', () => {
    const rand = seededRandom(0xf00d);
    let decodedOk = 0;
    for (let i = 0; i < 3000; i++) feed(randomBuffer(rand, 4 + Math.floor(rand() * 200)), rand);
    for (let i = 0; i < 6000; i++) {
      const frame = Buffer.from(encodeMessage(samples[i % samples.length]!));
      const mutations = 1 + Math.floor(rand() * 4);
      let m: Buffer = frame;
      for (let k = 0; k < mutations; k++) {
        const op = Math.floor(rand() * 4);
        if (op === 0) m[Math.floor(rand() * m.length)] = Math.floor(rand() * 256);
        else if (op === 1) m = m.subarray(0, Math.floor(rand() * m.length));
        else if (op === 2) m = Buffer.concat([m, randomBuffer(rand, 1 + Math.floor(rand() * 40))]);
        else if (m.length >= 4) m.writeUInt32BE(Math.floor(rand() * 0x100000000), 0);
      }
      decodedOk += feed(m, rand);
    }
    assert.ok(decodedOk > 0, 'some mutations still decode (the fuzzer reaches the decoder)');
  });

  it('refuses hostile tree and manifest objects', () => {
    const ok = { name: 'a', kind: 'file', mode: 0o644, mtimeMs: 1, size: 1, hash: 'a'.repeat(64), target: '' };
    const tree = (e: object) => JSON.stringify({ type: 'tree', entries: [e] });
    assert.equal(decodeTree(tree(ok)).entries[0]!.name, 'a');
    for (const bad of [{ ...ok, name: '..' }, { ...ok, name: 'a/b' }, { ...ok, name: '' }, { ...ok, hash: 'zz' },
      { ...ok, mode: 0o170000 }, { ...ok, kind: 'fifo' }, { ...ok, size: -1 }, { ...ok, kind: 'link', hash: '', target: '' }]) {
      assert.throws(() => decodeTree(tree(bad)), ObjectFormatError, JSON.stringify(bad));
    }
    assert.throws(() => decodeTree(JSON.stringify({ type: 'tree', entries: [ok, ok] })), /duplicate/);
    assert.throws(() => decodeManifest('{"type":"file","size":1,"chunks":["x"]}'), ObjectFormatError);
    assert.throws(() => decodeManifest('not json'), ObjectFormatError);
    // Canonical: entry order does not change the encoding.
    const e2 = { ...ok, name: 'b' } as Parameters<typeof encodeTree>[0][0];
    assert.equal(encodeTree([e2, ok as typeof e2]), encodeTree([ok as typeof e2, e2]));
  });
});
