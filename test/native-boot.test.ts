// The native core boots the probe guest (multiboot v1, 32-bit entry, long mode from there) and streams
// its serial output; pause stops the guest outright and resume continues it without losing or
// repeating a heartbeat. Also: the i8042 reset line and a guest that triple-faults stop the VM with
// the matching event.
import assert from 'node:assert/strict';
import { HeartbeatWatcher, type Heartbeat } from '../guest/index.js';
import { loadNative, type NativeVm, type VmEvent } from '../native/index.js';
import { requireKvm } from './support/kvm.js';
import { requireProbe, waitUntil } from './support/probe.js';

const MiB = 1024 * 1024;

/** The guest's serial output: raw bytes, lines and heartbeats (through the probe's watcher), and other events. */
class SerialLines {
  readonly watcher = new HeartbeatWatcher();
  readonly lines: string[] = [];
  readonly beats: Heartbeat[] = [];
  readonly others: VmEvent[] = [];
  private raw: Buffer[] = [];
  serialEvents = 0;

  constructor() {
    this.watcher.on('line', (l: string) => this.lines.push(l));
    this.watcher.on('heartbeat', (hb: Heartbeat) => this.beats.push(hb));
  }

  readonly onEvent = (e: VmEvent): void => {
    if (e.type !== 'serial') { this.others.push(e); return; }
    this.serialEvents++;
    this.raw.push(e.data);
    this.watcher.push(e.data);
  };

