// The probe guest's desktop under roam's own VMM: with a framebuffer announced in the multiboot info
// it draws a title bar, a clock, its heartbeat counters, a bouncing box, the last typed line and a
// mouse pointer, repainting only what changed; PS/2 keys typed into the VM are printed on serial
// (`KEY h`) and drawn, mouse moves move the pointer (clamped to the screen) and button presses print
// `CLICK x y`. The heartbeat carries on undisturbed, the desktop survives save/restore, and a VM
// without a display boots and beats as before. The seq strip shows the latest heartbeat's seq in cells a
// screenshot reader decodes (test/support/seq-strip.ts); `screen=busy` repaints a 512x256 region every
// frame for the screen-stream benchmark, and nothing of it happens without that key.
//
// Screen regions below follow the layout in guest/src/desktop.c (1024x768, text cells 12x16).
import assert from 'node:assert/strict';
import { HeartbeatWatcher } from '../guest/index.js';
import { DISPLAY_DAMAGE_BYTES, loadNative, type NativeVm, type VmEvent } from '../native/index.js';
import { requireKvm } from './support/kvm.js';
import { requireProbe, waitUntil } from './support/probe.js';
import { moreBeats } from './support/heartbeat.js';
import { decodeSeqStrip, SEQ_STRIP, SEQ_STRIP_HEIGHT, SEQ_STRIP_WIDTH } from './support/seq-strip.js';

const MiB = 1024 * 1024;
const WIDTH = 1024, HEIGHT = 768, STRIDE = 4096;
const ROWS = {
  clock: [16, 32],        // title bar text row (the clock sits at its right)
  counters: [120, 136],   // "seq N   verified N   ok"
  strip: [144, 152],      // the seq strip, repainted with the counters
  box: [192, 204],        // the bouncing box's band
  previous: [276, 292],   // the line typed before the last enter
  line: [308, 324],       // "> " + the line being typed + cursor
} as const;
const BUSY = { x: 256, y: 420, w: 512, h: 256 };   // screen=busy's region (guest/src/busy.h)
const POINTER_W = 12, POINTER_H = 19;
const CENTRE = { x: WIDTH / 2, y: HEIGHT / 2 };   // where the pointer starts

/** Set-2 scancodes (what keyboardInput takes): make, and F0 + make to release. */
const SC = { h: 0x33, i: 0x43, one: 0x16, space: 0x29, enter: 0x5a, backspace: 0x66, tab: 0x0d, lshift: 0x12, esc: 0x76 };
const tap = (code: number): number[] => [code, 0xf0, code];
const shifted = (code: number): number[] => [SC.lshift, ...tap(code), 0xf0, SC.lshift];
const UP_ARROW = [0xe0, 0x75, 0xe0, 0xf0, 0x75];

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** One booted probe: its serial lines and heartbeats. */
class Guest {
  readonly watcher = new HeartbeatWatcher();
  readonly lines: string[] = [];
  readonly others: VmEvent[] = [];
  vm!: NativeVm;

  constructor() { this.watcher.on('line', (l: string) => this.lines.push(l)); }

  readonly onEvent = (e: VmEvent): void => {
    if (e.type === 'serial') this.watcher.push(e.data);
    else this.others.push(e);
  };

  boot(probe: Buffer, display: boolean, extraParams = ''): void {
    this.vm = loadNative().createVm({ memBytes: 64 * MiB, display }, this.onEvent);
    this.vm.loadMultiboot(probe, `fill=8M ws=2M rate=4M beat=100ms ${extraParams}`.trim());
    this.vm.start();
  }

  keyLines(): string[] { return this.lines.filter((l) => l.startsWith('KEY ') || l.startsWith('CLICK ')); }

  async expectLines(want: string[]): Promise<void> {
    const before = this.keyLines().length;
    await waitUntil(`serial lines ${want.join(' | ')}`, () => this.keyLines().length >= before + want.length);
    await sleep(100);   // a line too many would show up by the next frame or two
    assert.deepEqual(this.keyLines().slice(before), want);
  }
}

