// VMs parked on disk when a lid hand-off could not finish in its budget: the
// VM is paused and written whole (node/vm-host image: sparse, checksummed,
// atomic), then its process goes, so the laptop can sleep with nothing lost.
// When the lid opens (or roamd starts again) each parked VM is restored into a
// new VM process and supervised again; its image goes only once it runs.
import { existsSync, mkdirSync, readdirSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { readJson, writeJsonAtomic } from './files.js';
import type { RunSpec, VmSupervisor } from './vm-supervisor.js';

export interface ParkedVm { spec: RunSpec; savedAt: string; why: string; image: string; bytes: number }

const META = '.parked.json';
const MAX_PARKED = 64;

export class ParkedVms {
  constructor(readonly dir: string) {}

  private meta(name: string): string { return join(this.dir, `${name}${META}`); }
  private image(name: string): string { return join(this.dir, `${name}.img`); }

  list(): ParkedVm[] {
    if (!existsSync(this.dir)) return [];
    const out: ParkedVm[] = [];
    for (const f of readdirSync(this.dir).filter((x) => x.endsWith(META)).sort().slice(0, MAX_PARKED)) {
      try { out.push(readJson<ParkedVm>(join(this.dir, f), undefined as unknown as ParkedVm)); } catch { /* a damaged record is reported by resume */ }
    }
    return out;
  }

  /**
   * Pauses the VM, writes it to disk and stops its process. On any failure the
   * VM is resumed and stays supervised (it then sleeps in RAM with the laptop).
   */
  async park(vms: VmSupervisor, name: string, why: string): Promise<ParkedVm> {
    const vm = vms.get(name);
    if (!vm) throw new Error(vms.unknown(name));
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const image = this.image(name);
    let bytes: number;
    try {
      ({ bytes } = await vm.vmp.request({ op: 'saveToFile', path: image }));
    } catch (e) {
      await vm.vmp.request({ op: 'resume' }).catch(() => undefined);
      throw new Error(`could not save VM '${name}' to ${image}: ${(e as Error).message}; it keeps running here`);
    }
    const parked: ParkedVm = { spec: { ...vm.spec }, savedAt: new Date().toISOString(), why, image, bytes };
    // The record is written after the image is durable, and before the process goes.
    writeJsonAtomic(this.meta(name), parked);
    await vms.stop(name);
    return parked;
  }

  /** Restores one parked VM and hands it to the supervisor; the image is deleted once the VM runs. */
  async resume(vms: VmSupervisor, p: ParkedVm): Promise<void> {
    const name = p.spec.name;
    if (vms.get(name)) throw new Error(`a VM named '${name}' already runs here; its parked image stays at ${p.image}`);
    // Detached like every VM roamd supervises, so a resumed VM also outlives a roamd restart.
    const vmp = await vms.spawnForAdoption();
    let display: boolean;
    try {
      await vmp.request({ op: 'restoreFromFile', path: p.image });
      // The image says whether the VM has a screen (a record from before screens does not).
      display = (await vmp.request({ op: 'info' })).display !== null;
    } catch (e) {
      await vmp.close();
      throw new Error(`could not resume VM '${name}' from ${p.image}: ${(e as Error).message}; the image is kept`);
    }
    // Supervised before it runs, so its first console line after the restore is seen.
    vms.adopt({ ...p.spec, display, guest: `${p.spec.guest.replace(/ \(resumed from disk\)$/, '')} (resumed from disk)` }, vmp);
    try {
      await vmp.request({ op: 'start' });
    } catch (e) {
      await vms.stop(name).catch(() => undefined);
      throw new Error(`could not start VM '${name}' restored from ${p.image}: ${(e as Error).message}; the image is kept`);
    }
    for (const f of [this.meta(name), p.image]) { try { unlinkSync(f); } catch { /* already gone */ } }
  }
}
