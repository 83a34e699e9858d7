// node/screen's pure parts: which tiles a viewer needs, their deflate round trip,
// the KeyboardEvent.code → set 2 table and the input queue's bounds.
import assert from 'node:assert/strict';
import { deflateRawSync } from 'node:zlib';
import { SentFrame, TILE } from '../node/screen/tiles.js';
import { applyUpdate, decodeRect, encodeRects } from '../node/screen/rect-codec.js';
import { knownCodes, scancodes } from '../node/screen/keymap.js';
import { InputQueue, checkScreenInput, MAX_REQUEST_KEYS, type MouseReport } from '../node/screen/input.js';

const W = 1024; const H = 768; const STRIDE = 4096;

/** A framebuffer with a stride wider than its rows could be, filled with a pattern. */
function framebuffer(stride = STRIDE, w = W, h = H): Buffer {
  const fb = Buffer.alloc(stride * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) fb.writeUInt32LE(((x * 7) ^ (y * 13)) & 0xffffff, y * stride + x * 4);
  return fb;
}

function damageOf(lines: number[], h = H): Uint8Array {
  const bits = new Uint8Array(Math.ceil(h / 8));
  for (const l of lines) bits[l >> 3]! |= 1 << (l & 7);
  return bits;
}

function paint(fb: Buffer, x: number, y: number, w: number, h: number, v: number, stride = STRIDE): number[] {
  const lines: number[] = [];
  for (let r = y; r < y + h; r++) { lines.push(r); for (let c = x; c < x + w; c++) fb.writeUInt32LE(v, r * stride + c * 4); }
  return lines;
}

/** The packed screen a viewer would hold, straight from the framebuffer. */
function packed(fb: Buffer, stride = STRIDE, w = W, h = H): Buffer {
  const out = Buffer.alloc(w * h * 4);
  for (let y = 0; y < h; y++) fb.copy(out, y * w * 4, y * stride, y * stride + w * 4);
  return out;
}

describe('screen tiles and rects', () => {
  it('sends the whole screen first, then only the changed tiles; decoding them rebuilds the framebuffer exactly', async () => {
    const fb = framebuffer();
    const sent = new SentFrame({ width: W, height: H, stride: STRIDE });
    const first = sent.full(fb);
    assert.equal(first.reduce((n, r) => n + r.w * r.h, 0), W * H, 'the first update covers every pixel once');
    const viewer = Buffer.alloc(W * H * 4);
    applyUpdate(viewer, W, H, { width: W, height: H, full: true, rects: await encodeRects(first) });
    assert.ok(viewer.equals(packed(fb)));

    // A small change inside one tile, and one spanning two neighbouring tiles of another tile row.
    const lines = [...paint(fb, 10, 10, 5, 3, 0xff0000), ...paint(fb, TILE * 3 + 60, TILE * 5 + 2, 10, 4, 0x00ff00)];
    const rects = sent.changed(fb, damageOf(lines));
    assert.deepEqual(rects.map((r) => [r.x, r.y, r.w, r.h]), [[0, 0, TILE, TILE], [TILE * 3, TILE * 5, TILE * 2, TILE]]);
    const encoded = await encodeRects(rects);
    applyUpdate(viewer, W, H, { width: W, height: H, full: false, rects: encoded });
    assert.ok(viewer.equals(packed(fb)), 'the viewer holds the framebuffer after the update');
    for (const r of encoded) assert.equal(decodeRect(r).length, r.w * r.h * 4);
  });

  it('ignores damage that changed nothing, and changes on lines not marked damaged', () => {
    const fb = framebuffer();
    const sent = new SentFrame({ width: W, height: H, stride: STRIDE });
    sent.full(fb);
    assert.equal(sent.changed(fb, damageOf([0, 1, 100, 767])).length, 0, 'rewritten with the same pixels: nothing to send');
    paint(fb, 500, 300, 2, 2, 0x123456);
    assert.equal(sent.changed(fb, damageOf([299, 302])).length, 0, 'only the damaged lines are compared');
    assert.deepEqual(sent.changed(fb, damageOf([300])).map((r) => [r.x, r.y]), [[448, 256]]);
    assert.equal(sent.changed(fb, damageOf([300, 301])).length, 0, 'what was sent is what the viewer holds');
  });

  it('handles screens that are not a multiple of the tile size', async () => {
    const w = 100; const h = 70; const stride = 512;
    const fb = framebuffer(stride, w, h);
    const sent = new SentFrame({ width: w, height: h, stride });
    const viewer = Buffer.alloc(w * h * 4);
    applyUpdate(viewer, w, h, { width: w, height: h, full: true, rects: await encodeRects(sent.full(fb)) });
    const lines = paint(fb, 95, 66, 5, 4, 0xabcdef, stride);
    const rects = sent.changed(fb, damageOf(lines, h));
    assert.deepEqual(rects.map((r) => [r.x, r.y, r.w, r.h]), [[64, 64, 36, 6]]);
    applyUpdate(viewer, w, h, { width: w, height: h, full: false, rects: await encodeRects(rects) });
    assert.ok(viewer.equals(packed(fb, stride, w, h)));
  });

  it('refuses rect data that inflates to the wrong size or lies outside the screen', () => {
    const right = deflateRawSync(Buffer.alloc(8 * 8 * 4, 1));
    assert.equal(decodeRect({ x: 0, y: 0, w: 8, h: 8, data: right }).length, 256);
    assert.throws(() => decodeRect({ x: 0, y: 0, w: 8, h: 7, data: right }), /inflate/);
    assert.throws(() => decodeRect({ x: 0, y: 0, w: 8, h: 9, data: right }), /inflates to 256/);
    assert.throws(() => decodeRect({ x: 0, y: 0, w: 8, h: 8, data: Buffer.from('not deflate at all') }), /inflate/);
    const screen = Buffer.alloc(16 * 16 * 4);
    assert.throws(() => applyUpdate(screen, 16, 16, { width: 16, height: 16, full: false, rects: [{ x: 9, y: 0, w: 8, h: 8, data: right }] }), /outside/);
  });
});

