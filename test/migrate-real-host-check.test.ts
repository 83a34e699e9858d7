// The destination's VmProcessHost decides from the hello alone whether it can host a VM:
// CPU features it lacks, RAM it cannot give, devices it has no model for, or a memory layout
// its VMM would not make (with or without the display's framebuffer slot) are refused with
// the reason; a spec it can run is accepted.
import assert from 'node:assert/strict';
import type { VmSpec } from '../migrate/index.js';
import { BASE_DEVICES, DISPLAY_DEVICE, FRAMEBUFFER_SLOT, VmProcessHost, hostCpuFeatures, ramLayout, vmLayout } from '../node/vm-host/index.js';

const GiB = 2 ** 30;

function spec(over: Partial<VmSpec> = {}): VmSpec {
  const memBytes = over.memBytes ?? 128 * 2 ** 20;
  return { id: 'vm1', generation: 1, vcpus: 1, memBytes, slots: ramLayout(memBytes), cpuFeatures: ['lm', 'nx'], devices: ['uart8250', 'i8042'], ...over };
}

describe('VmProcessHost.check (destination admission)', () => {
  const host = new VmProcessHost({ maxMemBytes: 8 * GiB, cpuFeatures: ['lm', 'nx', 'sse2'] });

  it('accepts a spec it can run, and lays RAM out around the 3..4 GiB hole like the VMM', () => {
    assert.deepEqual(host.check(spec()), { ok: true });
    assert.deepEqual(ramLayout(6 * GiB), [{ slot: 0, guestPhysAddr: 0, size: 3 * GiB }, { slot: 1, guestPhysAddr: 4 * GiB, size: 3 * GiB }]);
    assert.deepEqual(host.check(spec({ memBytes: 6 * GiB })), { ok: true });
  });

  it('refuses CPU features it lacks, naming them', () => {
    const r = host.check(spec({ cpuFeatures: ['lm', 'avx512f', 'aes'] }));
    assert.equal(r.ok, false);
    assert.match((r as { reason: string }).reason, /lacks features the VM uses: avx512f, aes/);
  });

  it('refuses more RAM than it can give, devices it has no model for, and a foreign layout', () => {
    assert.match((host.check(spec({ memBytes: 16 * GiB })) as { reason: string }).reason, /needs 17179869184 bytes of RAM/);
    assert.match((host.check(spec({ devices: ['uart8250', 'virtio-gpu'] })) as { reason: string }).reason, /no device model for: virtio-gpu/);
    const moved = spec({ slots: [{ slot: 0, guestPhysAddr: 1 << 20, size: 128 * 2 ** 20 }] });
    assert.match((host.check(moved) as { reason: string }).reason, /memory layout .* is not the one this VMM makes/);
    assert.match((host.check(spec({ memBytes: 3 * 2 ** 20, slots: ramLayout(3 * 2 ** 20) })) as { reason: string }).reason, /multiple of 2 MiB/);
  });

  it('accepts the framebuffer slot exactly when the spec asks for a display', () => {
    const MiB = 2 ** 20;
    const withDisplay = (over: Partial<VmSpec> = {}) => spec({ slots: vmLayout(128 * MiB, true), devices: [...BASE_DEVICES, DISPLAY_DEVICE], ...over });
    assert.deepEqual(vmLayout(128 * MiB, true).at(-1), { slot: 2, guestPhysAddr: 0xe000_0000, size: 3 * MiB, kind: 'framebuffer' });
    assert.deepEqual(host.check(withDisplay()), { ok: true });
    assert.deepEqual(host.check(withDisplay({ memBytes: 6 * GiB, slots: vmLayout(6 * GiB, true) })), { ok: true }, 'RAM above the hole, framebuffer inside it');
    const refused = (s: VmSpec) => (host.check(s) as { reason: string }).reason;
    // Asks for a display, but the layout has no framebuffer slot (or a different one): nothing may land outside what this VMM makes.
    assert.match(refused(withDisplay({ slots: ramLayout(128 * MiB) })), /memory layout .* with a display/);
    assert.match(refused(withDisplay({ slots: [...ramLayout(128 * MiB), { ...FRAMEBUFFER_SLOT, guestPhysAddr: 0xd000_0000 }] })), /with a display/);
    assert.match(refused(withDisplay({ slots: [...ramLayout(128 * MiB), { ...FRAMEBUFFER_SLOT, size: 8 * MiB }] })), /with a display/);
    assert.match(refused(withDisplay({ slots: [...ramLayout(128 * MiB), { ...FRAMEBUFFER_SLOT, kind: 'ram' }] })), /with a display/);
    // A framebuffer slot without the display device: refused too.
    assert.match(refused(spec({ slots: vmLayout(128 * MiB, true) })), /memory layout .* without a display/);
    // A RAM spec that names its slots' kind explicitly (as a VM process reports them) is the same layout.
    assert.deepEqual(host.check(spec({ slots: ramLayout(128 * MiB).map((s) => ({ ...s, kind: 'ram' as const })) })), { ok: true });
  });

  it('by default offers this machine\'s own CPU features (a VM started here is accepted here)', () => {
    const local = new VmProcessHost({ maxMemBytes: 8 * GiB });
    assert.deepEqual(local.check(spec({ cpuFeatures: hostCpuFeatures() })), { ok: true });
  });
});
