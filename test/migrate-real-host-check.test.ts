// The destination's VmProcessHost decides from the hello alone whether it can host a VM:
// CPU features it lacks, RAM it cannot give, devices it has no model for, or a RAM layout
// its VMM would not make are refused with the reason; a spec it can run is accepted.
import assert from 'node:assert/strict';
import type { VmSpec } from '../migrate/index.js';
import { VmProcessHost, hostCpuFeatures, ramLayout } from '../node/vm-host/index.js';

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
    assert.match((host.check(moved) as { reason: string }).reason, /RAM layout .* is not the one this VMM makes/);
    assert.match((host.check(spec({ memBytes: 3 * 2 ** 20, slots: ramLayout(3 * 2 ** 20) })) as { reason: string }).reason, /multiple of 2 MiB/);
  });

  it('by default offers this machine\'s own CPU features (a VM started here is accepted here)', () => {
    const local = new VmProcessHost({ maxMemBytes: 8 * GiB });
    assert.deepEqual(local.check(spec({ cpuFeatures: hostCpuFeatures() })), { ok: true });
  });
});