describe('screen key table', () => {
  it('maps letters, digits and punctuation to one-byte make codes and F0 breaks', () => {
    assert.deepEqual(scancodes('KeyA', true), [0x1c]);
    assert.deepEqual(scancodes('KeyA', false), [0xf0, 0x1c]);
    assert.deepEqual(scancodes('KeyZ', true), [0x1a]);
    assert.deepEqual(scancodes('Digit1', true), [0x16]);
    assert.deepEqual(scancodes('Digit0', false), [0xf0, 0x45]);
    assert.deepEqual(scancodes('Minus', true), [0x4e]);
    assert.deepEqual(scancodes('Slash', true), [0x4a]);
    assert.deepEqual(scancodes('Semicolon', true), [0x4c]);
  });

  it('maps the special keys, modifiers and F1..F12', () => {
    const make = (c: string) => scancodes(c, true);
    assert.deepEqual(['Enter', 'Backspace', 'Tab', 'Space', 'Escape'].map(make), [[0x5a], [0x66], [0x0d], [0x29], [0x76]]);
    assert.deepEqual(['ShiftLeft', 'ShiftRight', 'ControlLeft', 'AltLeft'].map(make), [[0x12], [0x59], [0x14], [0x11]]);
    assert.deepEqual(['F1', 'F2', 'F3', 'F4', 'F5', 'F6', 'F7', 'F8', 'F9', 'F10', 'F11', 'F12'].map(make),
      [[0x05], [0x06], [0x04], [0x0c], [0x03], [0x0b], [0x83], [0x0a], [0x01], [0x09], [0x78], [0x07]]);
  });

  it('prefixes the extended keys with E0, also on release', () => {
    assert.deepEqual(scancodes('ArrowUp', true), [0xe0, 0x75]);
    assert.deepEqual(scancodes('ArrowUp', false), [0xe0, 0xf0, 0x75]);
    assert.deepEqual(['ArrowDown', 'ArrowLeft', 'ArrowRight'].map((c) => scancodes(c, true)), [[0xe0, 0x72], [0xe0, 0x6b], [0xe0, 0x74]]);
    assert.deepEqual(scancodes('ControlRight', false), [0xe0, 0xf0, 0x14]);
    assert.deepEqual(scancodes('AltRight', true), [0xe0, 0x11]);
  });

  it('knows nothing of unknown codes (nor of inherited property names), and no two keys share a make code', () => {
    for (const c of ['', 'KeyÄ', 'PrintScreen', 'constructor', 'toString', '__proto__', 'Key A']) assert.equal(scancodes(c, true), null, c);
    const seen = new Map<string, string>();
    for (const c of knownCodes()) {
      const k = scancodes(c, true)!.join(',');
      assert.equal(seen.get(k), undefined, `${c} and ${seen.get(k)} share ${k}`);
      seen.set(k, c);
    }
  });
});

describe('screen input queue', () => {
  const settle = () => new Promise((r) => setImmediate(r));

  it('sends checked keys as scancodes and coalesces pointer moves while a request is in flight', async () => {
    const sent: { keys: number[]; mouse: MouseReport[] }[] = [];
    let release!: () => void;
    const q = new InputQueue((req) => { sent.push(req); return new Promise<void>((r) => { release = r; }); });
    q.push({ type: 'key', code: 'KeyA', down: true });
    q.push({ type: 'key', code: 'KeyA', down: false });
    q.push({ type: 'key', code: 'NoSuchKey', down: true });
    for (let i = 0; i < 10; i++) q.push({ type: 'pointer', dx: 3, dy: -1, buttons: 0 });
    q.push({ type: 'pointer', dx: 0, dy: 0, buttons: 1 });
    q.push({ type: 'pointer', dx: 1e9, dy: -1e9, buttons: 1 });
    assert.deepEqual(sent, [{ keys: [0x1c], mouse: [] }], 'one request at a time');
    release(); await settle();
    assert.deepEqual(sent[1], { keys: [0xf0, 0x1c], mouse: [{ dx: 30, dy: -10, buttons: 0 }, { dx: 4096, dy: -4096, buttons: 1 }] });
    release(); await settle();
    assert.equal(sent.length, 2);
  });

  it('drops malformed events and bounds what waits', async () => {
    const sent: { keys: number[]; mouse: MouseReport[] }[] = [];
    const q = new InputQueue((req) => { sent.push(req); return new Promise<void>(() => undefined); }); // never answers
    for (const bad of [null, 7, 'KeyA', { type: 'key', code: 'KeyA' }, { type: 'key', code: 'x'.repeat(100), down: true },
      { type: 'pointer', dx: NaN, dy: 0, buttons: 0 }, { type: 'pointer', dx: 0, dy: 0, buttons: 8 }, { type: 'pointer', dx: '1', dy: 0, buttons: 0 }, { type: 'touch' }]) q.push(bad);
    assert.equal(q.dropped, 9);
    assert.equal(sent.length, 0);
    for (let i = 0; i < 1000; i++) q.push({ type: 'key', code: 'ArrowUp', down: i % 2 === 0 });
    assert.equal(sent.length, 1);
    assert.ok(sent[0]!.keys.length <= MAX_REQUEST_KEYS);
    assert.ok(q.dropped > 800, `most of a flood is dropped (${q.dropped})`);
    assert.equal(checkScreenInput({ type: 'pointer', dx: 2.7, dy: -2.7, buttons: 4 })?.type, 'pointer');
  });
});