/** A copy of framebuffer rows [y0, y1). */
function rows(vm: NativeVm, [y0, y1]: readonly [number, number]): Buffer {
  const fb = new Uint8Array(vm.memory(vm.display()!.slot)[0]!);
  return Buffer.from(fb.slice(y0 * STRIDE, y1 * STRIDE));
}

/** [r, g, b] of one pixel (memory holds B, G, R, X). */
function pixel(vm: NativeVm, x: number, y: number): number[] {
  const fb = new Uint8Array(vm.memory(vm.display()!.slot)[0]!);
  const o = y * STRIDE + x * 4;
  return [fb[o + 2]!, fb[o + 1]!, fb[o]!];
}

/** True when nothing is drawn over the pointer-sized box at (x, y): away from the panels every row is one colour. */
function plainBackground(vm: NativeVm, x: number, y: number): boolean {
  for (let r = y; r < y + POINTER_H; r++) {
    const ref = pixel(vm, x - 2, r).join();
    for (let c = x; c < x + POINTER_W; c++) if (pixel(vm, c, r).join() !== ref) return false;
  }
  return true;
}

/** The pointer's tip (black outline) is at (x, y) and the pixel just inside it is white. */
function pointerAt(vm: NativeVm, x: number, y: number): boolean {
  return pixel(vm, x, y).join() === '0,0,0' && pixel(vm, x + 1, y + 2).join() === '255,255,255';
}

/** The whole framebuffer, copied. */
function screen(vm: NativeVm): Uint8Array {
  return new Uint8Array(vm.memory(vm.display()!.slot)[0]!).slice(0, HEIGHT * STRIDE);
}

/** Pixels of screen=busy's region that are the same in `a` and the framebuffer now. */
function unchangedBusyPixels(vm: NativeVm, a: Uint8Array): number {
  const b = screen(vm);
  let same = 0;
  for (let y = BUSY.y; y < BUSY.y + BUSY.h; y++) {
    for (let x = BUSY.x; x < BUSY.x + BUSY.w; x++) {
      const o = y * STRIDE + x * 4;
      if (a[o] === b[o] && a[o + 1] === b[o + 1] && a[o + 2] === b[o + 2]) same++;
    }
  }
  return same;
}

function damagedRows(vm: NativeVm): Set<number> {
  const out = new Uint8Array(DISPLAY_DAMAGE_BYTES);
  vm.displayDamage(out);
  const set = new Set<number>();
  for (let i = 0; i < HEIGHT; i++) if (out[i >> 3]! & (1 << (i & 7))) set.add(i);
  return set;
}

