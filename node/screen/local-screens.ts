// The screens of the VMs this machine runs, one LocalScreen per VM, opened on
// first use. roamd's VM supervisor is the authority on what runs here: when a
// VM leaves it (released after a migration commit) its screen ends as 'moved';
// when it stops or crashes, as 'absent'. Viewers then follow it elsewhere.
import { LocalScreen } from './local-screen.js';
import { ViewEnded } from './types.js';
import { openVmDisplay, type VmDisplay } from './vm-display.js';
import type { VmProcess } from '../vm-host/index.js';

/** A VM as roamd's supervisor holds it (SupervisedVm). */
export interface LocalVm { readonly state: string; readonly vmp: VmProcess }

/** The part of roamd's VmSupervisor the screen service reads. */
export interface LocalVms {
  get(name: string): LocalVm | undefined;
  on(event: 'change', fn: () => void): unknown;
  off(event: 'change', fn: () => void): unknown;
}

export type OpenDisplay = (vm: LocalVm) => Promise<VmDisplay | string>;

const ALIVE = new Set(['starting', 'running', 'paused']);

export function isAlive(vm: LocalVm | undefined): vm is LocalVm { return vm !== undefined && ALIVE.has(vm.state); }

interface Entry { vm: LocalVm; screen: Promise<LocalScreen | ViewEnded> }

export class LocalScreens {
  private readonly entries = new Map<string, Entry>();
  private readonly onChange = () => this.check();
  private closed = false;

  constructor(private readonly self: string, private readonly vms: LocalVms, private readonly open: OpenDisplay = (vm) => openVmDisplay(vm.vmp)) {
    vms.on('change', this.onChange);
  }

  /** Whether a VM of that name runs (or is paused) here. */
  has(name: string): boolean { return isAlive(this.vms.get(name)); }

  /** The VM's screen here, or why there is none. */
  async screen(name: string): Promise<LocalScreen | ViewEnded> {
    if (this.closed) return new ViewEnded('absent', 'the screen service is closing');
    const vm = this.vms.get(name);
    if (!isAlive(vm)) return new ViewEnded('absent', `no VM named '${name}' runs on ${this.self}`);
    let e = this.entries.get(name);
    if (e && e.vm !== vm) { this.finish(name, e); e = undefined; }
    if (!e) {
      const entry: Entry = { vm, screen: this.openScreen(vm) };
      this.entries.set(name, entry);
      e = entry;
      // A VM without a display may get one later only as another VM; do not keep the refusal.
      e.screen.then((s) => { if (!(s instanceof LocalScreen) && this.entries.get(name) === entry) this.entries.delete(name); });
    }
    const s = await e.screen;
    if (s instanceof LocalScreen && s.ended) {
      // It ended on its own (its VM process stopped answering for a while) while the VM still runs: start afresh.
      if (this.entries.get(name) === e && isAlive(this.vms.get(name)) && this.vms.get(name) === e.vm) { this.entries.delete(name); return this.screen(name); }
      return s.endedReason()!;
    }
    return s;
  }

  close(): void {
    this.closed = true;
    this.vms.off('change', this.onChange);
    for (const [name, e] of this.entries) this.finish(name, e, new ViewEnded('absent', 'the screen service is closing'));
  }

  private async openScreen(vm: LocalVm): Promise<LocalScreen | ViewEnded> {
    let d: VmDisplay | string;
    try { d = await this.open(vm); } catch (e) { d = `its display could not be opened: ${(e as Error).message}`; }
    if (typeof d === 'string') return new ViewEnded('absent', d);
    const s = new LocalScreen(this.self, d);
    // The VM process may have ended while we asked it.
    if (!isAlive(vm) || this.closed) s.end(this.endFor(vm));
    return s;
  }

  /** After every supervisor change: screens of VMs that left or stopped end, and say which. */
  private check(): void {
    for (const [name, e] of this.entries) {
      const now = this.vms.get(name);
      if (now === e.vm && isAlive(now)) continue;
      this.finish(name, e);
    }
  }

  private finish(name: string, e: Entry, why?: ViewEnded): void {
    if (this.entries.get(name) === e) this.entries.delete(name);
    const reason = why ?? this.endFor(e.vm);
    void e.screen.then((s) => { if (s instanceof LocalScreen) s.end(reason); });
  }

  /** A VM the supervisor let go while it still ran was handed to another member (migration commit). */
  private endFor(vm: LocalVm): ViewEnded {
    return ALIVE.has(vm.state)
      ? new ViewEnded('moved', `the VM left ${this.self}`)
      : new ViewEnded('absent', `the VM is ${vm.state} on ${this.self}`);
  }
}
