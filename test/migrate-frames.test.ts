import assert from 'node:assert/strict';
import { DirtyBitmap } from '../dirty-tracking/index.js';
import { applyPages } from '../migrate/batches.js';
import { FrameReader } from '../migrate/channel.js';
import { ProtocolError } from '../migrate/errors.js';
import { COMPRESS_NONE, COMPRESS_ZSTD, MAX_BATCH_PAGES, MAX_FRAME, T, decodeFrame, encode, type Frame, type PagesFrame } from '../migrate/frames.js';
import { PageWriter } from '../migrate/page-writer.js';
import { zstdCompress } from '../migrate/zstd.js';
import type { SlotLayout, VmSpec } from '../migrate/vm-handle.js';

const PAGE = 4096;
const layout: SlotLayout[] = [{ slot: 0, guestPhysAddr: 0, size: 64 * PAGE }, { slot: 3, guestPhysAddr: 2 ** 32, size: 16 * PAGE }];
const spec: VmSpec = { id: 'vm-f', generation: 2, vcpus: 1, memBytes: 80 * PAGE, slots: layout, cpuFeatures: ['lm'], devices: [] };

function join(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let o = 0; for (const p of parts) { out.set(p, o); o += p.byteLength; }
  return out;
}
/** Frame body after the 4-byte length prefix. */
const body = (f: Uint8Array | Uint8Array[]) => (Array.isArray(f) ? join(f) : f).subarray(4);

function pagesFrame(slot: number, first: number, count: number, dataIdx: number[], zeroIdx: number[], compress: boolean, round = 0): Uint8Array {
  const zero = new Uint8Array(Math.ceil(count / 8)), data = new Uint8Array(Math.ceil(count / 8));
  for (const i of zeroIdx) zero[i >> 3]! |= 1 << (i & 7);
  const raw = new Uint8Array(dataIdx.length * PAGE);
  dataIdx.forEach((i, k) => { data[i >> 3]! |= 1 << (i & 7); raw.fill((first + i) & 0xff || 1, k * PAGE, (k + 1) * PAGE); });
  const payload = compress ? zstdCompress(raw, 1) : raw;
  return join(encode.pages({ round, slot, first, count, compression: compress ? COMPRESS_ZSTD : COMPRESS_NONE, zero, data }, [payload]));
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s / 2 ** 32; };
}

/** Guest memory inside a larger buffer with canary bytes either side: any stray write shows. */
function guardedMemory() {
  const GUARD = 8192;
  const bufs = new Map<number, Uint8Array>();
  for (const s of layout) {
    const whole = new Uint8Array(s.size + 2 * GUARD).fill(0xa5);
    whole.fill(0, GUARD, GUARD + s.size);
    bufs.set(s.slot, whole);
  }
  const windows = (slot: number) => {
    const whole = bufs.get(slot)!;
    const mem = whole.subarray(GUARD, whole.byteLength - GUARD);
    return [mem.subarray(0, mem.byteLength / 2), mem.subarray(mem.byteLength / 2)];
  };
  const guardsIntact = () => [...bufs.values()].every((w) => w.subarray(0, GUARD).every((b) => b === 0xa5) && w.subarray(w.byteLength - GUARD).every((b) => b === 0xa5));
  return { windows, guardsIntact };
}