describe('probe guest desktop (framebuffer, PS/2 keyboard and mouse)', function () {
  let probe: Buffer;
  const guest = new Guest();

  before(async function () {
    requireKvm(this);
    probe = requireProbe(this);
    guest.boot(probe, true);
    await waitUntil('the display line', () => guest.lines.some((l) => l.startsWith('PROBE display')));
    await moreBeats(guest.watcher, 2);
  });
  after(() => guest.vm?.close());

  it('announces the framebuffer it found and paints the desktop', () => {
    assert.ok(guest.lines.includes('PROBE display width=1024 height=768 pitch=4096 addr=0xe0000000'),
      guest.lines.join('\n'));
    assert.notDeepEqual(pixel(guest.vm, 4, 4), [0, 0, 0], 'the title bar is painted');
    assert.notDeepEqual(pixel(guest.vm, 4, 600), [0, 0, 0], 'the background is painted');
    assert.ok(pointerAt(guest.vm, CENTRE.x, CENTRE.y), 'the pointer starts in the middle of the screen');
  });

  it('moves the box, ticks the clock and updates the counters, repainting only those scanlines', async () => {
    const vm = guest.vm;
    damagedRows(vm);   // forget the first full paint
    const box = rows(vm, ROWS.box), clock = rows(vm, ROWS.clock), counters = rows(vm, ROWS.counters);
    await waitUntil('the box to move', () => !rows(vm, ROWS.box).equals(box));
    await waitUntil('the clock to change', () => !rows(vm, ROWS.clock).equals(clock));
    await moreBeats(guest.watcher, 2);
    await waitUntil('the counters to change', () => !rows(vm, ROWS.counters).equals(counters));

    const damaged = damagedRows(vm);
    const dynamic = [ROWS.box, ROWS.clock, ROWS.counters, ROWS.strip];
    for (const [y0, y1] of dynamic) for (let y = y0; y < y1; y++) assert.ok(damaged.has(y), `scanline ${y} was repainted`);
    const others = [...damaged].filter((y) => !dynamic.some(([y0, y1]) => y >= y0 && y < y1));
    assert.deepEqual(others, [], 'no other scanline was written (no input, the pointer did not move)');
    for (let y = BUSY.y; y < BUSY.y + BUSY.h; y++) assert.ok(!damaged.has(y), `busy-region scanline ${y} untouched without screen=busy`);
  });

  it('shows the latest heartbeat seq in the seq strip, readable from the pixels alone', async () => {
    const vm = guest.vm;
    await moreBeats(guest.watcher, 1);
    // Each poll reads the latest `HB seq=` line and the strip together; the strip follows the line
    // within a frame, so they agree at some poll (the limit only guards against a hung guest).
    let decoded: number | null = null;
    await waitUntil('the strip to show the latest seq', () => {
      decoded = decodeSeqStrip(screen(vm), WIDTH, SEQ_STRIP.x, SEQ_STRIP.y, 4, 'bgrx');
      return decoded === guest.watcher.lastSeq;
    });
    assert.ok(guest.watcher.lastSeq >= 3, `seq ${guest.watcher.lastSeq} sets more than one bit over time`);
    // The red markers really frame it: one cell further left or right no strip is found.
    assert.equal(decodeSeqStrip(screen(vm), WIDTH, SEQ_STRIP.x - SEQ_STRIP.cell, SEQ_STRIP.y, 4, 'bgrx'), null);
    assert.equal(decodeSeqStrip(screen(vm), WIDTH, SEQ_STRIP.x + SEQ_STRIP.cell, SEQ_STRIP.y, 4, 'bgrx'), null);
    assert.deepEqual(pixel(vm, SEQ_STRIP.x, SEQ_STRIP.y), [255, 0, 0], 'left marker is pure red');
    assert.deepEqual(pixel(vm, SEQ_STRIP.x + SEQ_STRIP_WIDTH - 1, SEQ_STRIP.y + SEQ_STRIP_HEIGHT - 1), [255, 0, 0],
      'right marker is pure red to its last pixel');
  });

  it('prints typed keys on serial as KEY lines and draws the line; backspace and enter edit it', async () => {
    const vm = guest.vm;
    const empty = rows(vm, ROWS.line), noPrevious = rows(vm, ROWS.previous);

    vm.keyboardInput(new Uint8Array(tap(SC.h)));
    await guest.expectLines(['KEY h']);
    await waitUntil('the h to be drawn', () => !rows(vm, ROWS.line).equals(empty));
    const withH = rows(vm, ROWS.line);

    vm.keyboardInput(new Uint8Array(tap(SC.backspace)));
    await guest.expectLines(['KEY backspace']);
    await waitUntil('the line to be empty again', () => rows(vm, ROWS.line).equals(empty));

    vm.keyboardInput(new Uint8Array([...shifted(SC.h), ...tap(SC.space), ...tap(SC.tab), ...shifted(SC.one),
      ...tap(SC.esc), ...UP_ARROW, ...tap(SC.h)]));
    await guest.expectLines(['KEY H', 'KEY space', 'KEY tab', 'KEY !', 'KEY h']);
    await waitUntil('"H   !h" to be drawn', () => !rows(vm, ROWS.line).equals(empty) && !rows(vm, ROWS.line).equals(withH));

    vm.keyboardInput(new Uint8Array(tap(SC.enter)));
    await guest.expectLines(['KEY enter']);
    await waitUntil('enter to start a new line', () => rows(vm, ROWS.line).equals(empty));
    assert.ok(!rows(vm, ROWS.previous).equals(noPrevious), 'the finished line moved up');
  });

  it('keeps lines of at least 60 characters', async () => {
    const vm = guest.vm;
    const keys: number[] = [];
    for (let i = 0; i < 60; i++) keys.push(...tap(i % 2 ? SC.i : SC.h));
    const previous = rows(vm, ROWS.previous);
    const before = guest.keyLines().length;
    for (let i = 0; i < keys.length; i += 60) vm.keyboardInput(new Uint8Array(keys.slice(i, i + 60)));
    await waitUntil('60 KEY lines', () => guest.keyLines().length >= before + 60);
    assert.deepEqual(guest.keyLines().slice(before), Array.from({ length: 60 }, (_, i) => (i % 2 ? 'KEY i' : 'KEY h')));
    // The 60th character's cell (after "> ") gets ink once it is drawn; the line has not wrapped.
    const panelX = 30, cellX = 36 + (2 + 59) * 12;
    const inked = (): boolean => {
      const line = rows(vm, ROWS.line);
      for (let y = 0; y < ROWS.line[1] - ROWS.line[0]; y++) {
        const paper = line.readUInt32LE(y * STRIDE + panelX * 4);
        for (let x = cellX; x < cellX + 12; x++) if (line.readUInt32LE(y * STRIDE + x * 4) !== paper) return true;
      }
      return false;
    };
    await waitUntil('the 60th character on screen', inked);
    assert.ok(rows(vm, ROWS.previous).equals(previous), 'no wrap before 60 characters');
  });

  it('moves the pointer with save-under, clamps it to the screen, and prints CLICK x y on a press', async () => {
    const vm = guest.vm;
    const at = { x: CENTRE.x, y: CENTRE.y };
    vm.mouseInput(100, 50, 0);
    at.x += 100; at.y += 50;
    await waitUntil('the pointer to move', () => pointerAt(vm, at.x, at.y));
    assert.ok(plainBackground(vm, CENTRE.x, CENTRE.y), 'the desktop under the old position is restored');

    vm.mouseInput(0, 0, 1);
    vm.mouseInput(0, 0, 0);
    await guest.expectLines([`CLICK ${at.x} ${at.y}`]);

    vm.mouseInput(-40, 30, 2);   // moving and pressing in one packet: the click is where it moved to
    vm.mouseInput(0, 0, 0);
    at.x -= 40; at.y += 30;
    await guest.expectLines([`CLICK ${at.x} ${at.y}`]);

    vm.mouseInput(-5000, -5000, 0);   // split into many packets by the device; clamped by the guest
    vm.mouseInput(0, 0, 4);
    vm.mouseInput(0, 0, 0);
    await guest.expectLines(['CLICK 0 0']);
    vm.mouseInput(5000, 5000, 0);
    vm.mouseInput(0, 0, 1);
    await guest.expectLines([`CLICK ${WIDTH - 1} ${HEIGHT - 1}`]);
    vm.mouseInput(0, 0, 1);          // held, not pressed again: no second click
    vm.mouseInput(-(WIDTH - 1) + 300, -(HEIGHT - 1) + 600, 0);
    await waitUntil('the pointer at 300,600', () => pointerAt(vm, 300, 600));
    assert.deepEqual(guest.keyLines().slice(-1), [`CLICK ${WIDTH - 1} ${HEIGHT - 1}`]);
  });

  it('never disturbed the heartbeat', async () => {
    await moreBeats(guest.watcher, 2);
    assert.equal(guest.watcher.gaps, 0);
    assert.equal(guest.watcher.repeats, 0);
    assert.equal(guest.watcher.corruptPage, undefined);
    assert.ok(guest.watcher.healthy);
    assert.deepEqual(guest.others, []);
  });

  it('carries on after save/restore into another VM: same pointer, still drawing and typing', async () => {
    const first = guest.vm;
    first.pause();
    const state = first.saveState();
    const second = loadNative().createVm({ memBytes: 64 * MiB, display: true }, guest.onEvent);
    try {
      assert.deepEqual(second.slots(), first.slots());
      for (const slot of first.slots()) {
        const src = first.memory(slot.slot), dst = second.memory(slot.slot);
        src.forEach((w, i) => new Uint8Array(dst[i]!).set(new Uint8Array(w)));
      }
      second.restoreState(state);
      first.close();
      guest.vm = second;
      second.start();
      const box = rows(second, ROWS.box);
      await waitUntil('the box to move after restore', () => !rows(second, ROWS.box).equals(box));
      second.mouseInput(5, 5, 1);
      await guest.expectLines(['CLICK 305 605']);
      second.keyboardInput(new Uint8Array(tap(SC.i)));
      await guest.expectLines(['KEY i']);
      await moreBeats(guest.watcher, 2);
      assert.ok(guest.watcher.healthy, 'heartbeats continue without gap or repeat');
    } catch (e) {
      if (guest.vm !== second) second.close();
      throw e;
    }
  });
});

