// The machine-state container (native/state/FORMAT.md) through describeState(): the committed golden
// files still decode, and every kind of damage or incompatibility is refused with a message that
// says what is wrong and where. The TypeScript walker below reads the container independently, from
// FORMAT.md, so the test also pins the documented layout.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadNative } from '../native/index.js';

const fixtures = fileURLToPath(new URL('../../test/fixtures/state/', import.meta.url));
const golden = (name: string): Buffer => readFileSync(fixtures + name);

interface WalkedSection { name: string; version: number; flags: number; start: number; payloadStart: number; length: number; end: number }

/** Reads the container as FORMAT.md lays it out (no checks beyond what the walk needs). */
function walk(buf: Buffer): { major: number; minor: number; total: number; sections: WalkedSection[] } {
  assert.equal(buf.subarray(0, 8).toString('latin1'), 'ROAMVMST');
  const headerLen = buf.readUInt32LE(12);
  const count = buf.readUInt32LE(24);
  const sections: WalkedSection[] = [];
  let pos = headerLen;
  for (let i = 0; i < count; i++) {
    const start = pos;
    const nameLen = buf.readUInt16LE(pos);
    const name = buf.subarray(pos + 2, pos + 2 + nameLen).toString('latin1');
    pos += 2 + nameLen;
    const version = buf.readUInt32LE(pos);
    const flags = buf.readUInt32LE(pos + 4);
    const length = Number(buf.readBigUInt64LE(pos + 8));
    const payloadStart = pos + 16;
    pos = payloadStart + length + 4;
    sections.push({ name, version, flags, start, payloadStart, length, end: pos });
  }
  return { major: buf.readUInt16LE(8), minor: buf.readUInt16LE(10), total: Number(buf.readBigUInt64LE(16)), sections };
}

function section(buf: Buffer, name: string): WalkedSection {
  const s = walk(buf).sections.find((x) => x.name === name);
  assert.ok(s, `golden file has section ${name}`);
  return s;
}

