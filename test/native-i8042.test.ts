// The i8042 and its PS/2 keyboard and mouse, driven from JS through the VMM's own I/O bus
// (ioForTest) as a guest driver would drive them by polling: scancode translation from set 2 to
// set 1 (make, break, E0 keys), the keyboard, controller and mouse commands drivers send, mouse
// packets (format, splitting, y direction), enable/disable, bounds, and the device state through
// save/restore -- including the version-1 state in the golden file.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadNative, type NativeVm } from '../native/index.js';
import { requireKvm } from './support/kvm.js';

const MiB = 1024 * 1024;
const DATA = 0x60, CMD = 0x64;
const OBF = 0x01, AUX = 0x20;

const status = (vm: NativeVm): number => vm.ioForTest(CMD, 1)!;
const command = (vm: NativeVm, c: number): void => { vm.ioForTest(CMD, 1, c); };
const data = (vm: NativeVm, d: number): void => { vm.ioForTest(DATA, 1, d); };

/** Reads port 0x60 while the status says a byte waits; `aux` marks bytes flagged by status bit 5. */
function drain(vm: NativeVm): { bytes: number[]; aux: boolean[] } {
  const bytes: number[] = [], aux: boolean[] = [];
  for (let i = 0; i < 2000; i++) {
    const s = status(vm);
    if (!(s & OBF)) return { bytes, aux };
    aux.push((s & AUX) !== 0);
    bytes.push(vm.ioForTest(DATA, 1)!);
  }
  throw new Error('the output buffer never empties');
}
const read = (vm: NativeVm): number[] => drain(vm).bytes;

/** Sends a byte to the mouse (0xD4 prefix) and returns what it answered. */
function mouse(vm: NativeVm, ...bytes: number[]): number[] {
  const out: number[] = [];
  for (const b of bytes) { command(vm, 0xd4); data(vm, b); out.push(...read(vm)); }
  return out;
}

/** Decodes 3-byte PS/2 packets into {buttons, dx, dy (up-positive)}; checks bit 3 of each first byte. */
function packets(bytes: number[]): { buttons: number; dx: number; dy: number }[] {
  assert.equal(bytes.length % 3, 0, `whole packets: ${bytes.length} bytes`);
  const out = [];
  for (let i = 0; i < bytes.length; i += 3) {
    const b0 = bytes[i]!;
    assert.equal(b0 & 0x08, 0x08, 'bit 3 of the first byte is always set');
    assert.equal(b0 & 0xc0, 0, 'no overflow');
    out.push({ buttons: b0 & 7, dx: bytes[i + 1]! - (b0 & 0x10 ? 256 : 0), dy: bytes[i + 2]! - (b0 & 0x20 ? 256 : 0) });
  }
  return out;
}