describe('probe guest desktop with screen=busy', function () {
  const guest = new Guest();
  before(async function () {
    requireKvm(this);
    guest.boot(requireProbe(this), true, 'screen=busy');
    await waitUntil('the display line', () => guest.lines.some((l) => l.startsWith('PROBE display')));
    await moreBeats(guest.watcher, 2);
  });
  after(() => guest.vm?.close());

  it('says so on the boot line', () => {
    assert.equal(guest.watcher.boot?.screenBusy, true, guest.lines.join('\n'));
    assert.deepEqual(guest.watcher.boot?.bad, []);
  });

  it('changes every pixel of the 512x256 region each frame, and the damage covers all its scanlines', async () => {
    const vm = guest.vm;
    damagedRows(vm);
    const before = screen(vm);
    await waitUntil('every pixel of the region to change', () => unchangedBusyPixels(vm, before) === 0);
    const damaged = damagedRows(vm);
    for (let y = BUSY.y; y < BUSY.y + BUSY.h; y++) assert.ok(damaged.has(y), `scanline ${y} was repainted`);
    // Every frame, not once: the next change again reaches every pixel and every scanline.
    const again = screen(vm);
    await waitUntil('every pixel to change again', () => unchangedBusyPixels(vm, again) === 0);
    const damagedAgain = damagedRows(vm);
    for (let y = BUSY.y; y < BUSY.y + BUSY.h; y++) assert.ok(damagedAgain.has(y), `scanline ${y} was repainted again`);
    // Outside the region, the rest of the desktop still repaints only what changed.
    const dynamic = [ROWS.box, ROWS.clock, ROWS.counters, ROWS.strip, [BUSY.y, BUSY.y + BUSY.h] as const];
    const others = [...damagedAgain].filter((y) => !dynamic.some(([y0, y1]) => y >= y0 && y < y1));
    assert.deepEqual(others, [], 'no other scanline was written');
  });

  it('is not one flat colour per frame (not compressible to nothing)', () => {
    const fb = screen(guest.vm);
    const colours = new Set<number>();
    for (let y = BUSY.y; y < BUSY.y + BUSY.h; y += 7) {
      for (let x = BUSY.x; x < BUSY.x + BUSY.w; x += 5) {
        const o = y * STRIDE + x * 4;
        colours.add(fb[o]! | fb[o + 1]! << 8 | fb[o + 2]! << 16);
      }
    }
    assert.ok(colours.size > 1000, `${colours.size} distinct colours in a sample of the region`);
  });

  it('keeps the heartbeat undisturbed', async () => {
    await moreBeats(guest.watcher, 3);
    assert.equal(guest.watcher.gaps, 0);
    assert.equal(guest.watcher.repeats, 0);
    assert.ok(guest.watcher.healthy);
    assert.deepEqual(guest.others, []);
  });
});