describe('native state format (describeState)', () => {
  const native = loadNative();

  it('decodes the golden probe-guest state: every section, version and length', () => {
    const buf = golden('v1.0-probe-1vcpu.bin');
    const d = native.describeState(buf);
    assert.equal(d.major, 1);
    assert.equal(d.minor, 0);
    const walked = walk(buf);
    assert.equal(walked.total, buf.length);
    assert.deepEqual(d.sections, walked.sections.map((s) => ({ name: s.name, version: s.version, length: s.length })));
    const byName = new Map(d.sections.map((s) => [s.name, s]));
    // Fixed-size KVM structs (x86-64 ABI) and the documented encodings.
    for (const [name, length] of [['machine', 12], ['vcpu.0.regs', 144], ['vcpu.0.lapic', 1024], ['vcpu.0.debugregs', 128],
      ['vcpu.0.events', 64], ['vcpu.0.mp_state', 4], ['vm.pic_master', 16], ['vm.pic_slave', 16], ['vm.ioapic', 216],
      ['vm.pit2', 112], ['vm.clock', 48]] as const) {
      assert.equal(byName.get(name)?.length, length, name);
    }
    assert.ok(byName.has('vcpu.0.sregs') || byName.has('vcpu.0.sregs2'));
    assert.ok(byName.has('vcpu.0.xsave') || byName.has('vcpu.0.fpu'));
    const cpuid = byName.get('vcpu.0.cpuid')!;
    assert.equal((cpuid.length - 4) % 28, 0);
    const msrs = byName.get('vcpu.0.msrs')!;
    assert.equal((msrs.length - 4) % 12, 0);
    // The machine section holds what the VM was: 64 MiB, 1 vCPU.
    const m = section(buf, 'machine');
    assert.equal(Number(buf.readBigUInt64LE(m.payloadStart)), 64 * 1024 * 1024);
    assert.equal(buf.readUInt32LE(m.payloadStart + 8), 1);
    // The MSRs carry the TSC and the TSC deadline (restore order depends on both being there).
    const msr = section(buf, 'vcpu.0.msrs');
    const indices = new Set<number>();
    for (let i = 0; i < buf.readUInt32LE(msr.payloadStart); i++) indices.add(buf.readUInt32LE(msr.payloadStart + 4 + i * 12));
    for (const required of [0x10, 0x6e0, 0x1b, 0xc0000080, 0xc0000082]) assert.ok(indices.has(required), `MSR 0x${required.toString(16)}`);
    // Device blobs are sections of their own.
    assert.ok(d.sections.some((s) => s.name === 'dev.uart8250.0'));
  });

  it('decodes the golden 2-vCPU machine, with per-vCPU sections for both', () => {
    const d = native.describeState(golden('v1.0-fresh-2vcpu.bin'));
    for (const v of [0, 1]) {
      for (const part of ['cpuid', 'mp_state', 'regs', 'lapic', 'msrs', 'debugregs', 'events']) {
        assert.ok(d.sections.some((s) => s.name === `vcpu.${v}.${part}`), `vcpu.${v}.${part}`);
      }
    }
    assert.deepEqual(d.sections.filter((s) => s.name.startsWith('dev.')), [{ name: 'dev.golden.0', version: 1, length: 4 }]);
  });

  it('skips an unknown optional section and reads the rest', () => {
    const d = native.describeState(golden('v1.0-unknown-optional.bin'));
    const base = native.describeState(golden('v1.0-probe-1vcpu.bin'));
    assert.deepEqual(d.sections, base.sections);
    assert.equal(walk(golden('v1.0-unknown-optional.bin')).sections.at(-1)?.name, 'future.optional');
  });

  it('refuses an unknown mandatory section, naming it', () => {
    assert.throws(() => native.describeState(golden('v1.0-unknown-mandatory.bin')),
      /state section 'future\.mandatory' \(version 1\) is mandatory but unknown to this roam/);
  });

  it('reads a newer minor version and refuses a newer major one', () => {
    const d = native.describeState(golden('v1.7-newer-minor.bin'));
    assert.equal(d.major, 1);
    assert.equal(d.minor, 7);
    assert.throws(() => native.describeState(golden('v2.0-newer-major.bin')),
      /state format 2\.0 is newer than this roam \(1\.x\)/);
  });

  it('reports truncation with the byte and the section where the data ends', () => {
    const buf = golden('v1.0-probe-1vcpu.bin');
    const lapic = section(buf, 'vcpu.0.lapic');
    const cut = lapic.payloadStart + 100;
    assert.throws(() => native.describeState(buf.subarray(0, cut)),
      new RegExp(`state truncated at byte ${cut} in section 'vcpu\\.0\\.lapic' \\(the header says ${buf.length} bytes\\)`));
    assert.throws(() => native.describeState(buf.subarray(0, 20)), /state truncated at byte 20 in the header/);
    // Cut exactly between two sections: the next one is missing.
    const last = walk(buf).sections.at(-1)!;
    assert.throws(() => native.describeState(buf.subarray(0, last.start)),
      new RegExp(`state truncated at byte ${last.start} in section #${walk(buf).sections.length}`));
    assert.throws(() => native.describeState(buf.subarray(0, buf.length - 1)), /state truncated at byte/);
  });

  it('detects a flipped byte anywhere: in a payload, a length, the header', () => {
    const buf = golden('v1.0-probe-1vcpu.bin');
    const regs = section(buf, 'vcpu.0.regs');
    const flipped = Buffer.from(buf);
    flipped[regs.payloadStart + 7]! ^= 0x01;
    assert.throws(() => native.describeState(flipped), /state section 'vcpu\.0\.regs' is corrupt \(checksum mismatch/);
    // Every single-bit flip in a whole section record is caught (CRC-32 catches all of them).
    const events = section(buf, 'vcpu.0.events');
    for (let at = events.start; at < events.end; at++) {
      const b = Buffer.from(buf);
      b[at]! ^= 0x10;
      assert.throws(() => native.describeState(b), /corrupt|truncated|unknown|malformed/, `flip at ${at}`);
    }
    // A damaged length field in a file of the right size is corruption, not truncation.
    const longer = Buffer.from(buf);
    longer[regs.payloadStart - 2]! ^= 0x01;   // a high byte of the payload length
    assert.throws(() => native.describeState(longer), /state section 'vcpu\.0\.regs' is corrupt: it runs past the end of the file/);
    const header = Buffer.from(buf);
    header[25]! ^= 0x01;   // section count
    assert.throws(() => native.describeState(header), /state header is corrupt \(checksum mismatch\)/);
  });

  it('refuses what is not a state file, trailing bytes, and a non-buffer argument', () => {
    assert.throws(() => native.describeState(Buffer.from('hello, world, this is not a state')), /not a roam state file/);
    assert.throws(() => native.describeState(Buffer.alloc(0)), /not a roam state file/);
    const buf = golden('v1.0-probe-1vcpu.bin');
    assert.throws(() => native.describeState(Buffer.concat([buf, Buffer.alloc(3)])), /3 bytes after its end/);
    assert.throws(() => native.describeState('ROAMVMST' as unknown as Buffer), TypeError);
  });
});