  bytes(): Buffer { return Buffer.concat(this.raw); }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A multiboot image with the a.out kludge (header flag 16): 32-bit code loaded at 1 MiB. */
function aoutKernel(code: number[]): Buffer {
  const base = 0x100000, codeOff = 0x20;
  const img = Buffer.alloc(codeOff + code.length);
  const magic = 0x1badb002, flags = 0x00010000;
  img.writeUInt32LE(magic, 0);
  img.writeUInt32LE(flags, 4);
  img.writeUInt32LE((-(magic + flags)) >>> 0, 8);
  img.writeUInt32LE(base, 12);           // header_addr
  img.writeUInt32LE(base, 16);           // load_addr
  img.writeUInt32LE(0, 20);              // load_end_addr: whole file
  img.writeUInt32LE(0, 24);              // bss_end_addr: none
  img.writeUInt32LE(base + codeOff, 28); // entry_addr
  Buffer.from(code).copy(img, codeOff);
  return img;
}

/** A minimal bzImage (boot protocol 2.15, 64-bit entry) whose startup_64 is `code`. */
function tinyBzImage(code: number[]): Buffer {
  const setupSects = 4, setupBytes = (setupSects + 1) * 512, payload = Buffer.alloc(64 * 1024);
  Buffer.from(code).copy(payload, 0x200);            // startup_64 = kernel + 0x200
  const k = Buffer.concat([Buffer.alloc(setupBytes), payload]);
  k[0x1f1] = setupSects;
  k.writeUInt32LE(payload.length / 16, 0x1f4);        // syssize
  k.writeUInt16LE(0xaa55, 0x1fe);
  k[0x200] = 0xeb; k[0x201] = 0x6a;                   // jmp over the header (ends at 0x26c)
  k.write('HdrS', 0x202, 'latin1');
  k.writeUInt16LE(0x020f, 0x206);
  k[0x211] = 0x01;                                    // LOADED_HIGH
  k.writeUInt32LE(0x7fffffff, 0x22c);                 // initrd_addr_max
  k.writeUInt32LE(0x200000, 0x230);                   // kernel_alignment
  k[0x234] = 1;                                       // relocatable
  k.writeUInt16LE(0x0001, 0x236);                     // XLF_KERNEL_64
  k.writeUInt32LE(255, 0x238);                        // cmdline_size
  k.writeBigUInt64LE(0x1000000n, 0x258);              // pref_address
  k.writeUInt32LE(0x100000, 0x260);                   // init_size
  return k;
}

describe('native core: boot the probe guest', function () {
  let probe: Buffer;
  let vm: NativeVm | undefined;
  let serial: SerialLines;

  before(function () {
    requireKvm(this);
    probe = requireProbe(this);
    serial = new SerialLines();
    // Two vCPUs: the second waits for a SIPI that never comes, and pause must still reach it.
    vm = loadNative().createVm({ memBytes: 128 * MiB, vcpus: 2 }, serial.onEvent);
    const info = vm.loadMultiboot(probe, 'beat=50ms');
    assert.equal(info.cmdline, 'beat=50ms');
    assert.ok(info.entry >= 0x100000 && info.entry < info.loadEnd, 'entry lies inside the loaded image');
    vm.start();
  });
  after(() => vm?.close());

  it('streams serial output: the boot line, then heartbeats that count up and report ok', async () => {
    await waitUntil('4 heartbeats', () => serial.beats.length >= 4);
    assert.ok(serial.lines.some((l) => l.startsWith('PROBE boot')), 'the probe announced itself');
    assert.deepEqual(serial.others, [], 'no error/reset/shutdown events');
    const b = serial.beats.slice(0, 4);
    for (const x of b) assert.ok(x.ok, `heartbeat reports ok: ${JSON.stringify(x)}`);
    for (let i = 1; i < b.length; i++) {
      assert.equal(b[i].seq, b[i - 1].seq + 1, 'seq increments by one');
      assert.ok(b[i].ticks > b[i - 1].ticks, 'timer ticks advance (LAPIC timer interrupts are delivered)');
    }
    assert.equal(vm!.isRunning(), true);
  });

  it('pause stops the guest (no output while paused); resume continues with no gap or repeat', async () => {
    const v = vm!;
    v.pause();
    v.pause(); // idempotent
    assert.equal(v.isRunning(), false);
    await sleep(30);                        // events queued before pause() returned are delivered now
    const linesAtPause = serial.lines.length, eventsAtPause = serial.serialEvents;
    const lastSeq = serial.beats[serial.beats.length - 1].seq;
    await sleep(400);                       // 8 heartbeat periods
    assert.equal(serial.serialEvents, eventsAtPause, 'no serial output while paused');
    assert.equal(serial.lines.length, linesAtPause);

    v.resume();
    assert.equal(v.isRunning(), true);
    const before = serial.beats.length;
    await waitUntil('3 more heartbeats', () => serial.beats.length >= before + 3);
    const seqs = serial.beats.map((x) => x.seq);
    for (let i = 1; i < seqs.length; i++) assert.equal(seqs[i], seqs[i - 1] + 1, `consecutive heartbeats: ${seqs.join(',')}`);
    assert.equal(serial.watcher.gaps + serial.watcher.repeats, 0, 'the watcher saw no gap or repeat either');
    assert.equal(serial.beats[before].seq, lastSeq + 1, 'the first heartbeat after resume follows the last before pause');
    assert.ok(serial.beats.every((x) => x.ok));
  });

  it('survives many quick pause/resume cycles without losing or repeating heartbeats', async () => {
    const v = vm!;
    for (let i = 0; i < 20; i++) {
      v.pause();
      assert.equal(v.isRunning(), false);
      v.resume();
      await sleep(5);
    }
    const before = serial.beats.length;
    await waitUntil('2 more heartbeats', () => serial.beats.length >= before + 2);
    const seqs = serial.beats.map((x) => x.seq);
    for (let i = 1; i < seqs.length; i++) assert.equal(seqs[i], seqs[i - 1] + 1);
    assert.deepEqual(serial.others, []);
  });

  it('keeps the guest running under a throttle, and pause/resume still work while throttled', async () => {
    const v = vm!;
    v.setThrottle(0.8);
    try {
      const before = serial.beats.length;
      await waitUntil('2 heartbeats while throttled', () => serial.beats.length >= before + 2);
      v.pause();
      assert.equal(v.isRunning(), false);
      v.resume();
      await waitUntil('2 more heartbeats', () => serial.beats.length >= before + 4);
    } finally {
      v.setThrottle(0);
    }
    const seqs = serial.beats.map((x) => x.seq);
    for (let i = 1; i < seqs.length; i++) assert.equal(seqs[i], seqs[i - 1] + 1);
    assert.ok(serial.beats.every((x) => x.ok));
  });
});

describe('native core: machine-level events', function () {
  before(function () { requireKvm(this); });

  it('a guest pulsing the i8042 reset line (0xFE to port 0x64) emits serial, then reset, and stops', async () => {
    const serial = new SerialLines();
    const vm = loadNative().createVm({ memBytes: 16 * MiB }, serial.onEvent);
    try {
      vm.loadMultiboot(aoutKernel([
        0x66, 0xba, 0xf8, 0x03,   // mov dx, 0x3f8
        0xb0, 0x52, 0xee,         // mov al, 'R'; out dx, al
        0xb0, 0x0a, 0xee,         // mov al, '\n'; out dx, al
        0xb0, 0xfe, 0xe6, 0x64,   // mov al, 0xfe; out 0x64, al
        0xf4, 0xeb, 0xfd,         // hlt; jmp hlt
      ]), '');
      vm.start();
      await waitUntil('reset event', () => serial.others.some((e) => e.type === 'reset'));
      assert.deepEqual(serial.lines, ['R'], 'serial output written before the reset arrives');
      assert.equal(vm.isRunning(), false, 'vCPUs stop on reset');
      vm.pause(); // pausing a stopped machine returns at once
    } finally {
      vm.close();
    }
  });

  it('loadBzImage starts vCPU 0 at startup_64 in long mode with RSI = boot_params', async () => {
    const serial = new SerialLines();
    const vm = loadNative().createVm({ memBytes: 64 * MiB }, serial.onEvent);
    try {
      const setup = vm.loadBzImage(tinyBzImage([
        0xba, 0xf8, 0x03, 0x00, 0x00,                         // mov edx, 0x3f8
        0xb0, 0x4c, 0xee, 0xb0, 0x0a, 0xee,                   // out 'L', out '\n'
        0x66, 0x81, 0xbe, 0xfe, 0x01, 0x00, 0x00, 0x55, 0xaa, // cmp word [rsi+0x1fe], 0xaa55
        0x75, 0x03, 0xb0, 0x5a, 0xee,                         // jne +3; out 'Z'
        0xb0, 0x0a, 0xee,                                     // out '\n'
        0xb0, 0xfe, 0xe6, 0x64, 0xf4,                         // out 0xfe -> port 0x64 (reset); hlt
      ]), 'console=ttyS0', null);
      assert.equal(setup.entry, setup.kernelAddr + 0x200);
      assert.equal(setup.rsi, setup.zeroPageAddr);
      vm.start();
      await waitUntil('reset event', () => serial.others.some((e) => e.type === 'reset'));
      assert.deepEqual(serial.lines, ['L', 'Z'], '64-bit code ran and found boot_params through RSI');
    } finally {
      vm.close();
    }
  });

  it('the 8250 registers behave as a driver expects (scratch, divisor latch, LSR, IIR, loopback MSR); unknown ports read 0xFF', async () => {
    const serial = new SerialLines();
    const vm = loadNative().createVm({ memBytes: 16 * MiB }, serial.onEvent);
    const dx = (port: number): number[] => [0x66, 0xba, port & 0xff, port >> 8];
    const outb = (port: number, v: number): number[] => [...dx(port), 0xb0, v, 0xee];
    const echo = (port: number): number[] => [...dx(port), 0xec, ...dx(0x3f8), 0xee]; // in al,dx; out to THR
    try {
      vm.loadMultiboot(aoutKernel([
        ...outb(0x3ff, 0x5a), ...echo(0x3ff),               // scratch register keeps a byte
        ...outb(0x3fb, 0x83), ...outb(0x3f8, 0x01), ...outb(0x3f9, 0x00), // DLAB=1: divisor 1
        ...dx(0x3f8), 0xec, 0x88, 0xc3,                      // bl = DLL
        ...outb(0x3fb, 0x03), ...dx(0x3f8), 0x88, 0xd8, 0xee, // DLAB=0; print bl
        ...echo(0x3fd),                                      // LSR: THR empty + transmitter empty
        ...echo(0x3fa),                                      // IIR: no interrupt pending
        ...outb(0x3fc, 0x1a), ...dx(0x3fe), 0xec, 0x88, 0xc3, // loopback with RTS|OUT2: bl = MSR
        ...outb(0x3fc, 0x0b), ...dx(0x3f8), 0x88, 0xd8, 0xee, // back to normal; print bl
        0xe4, 0x99, ...dx(0x3f8), 0xee,                      // in al, 0x99 (nobody there); print
        0xb0, 0x0a, 0xee,                                    // '\n'
        0xb0, 0xfe, 0xe6, 0x64, 0xf4,                        // reset
      ]), '');
      vm.start();
      await waitUntil('reset event', () => serial.others.some((e) => e.type === 'reset'));
      assert.deepEqual([...serial.bytes()], [0x5a, 0x01, 0x60, 0x01, 0x90, 0xff, 0x0a]);
      assert.deepEqual(vm.unknownPorts(), { 153: 1 }, 'port 0x99 counted once');
      vm.pause();
      const sections = loadNative().describeState(vm.saveState()).sections.map((x) => x.name);
      assert.ok(sections.includes('dev.uart8250.0') && sections.includes('dev.i8042.0'), `device state saved: ${sections.join(',')}`);
    } finally {
      vm.close();
    }
  });

  it('a guest that triple-faults stops with a shutdown event naming the vCPU and RIP', async () => {
    const serial = new SerialLines();
    const vm = loadNative().createVm({ memBytes: 16 * MiB }, serial.onEvent);
    try {
      vm.loadMultiboot(aoutKernel([0x0f, 0x0b]), ''); // ud2 with no IDT: #UD -> #GP -> #DF -> triple fault
      vm.start();
      await waitUntil('shutdown event', () => serial.others.length > 0);
      const e = serial.others[0] as VmEvent & { detail?: string };
      assert.equal(e.type, 'shutdown', `got ${JSON.stringify(e)}`);
      assert.match(e.detail ?? '', /vCPU 0: .*RIP 0x100020/, 'the detail names the vCPU and the faulting RIP');
      await waitUntil('vCPU stopped', () => !vm.isRunning());
    } finally {
      vm.close();
    }
  });
});