describe('decodeSeqStrip (pure)', () => {
  /** An image holding a strip for `seq` at (x0, y0), drawn the way the guest draws it. */
  function image(seq: number, width: number, height: number, x0: number, y0: number, bpp: 3 | 4, order: 'bgrx' | 'rgba'): Uint8Array {
    const px = new Uint8Array(width * height * bpp).fill(0x80);   // mid-grey paper: neither 0 nor 1
    const put = (x: number, y: number, [r, g, b]: number[]): void => {
      const o = (y * width + x) * bpp;
      if (order === 'bgrx') { px[o] = b!; px[o + 1] = g!; px[o + 2] = r!; } else { px[o] = r!; px[o + 1] = g!; px[o + 2] = b!; }
    };
    for (let cell = 0; cell < SEQ_STRIP.bits + 2; cell++) {
      const bit = cell - 1;
      const rgb = cell === 0 || cell === SEQ_STRIP.bits + 1 ? [255, 0, 0] : (seq >>> bit) & 1 ? [255, 255, 255] : [0, 0, 0];
      for (let y = 0; y < SEQ_STRIP.cell; y++) for (let x = 0; x < SEQ_STRIP.cell; x++) put(x0 + cell * SEQ_STRIP.cell + x, y0 + y, rgb);
    }
    return px;
  }

  it('reads seq LSB first in both pixel orders and sizes', () => {
    for (const seq of [0, 1, 2, 0x80000000, 0xffffffff, 0xa5f00f01]) {
      assert.equal(decodeSeqStrip(image(seq, 1024, 200, SEQ_STRIP.x, SEQ_STRIP.y, 4, 'bgrx'), 1024), seq);
      assert.equal(decodeSeqStrip(image(seq, 300, 20, 10, 5, 3, 'rgba'), 300, 10, 5, 3, 'rgba'), seq);
      assert.equal(decodeSeqStrip(image(seq, 400, 30, 100, 17, 4, 'rgba'), 400, 100, 17, 4, 'rgba'), seq);
    }
  });

  it('judges each cell by its centre pixel, tolerating lossy edges', () => {
    const px = image(5, 300, 20, 0, 0, 4, 'rgba');
    for (let y = 0; y < SEQ_STRIP.cell; y++) {
      for (let x = 0; x < 300; x += SEQ_STRIP.cell) px.fill(0x77, (y * 300 + x) * 4, (y * 300 + x) * 4 + 4);   // smear each cell's first column
    }
    px[(4 * 300 + 8 + 4) * 4] = 220;   // bit 0's centre a little off-white
    assert.equal(decodeSeqStrip(px, 300, 0, 0, 4, 'rgba'), 5);
  });

  it('finds no strip where the markers are missing, misplaced or cut off', () => {
    const px = image(0x1234, 300, 20, 0, 0, 3, 'rgba');
    assert.equal(decodeSeqStrip(px, 300, 0, 0, 3, 'rgba'), 0x1234);
    assert.equal(decodeSeqStrip(px, 300, 0, 0, 3, 'bgrx'), null, 'blue markers are not red');
    assert.equal(decodeSeqStrip(px, 300, SEQ_STRIP.cell, 0, 3, 'rgba'), null, 'one cell to the right');
    assert.equal(decodeSeqStrip(px, 300, 0, 8, 3, 'rgba'), null, 'one cell down');
    assert.equal(decodeSeqStrip(px, SEQ_STRIP_WIDTH - 1, 0, 0, 3, 'rgba'), null, 'narrower than the strip');
    assert.equal(decodeSeqStrip(px.subarray(0, 300 * 3 * 4), 300, 0, 0, 3, 'rgba'), null, 'cut off above the centre row');
    assert.equal(decodeSeqStrip(px, 300, -1, 0, 3, 'rgba'), null);
    assert.equal(decodeSeqStrip(px, 300, 0.5, 0, 3, 'rgba'), null);
  });
});

describe('probe guest without a display', function () {
  const guest = new Guest();
  before(function () { requireKvm(this); });
  after(() => guest.vm?.close());

  it('boots and beats as before, and says nothing about a display', async function () {
    guest.boot(requireProbe(this), false);
    assert.equal(guest.vm.display(), null);
    await moreBeats(guest.watcher, 3);
    assert.ok(guest.watcher.healthy);
    assert.ok(guest.lines.some((l) => l.startsWith('PROBE boot')));
    assert.ok(!guest.lines.some((l) => l.startsWith('PROBE display')), guest.lines.join('\n'));
    assert.deepEqual(guest.others, []);
  });
});