describe('native core: i8042 keyboard and mouse', function () {
  let vm: NativeVm;
  const extra: NativeVm[] = [];
  before(function () { requireKvm(this); });
  beforeEach(() => { vm = loadNative().createVm({ memBytes: 16 * MiB }, () => {}); });
  afterEach(() => { vm.close(); for (const v of extra.splice(0)) v.close(); });

  describe('keyboard', () => {
    it('translates set 2 to set 1 by default: make, break (F0), E0 keys, Pause', () => {
      assert.equal(status(vm) & OBF, 0, 'nothing waits at power-on');
      vm.keyboardInput(Uint8Array.of(0x1c, 0xf0, 0x1c));                     // a: press, release
      assert.deepEqual(read(vm), [0x1e, 0x9e]);
      vm.keyboardInput(Uint8Array.of(0x12, 0x16, 0xf0, 0x16, 0xf0, 0x12));   // shift+1 ('!')
      assert.deepEqual(read(vm), [0x2a, 0x02, 0x82, 0xaa]);
      vm.keyboardInput(Uint8Array.of(0xe0, 0x75, 0xe0, 0xf0, 0x75));         // arrow up
      assert.deepEqual(read(vm), [0xe0, 0x48, 0xe0, 0xc8]);
      vm.keyboardInput(Uint8Array.of(0xe0, 0x14, 0xe0, 0xf0, 0x14, 0x5a, 0xf0, 0x5a, 0x29, 0x66, 0x0d)); // RCtrl, Enter, Space, BS, Tab
      assert.deepEqual(read(vm), [0xe0, 0x1d, 0xe0, 0x9d, 0x1c, 0x9c, 0x39, 0x0e, 0x0f]);
      vm.keyboardInput(Uint8Array.of(0xe1, 0x14, 0x77, 0xe1, 0xf0, 0x14, 0xf0, 0x77));   // Pause
      assert.deepEqual(read(vm), [0xe1, 0x1d, 0x45, 0xe1, 0x9d, 0xc5]);
      // A break prefix at the end of one call applies to the first code of the next.
      vm.keyboardInput(Uint8Array.of(0xf0));
      vm.keyboardInput(Uint8Array.of(0x1c));
      assert.deepEqual(read(vm), [0x9e]);
      assert.ok(drain(vm).aux.every((a) => !a));
    });

    it('passes set 2 through when the guest turns translation off (command byte bit 6)', () => {
      command(vm, 0x20);
      assert.deepEqual(read(vm), [0x45], 'the default command byte: translate, system flag, keyboard IRQ');
      command(vm, 0x60); data(vm, 0x05);
      vm.keyboardInput(Uint8Array.of(0x1c, 0xf0, 0x1c, 0xe0, 0x75));
      assert.deepEqual(read(vm), [0x1c, 0xf0, 0x1c, 0xe0, 0x75]);
      command(vm, 0x20);
      assert.deepEqual(read(vm), [0x05]);
    });

    it('answers the commands a driver sends: reset, identify, echo, LEDs, typematic, scancode set', () => {
      data(vm, 0xff); assert.deepEqual(read(vm), [0xfa, 0xaa], 'reset: ack, self-test passed');
      data(vm, 0xf2); assert.deepEqual(read(vm), [0xfa, 0xab, 0x83], 'identify: MF2 keyboard');
      data(vm, 0xee); assert.deepEqual(read(vm), [0xee], 'echo');
      data(vm, 0xed); assert.deepEqual(read(vm), [0xfa]);
      data(vm, 0x07); assert.deepEqual(read(vm), [0xfa], 'LEDs take their argument');
      data(vm, 0xf3); data(vm, 0x00); assert.deepEqual(read(vm), [0xfa, 0xfa], 'typematic rate');
      data(vm, 0xf0); data(vm, 0x00); assert.deepEqual(read(vm), [0xfa, 0xfa, 0x41], 'set 2, as the translator reports it');
      command(vm, 0x60); data(vm, 0x05);
      data(vm, 0xf0); data(vm, 0x00); assert.deepEqual(read(vm), [0xfa, 0xfa, 0x02], 'set 2 untranslated');
      data(vm, 0xf0); data(vm, 0x01); assert.deepEqual(read(vm), [0xfa, 0xfa]);
      vm.keyboardInput(Uint8Array.of(0x1c, 0xf0, 0x1c));
      assert.deepEqual(read(vm), [0x1e, 0x9e], 'a guest that chose set 1 gets set 1 even without translation');
      data(vm, 0x42); assert.deepEqual(read(vm), [0xfe], 'an unknown command asks for a resend');
    });

    it('drops keys while scanning is off (F5) and takes them again after F4', () => {
      data(vm, 0xf5); assert.deepEqual(read(vm), [0xfa]);
      vm.keyboardInput(Uint8Array.of(0x1c, 0xf0, 0x1c));
      assert.deepEqual(read(vm), [], 'nothing queued while disabled');
      data(vm, 0xf4); assert.deepEqual(read(vm), [0xfa]);
      vm.keyboardInput(Uint8Array.of(0x1c));
      assert.deepEqual(read(vm), [0x1e]);
    });

    it('holds keys while the controller disables the keyboard interface (AD) and delivers them on AE', () => {
      command(vm, 0xad);
      vm.keyboardInput(Uint8Array.of(0x1c, 0x32));
      assert.equal(status(vm) & OBF, 0, 'nothing reaches the output buffer');
      command(vm, 0x20);
      assert.deepEqual(read(vm), [0x55], 'controller replies still come through; bit 4 shows the disable');
      command(vm, 0xae);
      assert.deepEqual(read(vm), [0x1e, 0x30]);
    });

    it('refuses more than 64 bytes per call; drops a call that does not fit the 256-byte queue', () => {
      assert.throws(() => vm.keyboardInput(new Uint8Array(65).fill(0x1c)), /at most 64 scancode bytes per call, got 65/);
      assert.throws(() => vm.keyboardInput([0x1c] as never), /must be a Buffer or Uint8Array/);
      vm.keyboardInput(new Uint8Array(0));
      for (let i = 0; i < 5; i++) vm.keyboardInput(new Uint8Array(60).fill(0x1c));
      // One byte sits in the output buffer, 239 + the next 60 would be 299 > 256: the 5th call is dropped whole.
      const got = read(vm);
      assert.equal(got.length, 240);
      assert.ok(got.every((b) => b === 0x1e));
      vm.keyboardInput(Uint8Array.of(0x1c));
      assert.deepEqual(read(vm), [0x1e], 'room again once the guest read');
    });
  });

  describe('controller', () => {
    it('self-tests, interface tests, output port, writes to its own output buffer (D2, D3)', () => {
      command(vm, 0xaa); assert.deepEqual(read(vm), [0x55]);
      command(vm, 0xab); assert.deepEqual(read(vm), [0x00]);
      command(vm, 0xa9); assert.deepEqual(read(vm), [0x00]);
      command(vm, 0xd0); assert.deepEqual(read(vm), [0x01], 'output port: reset line high');
      command(vm, 0xd2); data(vm, 0x5a);
      assert.deepEqual(drain(vm), { bytes: [0x5a], aux: [false] }, 'D2: as if from the keyboard');
      command(vm, 0xd3); data(vm, 0xa5);
      assert.deepEqual(drain(vm), { bytes: [0xa5], aux: [true] }, 'D3: as if from the mouse (status bit 5)');
      assert.equal(status(vm) & 0x04, 0x04, 'system flag from the command byte');
      assert.equal(status(vm) & 0x08, 0x00, 'last write was data');
      command(vm, 0xa7);
      assert.equal(status(vm) & 0x08, 0x08, 'last write was a command');
    });

    it('keeps the command byte: interrupt enables, disables (A7/A8/AD/AE) show in it', () => {
      command(vm, 0x60); data(vm, 0x47);
      command(vm, 0xa7); command(vm, 0xad);
      command(vm, 0x20); assert.deepEqual(read(vm), [0x77]);
      command(vm, 0xa8); command(vm, 0xae);
      command(vm, 0x20); assert.deepEqual(read(vm), [0x47]);
    });
  });

  describe('mouse (aux port)', () => {
    it('answers reset, identify, status, sample rate, resolution, scaling, stream mode', () => {
      assert.deepEqual(mouse(vm, 0xff), [0xfa, 0xaa, 0x00], 'reset: ack, self-test passed, ID 0');
      assert.deepEqual(mouse(vm, 0xf2), [0xfa, 0x00], 'identify: a standard mouse');
      assert.deepEqual(mouse(vm, 0xe9), [0xfa, 0x00, 0x02, 100], 'status: stream, disabled, 1:1; 4 counts/mm; 100/s');
      assert.deepEqual(mouse(vm, 0xf3, 40, 0xe8, 3, 0xe7, 0xf4), [0xfa, 0xfa, 0xfa, 0xfa, 0xfa, 0xfa]);
      vm.mouseInput(0, 0, 5);
      read(vm);
      assert.deepEqual(mouse(vm, 0xe9), [0xfa, 0x20 | 0x10 | 0x04 | 0x02, 3, 40], 'enabled, 2:1, left and middle held');
      assert.deepEqual(mouse(vm, 0xe6, 0xf6, 0xea), [0xfa, 0xfa, 0xfa]);
      assert.deepEqual(mouse(vm, 0xe9).slice(2), [0x02, 100], 'defaults again');
      assert.deepEqual(mouse(vm, 0x12), [0xfe], 'an unknown command asks for a resend');
      assert.deepEqual(mouse(vm, 0xee, 0x33, 0xec), [0xfa, 0x33, 0xfa], 'wrap mode echoes until EC');
    });

    it('queues nothing until the guest enables reporting, then 3-byte packets flagged as aux', () => {
      vm.mouseInput(10, 10, 1);
      assert.deepEqual(read(vm), [], 'reporting is off after power-on');
      assert.deepEqual(mouse(vm, 0xf4), [0xfa]);
      vm.mouseInput(10, -20, 1);    // right 10, up 20 on screen
      const got = drain(vm);
      assert.ok(got.aux.every((a) => a), 'status bit 5 on every mouse byte');
      assert.deepEqual(got.bytes, [0x09, 10, 20]);
      vm.mouseInput(-3, 7, 2 | 4);  // left 3, down 7: negative x and y set the sign bits
      assert.deepEqual(packets(read(vm)), [{ buttons: 6, dx: -3, dy: -7 }]);
      vm.mouseInput(0, 0, 0);       // a button release alone is one packet
      assert.deepEqual(packets(read(vm)), [{ buttons: 0, dx: 0, dy: 0 }]);
      assert.deepEqual(mouse(vm, 0xf5), [0xfa]);
      vm.mouseInput(5, 5, 0);
      assert.deepEqual(read(vm), [], 'nothing after F5');
    });

    it('splits big moves into packets of at most 255 per axis and clamps a call to 16 packets', () => {
      mouse(vm, 0xf4);
      vm.mouseInput(600, -300, 1);
      const p = packets(read(vm));
      assert.deepEqual(p, [{ buttons: 1, dx: 255, dy: 255 }, { buttons: 1, dx: 255, dy: 45 }, { buttons: 1, dx: 90, dy: 0 }]);
      vm.mouseInput(-100000, 0, 0);
      const far = packets(read(vm));
      assert.equal(far.length, 16);
      assert.equal(far.reduce((a, q) => a + q.dx, 0), -16 * 255);
      assert.throws(() => vm.mouseInput(1.5, 0, 0), /dx must be an integer/);
      assert.throws(() => vm.mouseInput(0, Number.NaN, 0), /dy must be finite/);
      assert.throws(() => vm.mouseInput(0, 0, 8), /buttons is a mask/);
    });

    it('drops whole packets when the aux queue is full', () => {
      mouse(vm, 0xf4);
      for (let i = 0; i < 100; i++) vm.mouseInput(1, 0, 0);
      const got = read(vm);
      assert.equal(got.length % 3, 0, 'no packet is cut');
      assert.ok(got.length <= 257 && got.length >= 255, `about 256 bytes kept, got ${got.length}`);
      assert.deepEqual(packets(got).at(-1), { buttons: 0, dx: 1, dy: 0 });
    });

    it('holds mouse bytes while the aux interface is disabled (A7)', () => {
      mouse(vm, 0xf4);
      command(vm, 0xa7);
      vm.mouseInput(1, 1, 0);
      assert.equal(status(vm) & OBF, 0);
      command(vm, 0xa8);
      assert.deepEqual(packets(read(vm)), [{ buttons: 0, dx: 1, dy: -1 }]);
    });
  });

  describe('interrupts', () => {
    /** The IRR byte of a PIC in a saved state (struct kvm_pic_state: last_irr, irr, imr, ...). */
    function irr(v: NativeVm, pic: 'vm.pic_master' | 'vm.pic_slave'): number {
      const state = v.saveState();
      const at = state.indexOf(Buffer.from(pic, 'latin1'));
      assert.ok(at > 0, `${pic} in the state`);
      return state[at + pic.length + 16 + 1]!;
    }

    it('raises IRQ 1 for keyboard data only while command-byte bit 0 enables it', () => {
      assert.equal(irr(vm, 'vm.pic_master') & 0x02, 0, 'no request at power-on');
      command(vm, 0x60); data(vm, 0x44);           // keyboard interrupt off
      vm.keyboardInput(Uint8Array.of(0x1c));
      assert.equal(irr(vm, 'vm.pic_master') & 0x02, 0, 'no IRQ 1 while disabled');
      command(vm, 0x60); data(vm, 0x45);           // on again with the byte still waiting: an edge
      assert.equal(irr(vm, 'vm.pic_master') & 0x02, 0x02, 'IRQ 1 requested');
      assert.deepEqual(read(vm), [0x1e]);
    });

    it('raises IRQ 12 for mouse data once command-byte bit 1 enables it', () => {
      mouse(vm, 0xf4);
      vm.mouseInput(1, 1, 0);
      assert.equal(irr(vm, 'vm.pic_slave') & 0x10, 0, 'the default command byte leaves IRQ 12 off');
      read(vm);
      command(vm, 0x60); data(vm, 0x47);
      vm.mouseInput(1, 1, 0);
      assert.equal(irr(vm, 'vm.pic_slave') & 0x10, 0x10, 'IRQ 12 (slave input 4) requested');
      assert.equal(irr(vm, 'vm.pic_master') & 0x02, 0, 'not IRQ 1');
    });
  });

  describe('state', () => {
    it('saves and restores queued bytes, the output buffer and device modes (section version 2)', () => {
      mouse(vm, 0xf4, 0xf3, 60);
      command(vm, 0x60); data(vm, 0x47);
      vm.keyboardInput(Uint8Array.of(0x1c, 0xf0, 0x1c, 0xf0));   // ends with a pending break prefix
      vm.mouseInput(-5, 300, 1);
      data(vm, 0xed);                                            // the keyboard waits for an LED byte
      const state = vm.saveState();
      const section = loadNative().describeState(state).sections.find((s) => s.name === 'dev.i8042.0');
      assert.equal(section?.version, 2);

      const other = loadNative().createVm({ memBytes: 16 * MiB }, () => {});
      extra.push(other);
      other.restoreState(state);
      const a = drain(vm), b = drain(other);
      assert.deepEqual(b, a, 'the same bytes, with the same aux flags, in the same order');
      assert.ok(a.bytes.length > 6 && a.aux.includes(true) && a.aux.includes(false));
      for (const v of [vm, other]) {
        data(v, 0x02);
        assert.deepEqual(read(v), [0xfa], 'the LED argument is still expected');
        v.keyboardInput(Uint8Array.of(0x1c));
        assert.deepEqual(read(v), [0x9e], 'the pending break prefix survived');
        assert.deepEqual(mouse(v, 0xe9), [0xfa, 0x24, 0x02, 60], 'reporting on, left held, 60/s');
        command(v, 0x20);
        assert.deepEqual(read(v), [0x47]);
      }
    });

    it('still restores the version-1 section of the golden probe state', function () {
      const file = fileURLToPath(new URL('../../test/fixtures/state/v1.0-probe-1vcpu.bin', import.meta.url));
      const golden = readFileSync(file);
      const section = loadNative().describeState(golden).sections.find((s) => s.name === 'dev.i8042.0');
      assert.equal(section?.version, 1);
      // The version-1 payload: command byte, output port, pending, last-was-command, count, bytes.
      const at = golden.indexOf(Buffer.from('dev.i8042.0', 'latin1')) + 11 + 16;
      const v1 = golden.subarray(at, at + section!.length);
      const v = loadNative().createVm({ memBytes: 64 * MiB, vcpus: 1 }, () => {});
      extra.push(v);
      try {
        v.restoreState(golden);
      } catch (e) {
        // The golden CPUID comes from the machine that made it; another CPU may refuse it before
        // the devices are reached. That is the CPUID's business, not the i8042's.
        if (/cpuid|CPUID/.test(String(e))) this.skip();
        throw e;
      }
      const queued = [...v1.subarray(5, 5 + v1[4]!)];
      assert.deepEqual(read(v), queued, 'the bytes the guest had not read');
      command(v, 0x20);
      assert.deepEqual(read(v), [v1[0]], 'the command byte');
      v.keyboardInput(Uint8Array.of(0x1c));
      assert.deepEqual(read(v), v1[0]! & 0x40 ? [0x1e] : [0x1c], 'the keyboard works after a version-1 restore');
    });
  });
});
