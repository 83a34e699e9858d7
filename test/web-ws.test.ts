// roamd's own WebSocket (node/web/ws-*.ts): the handshake's accept key, the
// frame decoder's rules and bounds with the close code each violation earns,
// and a fixed-seed fuzz of the decoder (like migrate's decoder fuzz).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  OP_BINARY, OP_CLOSE, OP_CONTINUATION, OP_PING, OP_TEXT, WsDecoder, WsProtocolError, closePayload, encodeFrame, type WsEvent,
} from '../node/web/ws-frames.js';
import { acceptKey } from '../node/web/ws-handshake.js';

const mask = () => randomBytes(4);
const masked = (op: number, payload: Uint8Array | string, opts: { fin?: boolean; rsv?: number } = {}) =>
  encodeFrame(op, typeof payload === 'string' ? Buffer.from(payload) : payload, { mask: mask(), ...opts });

function code(f: () => unknown): number {
  try { f(); } catch (e) { assert.ok(e instanceof WsProtocolError, String(e)); return e.code; }
  assert.fail('expected a protocol error');
}

/** Linear congruential generator: the same sequence for the same seed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 32; };
}

describe('web: WebSocket handshake and frames', () => {
  it('computes Sec-WebSocket-Accept as RFC 6455 section 1.3 does', () => {
    assert.equal(acceptKey('dGhlIHNhbXBsZSBub25jZQ=='), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  });

  it('unmasks client frames and reassembles a message split anywhere, byte by byte included', () => {
    const text = 'héllo, roam ✓'.repeat(20);
    const wire = Buffer.concat([masked(OP_TEXT, text.slice(0, 7), { fin: false }), masked(OP_CONTINUATION, text.slice(7, 100), { fin: false }),
      masked(OP_PING, 'p'), masked(OP_CONTINUATION, text.slice(100))]);
    for (const step of [1, 3, 7, wire.length]) {
      const d = new WsDecoder();
      const got: WsEvent[] = [];
      for (let i = 0; i < wire.length; i += step) got.push(...d.push(wire.subarray(i, i + step)));
      assert.deepEqual(got.map((e) => e.kind), ['ping', 'text'], `step ${step}`);
      assert.equal((got[1] as { text: string }).text, text);
    }
    const big = randomBytes(70_000);
    const d = new WsDecoder({ maxMessage: 100_000 });
    const [ev] = d.push(masked(OP_BINARY, big));
    assert.deepEqual((ev as { data: Buffer }).data, big, '64-bit length form');
    const mid = randomBytes(300);
    assert.deepEqual((new WsDecoder().push(masked(OP_BINARY, mid))[0] as { data: Buffer }).data, mid, '16-bit length form');
  });

  it('refuses unmasked client frames, reserved bits and unknown opcodes with 1002', () => {
    assert.equal(code(() => new WsDecoder().push(encodeFrame(OP_TEXT, Buffer.from('x')))), 1002);
    assert.equal(code(() => new WsDecoder().push(masked(OP_TEXT, 'x', { rsv: 4 }))), 1002);
    assert.equal(code(() => new WsDecoder().push(masked(0x3, 'x'))), 1002);
    assert.equal(code(() => new WsDecoder().push(masked(0xb, 'x'))), 1002);
  });

  it('holds control frames to 125 bytes and one fragment, close codes to the legal ones', () => {
    assert.equal(code(() => new WsDecoder().push(masked(OP_PING, Buffer.alloc(126)))), 1002);
    assert.equal(code(() => new WsDecoder().push(masked(OP_PING, 'x', { fin: false }))), 1002);
    assert.equal(code(() => new WsDecoder().push(masked(OP_CLOSE, Buffer.from([3])))), 1002, 'a 1-byte close payload');
    assert.equal(code(() => new WsDecoder().push(masked(OP_CLOSE, closePayload(1005)))), 1002, 'a reserved close code');
    assert.equal(code(() => new WsDecoder().push(masked(OP_CLOSE, Buffer.concat([closePayload(1000), Buffer.from([0xff])])))), 1007, 'a close reason that is not UTF-8');
    const [c] = new WsDecoder().push(masked(OP_CLOSE, closePayload(4001, 'bye')));
    assert.deepEqual(c, { kind: 'close', code: 4001, reason: 'bye' });
    // Nothing after a close frame is read.
    assert.deepEqual(new WsDecoder().push(Buffer.concat([masked(OP_CLOSE, Buffer.alloc(0)), Buffer.from('garbage that is not a frame')])).map((e) => e.kind), ['close']);
  });

  it('refuses fragmentation out of order with 1002', () => {
    assert.equal(code(() => new WsDecoder().push(masked(OP_CONTINUATION, 'x'))), 1002, 'a continuation with nothing to continue');
    assert.equal(code(() => new WsDecoder().push(Buffer.concat([masked(OP_TEXT, 'a', { fin: false }), masked(OP_TEXT, 'b')]))), 1002, 'a new message inside a fragmented one');
  });

  it('bounds messages, fragments and length encodings before buffering them (1009, 1002)', () => {
    const d = new WsDecoder({ maxMessage: 1000 });
    // The header alone is enough to refuse: the 1 MiB payload never has to arrive.
    const header = masked(OP_BINARY, Buffer.alloc(1 << 20)).subarray(0, 14);
    assert.equal(code(() => d.push(header)), 1009);
    assert.equal(code(() => new WsDecoder({ maxMessage: 1000 }).push(Buffer.concat([masked(OP_TEXT, 'a'.repeat(600), { fin: false }), masked(OP_CONTINUATION, 'b'.repeat(600))]))), 1009, 'fragments together over the limit');
    const many = Buffer.concat([masked(OP_TEXT, 'a', { fin: false }), ...Array.from({ length: 70 }, () => masked(OP_CONTINUATION, '', { fin: false }))]);
    assert.equal(code(() => new WsDecoder({ maxFragments: 64 }).push(many)), 1009, 'too many fragments');
    // A 64-bit length with its top bit set, and lengths not in their shortest form.
    const huge = Buffer.from([0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4]);
    assert.equal(code(() => new WsDecoder().push(huge)), 1002);
    assert.equal(code(() => new WsDecoder().push(Buffer.from([0x82, 0xfe, 0x00, 0x05, 1, 2, 3, 4]))), 1002);
    assert.equal(code(() => new WsDecoder().push(Buffer.from([0x82, 0xff, 0, 0, 0, 0, 0, 0, 0x01, 0x00, 1, 2, 3, 4]))), 1002);
    assert.equal(code(() => new WsDecoder().push(masked(OP_TEXT, Buffer.from([0xc3, 0x28])))), 1007, 'text that is not UTF-8');
  });

  it('fuzz: random and mutated frames never crash the decoder nor buffer past its bound (fixed seed)', () => {
    const iterations = Number(process.env['WEB_FUZZ_ITERS'] ?? 5000);
    const r = rng(Number(process.env['WEB_FUZZ_SEED'] ?? 0x7e5));
    const det = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(r() * 256)));
    const fixedMask = Buffer.from([1, 2, 3, 4]);
    const corpus = [
      encodeFrame(OP_TEXT, Buffer.from('{"type":"key","code":"KeyA","down":true}'), { mask: fixedMask }),
      encodeFrame(OP_BINARY, det(300), { mask: fixedMask }),
      encodeFrame(OP_TEXT, Buffer.from('abc'), { mask: fixedMask, fin: false }),
      encodeFrame(OP_CONTINUATION, Buffer.from('def'), { mask: fixedMask }),
      encodeFrame(OP_PING, Buffer.from('hi'), { mask: fixedMask }),
      encodeFrame(OP_CLOSE, closePayload(1000, 'ok'), { mask: fixedMask }),
      encodeFrame(OP_BINARY, det(70_000), { mask: fixedMask }),
    ];
    const MAX = 4096;
    let events = 0, refused = 0;
    for (let i = 0; i < iterations; i++) {
      let f: Buffer;
      if (r() < 0.2) f = det(Math.floor(r() * 200));
      else {
        f = Buffer.concat(Array.from({ length: 1 + Math.floor(r() * 3) }, () => corpus[Math.floor(r() * corpus.length)]!));
        for (let k = 0, n = 1 + Math.floor(r() * 4); k < n; k++) {
          const op = r();
          if (op < 0.6 && f.length) f[Math.floor(r() * Math.min(f.length, 16))] = Math.floor(r() * 256);
          else if (op < 0.8 && f.length) f = f.subarray(0, Math.floor(r() * f.length));
          else f = Buffer.concat([f, det(Math.floor(r() * 40))]);
        }
      }
      const d = new WsDecoder({ maxMessage: MAX, maxFragments: 8 });
      try {
        // Fed in random pieces, as TCP would.
        for (let at = 0; at < f.length;) {
          const n = 1 + Math.floor(r() * 64);
          for (const ev of d.push(f.subarray(at, at + n))) {
            events++;
            if (ev.kind === 'text') assert.ok(Buffer.byteLength(ev.text) <= MAX);
            if (ev.kind === 'binary') assert.ok(ev.data.length <= MAX);
          }
          at += n;
          // Never more buffered than a frame header, one bounded message and the piece that just came.
          assert.ok((d as unknown as { pendingBytes: number }).pendingBytes <= 14 + MAX + 64);
        }
      } catch (e) {
        assert.ok(e instanceof WsProtocolError, `iteration ${i}: ${String(e)} is not a WsProtocolError`);
        assert.ok([1002, 1007, 1009].includes(e.code), `iteration ${i}: close code ${e.code}`);
        refused++;
      }
    }
    assert.ok(refused > iterations / 10 && events > iterations / 10, `events ${events}, refused ${refused}`);
  });
});