describe('migrate: frame codec', () => {
  it('round-trips every message type', () => {
    const cases: Frame[] = [
      decodeFrame(body(encode.hello({ spec, features: ['zstd'] }))),
      decodeFrame(body(encode.accept({ features: [], base: { staleRegions: [1, 2] } }))),
      decodeFrame(body(encode.reject('too big'))),
      decodeFrame(body(encode.roundEnd(7, true))),
      decodeFrame(body(encode.state(new Uint8Array([1, 2, 3])))),
      decodeFrame(body(encode.empty(T.COMMIT))),
      decodeFrame(body(encode.ack(123456789012))),
      decodeFrame(body(encode.status('vm-f', 3))),
      decodeFrame(body(encode.statusReply('ready'))),
    ];
    assert.deepEqual((cases[0] as { hello: { spec: VmSpec } }).hello.spec, spec);
    assert.deepEqual((cases[1] as { accept: unknown }).accept, { features: [], base: { staleRegions: [1, 2] } });
    assert.equal((cases[2] as { reason: string }).reason, 'too big');
    assert.deepEqual(cases[3], { type: T.ROUND_END, round: 7, lastRound: true });
    assert.deepEqual([...(cases[4] as { state: Uint8Array }).state], [1, 2, 3]);
    assert.equal(cases[5]!.type, T.COMMIT);
    assert.equal((cases[6] as { bytes: number }).bytes, 123456789012);
    assert.deepEqual(cases[7], { type: T.STATUS, id: 'vm-f', generation: 3 });
    assert.equal((cases[8] as { state: string }).state, 'ready');
    const p = decodeFrame(body(pagesFrame(3, 8, 8, [0, 5], [1, 7], true)), layout) as PagesFrame;
    assert.equal(p.slot, 3); assert.equal(p.first, 8); assert.equal(p.count, 8); assert.equal(p.compression, COMPRESS_ZSTD);
  });

  it('applies a pages frame: data pages written, zero pages zeroed only where memory was touched', () => {
    const g = guardedMemory();
    const w = new PageWriter(layout, g.windows);
    const touched = new DirtyBitmap(64);
    applyPages(decodeFrame(body(pagesFrame(0, 30, 4, [0, 1, 2], [], true)), layout) as PagesFrame, w, touched);
    assert.equal(g.windows(0)[0]![30 * PAGE], 30);
    assert.equal(g.windows(0)[1]![(32 - 32) * PAGE], 32, 'page 32 lives in the second window');
    applyPages(decodeFrame(body(pagesFrame(0, 30, 4, [], [0, 3], false)), layout) as PagesFrame, w, touched);
    assert.equal(g.windows(0)[0]![30 * PAGE], 0, 'a page that became zero is zeroed');
    assert.equal(g.windows(0)[0]![31 * PAGE], 31, 'pages outside the bitmaps are untouched');
    assert.ok(g.guardsIntact());
    assert.equal(w.refused, 0);
  });

  it('refuses hostile frames with a clear ProtocolError', () => {
    const bad: [string, Uint8Array, RegExp][] = [
      ['page outside the slot', body(pagesFrame(3, 12, 8, [0], [], false)), /outside slot 3/],
      ['slot not declared', body(pagesFrame(1, 0, 1, [0], [], false)), /slot 1 is not in the declared/],
      ['compressed payload of the wrong size', (() => {
        const zero = new Uint8Array(1), data = new Uint8Array([1]);
        return body(join(encode.pages({ round: 0, slot: 0, first: 0, count: 1, compression: COMPRESS_ZSTD, zero, data }, [zstdCompress(new Uint8Array(3 * PAGE), 1)])));
      })(), /decompress/],
      ['page both zero and data', body(pagesFrame(0, 0, 8, [2], [2], false)), /both zero and data/],
      ['unknown type', new Uint8Array([99]), /unknown frame type 99/],
      ['hello with slots not adding up', body(encode.hello({ spec: { ...spec, memBytes: 1 }, features: [] })), /add up/],
      ['hello with a path in the id', body(encode.hello({ spec: { ...spec, id: '../etc' }, features: [] })), /id must be/],
      ['control frame with a body', new Uint8Array([T.READY, 0]), /must be 0 bytes/],
    ];
    for (const [what, frame, re] of bad) {
      assert.throws(() => {
        const f = decodeFrame(frame, layout);
        if (f.type === T.PAGES) applyPages(f, new PageWriter(layout, guardedMemory().windows), new DirtyBitmap(64));
      }, (e: unknown) => e instanceof ProtocolError && re.test(e.message), what);
    }
  });

  it('refuses an oversized length before buffering it', async () => {
    const huge = new Uint8Array([0xff, 0xff, 0xff, 0xff, 1]);
    async function* src() { yield huge; }
    await assert.rejects(new FrameReader(src()).next(), /exceeds the \d+-byte limit/);
    const cut = join([new Uint8Array([0, 0, 0, 10, 1, 2])]);
    async function* src2() { yield cut; }
    await assert.rejects(new FrameReader(src2()).next(), /ended inside a 10-byte frame/);
    assert.throws(() => decodeFrame(new Uint8Array(MAX_FRAME + 1)), /exceeds/);
  });

  it('reassembles frames split at every byte boundary', async () => {
    const frames = [pagesFrame(0, 0, 3, [0, 2], [1], false), encode.roundEnd(0, false), body(encode.ack(5)).length ? encode.ack(5) : encode.ack(5)];
    const all = join(frames);
    for (const cut of [1, 3, 4, 5, 100, 4099]) {
      async function* src() { for (let o = 0; o < all.length; o += cut) yield all.subarray(o, o + cut); }
      const r = new FrameReader(src());
      const types: number[] = [];
      for (let f = await r.next(); f; f = await r.next()) types.push(f.frame[0]!);
      assert.deepEqual(types, [T.PAGES, T.ROUND_END, T.ACK], `chunk size ${cut}`);
    }
  });

  it('fuzz: random and mutated frames never crash the decoder or write outside guest memory (fixed seed)', async () => {
    const iterations = Number(process.env['MIGRATE_FUZZ_ITERS'] ?? 4000);
    const r = rng(Number(process.env['MIGRATE_FUZZ_SEED'] ?? 0xdecaf));
    const corpus = [
      body(pagesFrame(0, 0, 16, [0, 3, 9], [1, 2], true)), body(pagesFrame(3, 8, 8, [7], [0], false)),
      body(pagesFrame(0, 60, 4, [0, 1, 2, 3], [], true)), body(encode.hello({ spec, features: ['zstd'] })),
      body(encode.accept({ features: [], base: null })), body(encode.roundEnd(1, false)), body(encode.ack(9)),
      body(encode.status('vm-f', 1)), body(encode.state(new Uint8Array(64))), new Uint8Array([T.COMMIT]),
    ];
    const g = guardedMemory();
    const writer = new PageWriter(layout, g.windows);
    const touched = new Map([[0, new DirtyBitmap(64)], [3, new DirtyBitmap(16)]]);
    let accepted = 0, rejected = 0;
    for (let i = 0; i < iterations; i++) {
      let f: Uint8Array;
      const mode = r();
      if (mode < 0.15) {
        f = new Uint8Array(Math.floor(r() * 600)); for (let k = 0; k < f.length; k++) f[k] = Math.floor(r() * 256);
        if (f.length && r() < 0.5) f[0] = 1 + Math.floor(r() * 13);
      } else {
        f = corpus[Math.floor(r() * corpus.length)]!.slice();
        const edits = 1 + Math.floor(r() * 4);
        for (let k = 0; k < edits; k++) {
          const op = r();
          if (op < 0.6 && f.length) f[Math.floor(r() * f.length)] = Math.floor(r() * 256);
          else if (op < 0.75) f = f.subarray(0, Math.floor(r() * f.length));
          else if (op < 0.85 && f.length > 20) { const v = new DataView(f.buffer, f.byteOffset); v.setUint32(1 + 4 * Math.floor(r() * 3), Math.floor(r() * 2 ** 32)); }
          else if (op < 0.92 && f.length > 15) new DataView(f.buffer, f.byteOffset).setUint16(13, Math.floor(r() * 65536));
          else { const ext = new Uint8Array(f.length + Math.floor(r() * 64)); ext.set(f); f = ext; }
        }
      }
      try {
        const d = decodeFrame(f, layout);
        if (d.type === T.PAGES) applyPages(d, writer, touched.get(d.slot)!);
        accepted++;
      } catch (e) {
        assert.ok(e instanceof ProtocolError, `iteration ${i}: ${String(e)} is not a ProtocolError`);
        rejected++;
      }
    }
    // The same fuzz through the stream reassembler with a small frame limit.
    const stream = new Uint8Array(20000); for (let k = 0; k < stream.length; k++) stream[k] = Math.floor(r() * 256);
    async function* src() { for (let o = 0; o < stream.length; o += 777) yield stream.subarray(o, o + 777); }
    const reader = new FrameReader(src(), 4096);
    try { while (await reader.next()) { /* frames */ } } catch (e) { assert.ok(e instanceof ProtocolError); }

    assert.equal(writer.refused, 0, 'every out-of-range page was stopped by the decoder, before the page writer');
    assert.ok(g.guardsIntact(), 'no byte outside guest memory changed');
    assert.ok(rejected > iterations / 4 && accepted > 0, `accepted ${accepted}, rejected ${rejected}`);
    assert.equal(accepted + rejected, iterations);
    void MAX_BATCH_PAGES;
  });
});
