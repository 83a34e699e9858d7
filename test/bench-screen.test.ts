// The screen benchmark's counting: bytes as the page receives them, the VNC Raw size of the
// same updates from their headers, and the rate over a window.
import assert from 'node:assert/strict';
import { encodeUpdate } from '../node/web/screen-wire.js';
import { deflateRawSync } from 'node:zlib';
import { changedBox, ScreenModel } from '../bench/screen/changed-area.js';
import { addFrame, newTally, overlapPixels, perSecond, vncRawBytes, wsHeaderBytes } from '../bench/screen/stream-tally.js';

const rect = (x: number, y: number, w: number, h: number, bytes: number) => ({ x, y, w, h, data: new Uint8Array(bytes).fill(7) });

describe('bench screen: stream tally', () => {
  it('WebSocket header sizes follow the payload length classes of RFC 6455', () => {
    assert.equal(wsHeaderBytes(0), 2);
    assert.equal(wsHeaderBytes(125), 2);
    assert.equal(wsHeaderBytes(126), 4);
    assert.equal(wsHeaderBytes(65535), 4);
    assert.equal(wsHeaderBytes(65536), 10);
    assert.throws(() => wsHeaderBytes(-1), RangeError);
  });

  it('counts an update\'s wire bytes as sent and its raw size from the rect headers', () => {
    const t = newTally();
    const u = encodeUpdate({ width: 1024, height: 768, full: false, rects: [rect(0, 0, 64, 64, 300), rect(64, 128, 128, 64, 20)] });
    addFrame(t, u);
    addFrame(t, '{"type":"state","state":"live","host":"basement"}');
    assert.equal(t.frames, 2);
    assert.equal(t.updates, 1);
    assert.equal(t.rects, 2);
    assert.equal(t.pixels, 64 * 64 + 128 * 64);
    // 8 + 2 × 12 header bytes + data, then its 4-byte WebSocket header; the text frame with its 2.
    assert.equal(u.length, 8 + 24 + 320);
    assert.equal(t.wireBytes, u.length + 4 + 49 + 2);
    assert.equal(t.rawBytes, 4 + 2 * 12 + (64 * 64 + 128 * 64) * 4);
    assert.equal(t.rawBytes, vncRawBytes([{ w: 64, h: 64 }, { w: 128, h: 64 }]));
  });

  it('a frame that is not a well-formed update counts on the wire but not as an update', () => {
    const t = newTally();
    const u = encodeUpdate({ width: 1024, height: 768, full: true, rects: [rect(0, 0, 1024, 768, 1000)] });
    addFrame(t, u.subarray(0, u.length - 1));
    addFrame(t, new Uint8Array([9, 9, 9]));
    assert.equal(t.malformed, 2);
    assert.equal(t.updates, 0);
    assert.equal(t.rawBytes, 0);
    assert.equal(t.wireBytes, (u.length - 1) + 4 + 3 + 2);
  });

  it('counts full updates and the pixels that fall inside a watched area', () => {
    const t = newTally();
    const busy = { x: 256, y: 420, w: 512, h: 256 };
    addFrame(t, encodeUpdate({ width: 1024, height: 768, full: true, rects: [rect(0, 0, 1024, 768, 50)] }), busy);
    addFrame(t, encodeUpdate({ width: 1024, height: 768, full: false, rects: [rect(0, 0, 64, 64, 5)] }), busy);
    addFrame(t, encodeUpdate({ width: 1024, height: 768, full: false, rects: [rect(192, 384, 128, 64, 5)] }), busy);
    assert.equal(t.fullUpdates, 1);
    assert.equal(t.watchedPixels, 512 * 256 + 64 * 28);
    assert.equal(overlapPixels({ x: 0, y: 0, w: 10, h: 10 }, { x: 10, y: 0, w: 5, h: 5 }), 0);
  });

  it('a rate is bytes per second of the window; a window must have a length', () => {
    assert.equal(perSecond(5000, 2500), 2000);
    assert.throws(() => perSecond(1, 0), RangeError);
  });
});

describe('bench screen: changed area (VNC Raw of the pixels that really changed)', () => {
  const W = 128, H = 64;
  /** A rect whose w*h BGRX pixels come from `paint(x, y)` (absolute screen coordinates). */
  const painted = (x: number, y: number, w: number, h: number, paint: (x: number, y: number) => number) => {
    const px = Buffer.alloc(w * h * 4);
    for (let j = 0; j < h; j++) for (let i = 0; i < w; i++) px.writeUInt32LE(paint(x + i, y + j), (j * w + i) * 4);
    return { x, y, w, h, data: new Uint8Array(deflateRawSync(px)) };
  };
  const base = (x: number, y: number) => (x * 7 + y * 13) & 0xffffff;

  it('a tile in which two pixels changed costs their bounding box, an unchanged tile nothing', () => {
    const m = new ScreenModel();
    m.apply({ width: W, height: H, full: true, rects: [painted(0, 0, W, H, base)] });
    const two = (x: number, y: number) => (x === 70 && y === 5) || (x === 74 && y === 9) ? 0xff0000 : base(x, y);
    const r = m.apply({ width: W, height: H, full: false, rects: [painted(64, 0, 64, 64, two), painted(0, 0, 64, 64, base)] });
    assert.equal(r.changedPixels, 5 * 5);
    assert.equal(r.changedRawBytes, 4 + 12 + 25 * 4);
    // The picture now holds the change: sending the same tile again changes nothing.
    assert.deepEqual(m.apply({ width: W, height: H, full: false, rects: [painted(64, 0, 64, 64, two)] }), { changedPixels: 0, changedRawBytes: 0 });
  });

  it('changedBox finds the box across rows whose changed spans differ', () => {
    const pic = new Uint8Array(16 * 4 * 4);
    const next = new Uint8Array(8 * 2 * 4);
    next[(0 * 8 + 6) * 4] = 1;       // row 0, x 6
    next[(1 * 8 + 2) * 4 + 3] = 1;   // row 1, x 2 (the X byte counts)
    assert.deepEqual(changedBox(pic, 16, { x: 4, y: 1, w: 8, h: 2 }, next), { x: 6, y: 1, w: 5, h: 2 });
    assert.equal(changedBox(pic, 16, { x: 4, y: 1, w: 8, h: 2 }, new Uint8Array(64)), null);
  });

  it('a rect outside the picture is refused', () => {
    const m = new ScreenModel();
    m.apply({ width: W, height: H, full: true, rects: [painted(0, 0, W, H, base)] });
    assert.throws(() => m.apply({ width: W, height: H, full: false, rects: [{ ...painted(0, 0, 64, 64, base), x: 100 }] }), RangeError);
  });
});
