// roamd's live migration: migrate/'s pre-copy sender and receiver over the VM
// processes roamd supervises. A VM booted here is attached (its RAM mapped
// into roamd) the first time it is sent; a VM that arrived keeps the handle it
// arrived with, so its pages written since arrival make the way back cheap.
import { join } from 'node:path';
import type { Stream } from '@libp2p/interface';
import { KeptImages, MigrationError, MigrationReceiver, sendVm, slotPages, type IncomingVm, type MigrationStats, type Progress, type VmHost } from '../../migrate/index.js';
import { MigratableVm, VmProcessHost, specHasDisplay } from '../vm-host/index.js';
import type { MigrationPeer, MigrationService } from './migration.js';
import type { VmSupervisor } from './vm-supervisor.js';
import type { HomeSyncProgress, HomeSyncReport } from './home-service.js';
import { followHome } from './handoff-follow.js';

/** Images of VMs that left, kept for their return (sparse files; the budget bounds what they may allocate). */
const KEPT_BUDGET_BYTES = 8 * 2 ** 30;

/** The part of roamd the service needs. */
export interface MigrationHostSide {
  readonly vms: VmSupervisor;
  readonly paths: { state: string };
  /** The home store, when this roamd keeps one: "follow me" hands its snapshot to the target first. */
  readonly home?: { bringPeerUpToDate(peer: string, onProgress?: (p: HomeSyncProgress) => void): Promise<HomeSyncReport> } | undefined;
  readonly homeProblem?: string;
  log(line: string): void;
}

/** A send as roamd asks for it, plus what the lid hand-off adds: a cancel signal and a pre-copy deadline. */
export type SendRequest = Parameters<MigrationService['send']>[0] & { signal?: AbortSignal; deadlineMs?: number };

/** What `roam send` shows while a VM moves (one control-socket event per update). */
export interface SendProgressEvent {
  phase: Progress['phase'];
  round: number;
  percent: number;
  bytesSent: number;
  bytesPerSec: number;
  etaMs: number;
  predictedDowntimeMs: number;
  throttle: number;
}

export class VmMigrationService implements MigrationService {
  private readonly kept: KeptImages;
  private readonly receiver: MigrationReceiver;
  /** Handles of VMs that can be sent from here, by VM name. */
  private readonly handles = new Map<string, MigratableVm>();
  /** Names of the members whose streams are being received, by peer id (for logs and `roam ps`). */
  private readonly senders = new Map<string, string>();

  constructor(private readonly roamd: MigrationHostSide) {
    this.kept = new KeptImages(join(roamd.paths.state, 'kept-images'), KEPT_BUDGET_BYTES);
    // Arriving VMs run detached like those started here, so they too outlive a roamd restart.
    // Console output of an arriving VM is kept from the moment its process exists, so the first bytes it
    // prints after commit (often the rest of a line begun on the source) reach its log and watcher.
    const vmHost = new VmProcessHost({ spawn: () => roamd.vms.spawnForAdoption(), onCreated: (vm) => this.holdConsole(vm) });
    // A VM may arrive only under a name no VM here already has.
    const host: VmHost = {
      check: (spec) => roamd.vms.get(spec.id) ? { ok: false, reason: `a VM named '${spec.id}' already runs on this machine` } : vmHost.check(spec),
      createPaused: (spec) => vmHost.createPaused(spec),
    };
    this.receiver = new MigrationReceiver({ host, kept: this.kept, onArrived: (vm, info) => this.adopt(vm, info.peer) });
  }

  async receive(stream: Stream, from: MigrationPeer): Promise<void> {
    this.senders.set(from.peerId, from.name);
    await this.receiver.handle(stream, from.peerId);
  }

  /** Console bytes of VMs being received, held until they are adopted (or discarded with their process). */
  private readonly heldConsole = new Map<MigratableVm, { chunks: Buffer[]; stop: () => void }>();

  private holdConsole(vm: MigratableVm): void {
    const chunks: Buffer[] = [];
    const onSerial = (d: Buffer) => { chunks.push(d); };
    const stop = () => { vm.process.off('serial', onSerial); this.heldConsole.delete(vm); };
    vm.process.on('serial', onSerial);
    vm.process.once('exit', stop);
    this.heldConsole.set(vm, { chunks, stop });
  }

  private adopt(incoming: IncomingVm, peer: string | undefined): void {
    const vm = incoming as MigratableVm;
    const name = vm.spec.id;
    const held = this.heldConsole.get(vm);
    held?.stop();
    const from = (peer && this.senders.get(peer)) ?? 'another machine';
    this.handles.set(name, vm);
    vm.process.once('exit', () => { if (this.handles.get(name) === vm) this.handles.delete(name); });
    this.roamd.vms.adopt({
      name, guest: `arrived from ${from}`, kernelPath: '', cmdline: '', memBytes: vm.spec.memBytes, vcpus: vm.spec.vcpus,
      display: specHasDisplay(vm.spec),
    }, vm.process);
    // Same tick as the adoption: nothing printed since can overtake what was held.
    if (held) this.roamd.vms.get(name)?.feed(Buffer.concat(held.chunks));
    this.roamd.log(`VM '${name}' (generation ${vm.spec.generation}) arrived from ${from} and runs here`);
  }

  private async handleFor(name: string): Promise<MigratableVm> {
    const known = this.handles.get(name);
    if (known && known.process.alive) return known;
    const supervised = this.roamd.vms.get(name);
    if (!supervised) throw new Error(this.roamd.vms.unknown(name));
    const vm = await MigratableVm.attach(supervised.vmp, { id: name, generation: 1 });
    this.handles.set(name, vm);
    supervised.vmp.once('exit', () => { if (this.handles.get(name) === vm) this.handles.delete(name); });
    return vm;
  }

  async send(req: SendRequest): Promise<Record<string, unknown>> {
    const name = req.vm.spec.name;
    // Follow me: the target holds this machine's home before the VM moves, so it is self-sufficient
    // once the send reports success. A failure here leaves the VM running here, untouched.
    const home = await followHome(this.roamd, req.to.name, { onProgress: req.onProgress, signal: req.signal });
    const vm = await this.handleFor(name);
    // Every slot travels (RAM and a framebuffer), so progress counts them all.
    const totalPages = vm.spec.slots.reduce((n, s) => n + slotPages(s), 0);
    let percent = 0;
    const onProgress = (p: Progress) => {
      // Percent of memory already on the far side; never goes back, even as new pages get dirty.
      percent = Math.max(percent, p.phase === 'done' ? 100 : Math.min(99, 100 * (1 - p.pagesLeft / totalPages)));
      const ev: SendProgressEvent = {
        phase: p.phase, round: p.round, percent, bytesSent: p.bytesSent, bytesPerSec: p.bandwidthBytesPerSec,
        etaMs: p.etaMs, predictedDowntimeMs: p.predictedDowntimeMs, throttle: p.throttle,
      };
      req.onProgress?.({ ...ev });
    };
    this.roamd.log(`sending VM '${name}' to ${req.to.name}`);
    let stats: MigrationStats;
    try {
      stats = await sendVm({
        vm, openStream: req.open, keep: this.kept, onProgress,
        ...(req.signal ? { signal: req.signal } : {}), ...(req.deadlineMs ? { deadlineMs: req.deadlineMs } : {}),
      });
    } catch (e) {
      const where = e instanceof MigrationError ? e.vmState : 'running-here';
      this.roamd.log(`sending VM '${name}' to ${req.to.name} failed (${where}): ${(e as Error).message}`);
      throw e;
    }
    // It runs on the destination now: this copy goes (its image stays kept for a return trip).
    // The last heartbeat seen here lets anyone check the guest's sequence continues there.
    const lastHeartbeatHere = this.roamd.vms.get(name)?.lastHeartbeat ?? null;
    this.handles.delete(name);
    this.roamd.vms.release(name);
    await vm.release();
    this.roamd.log(`VM '${name}' now runs on ${req.to.name}: ${stats.totalMs} ms, downtime ${stats.downtimeMs} ms, ${stats.wireBytes} bytes in ${stats.rounds} rounds`);
    return { vm: name, to: req.to.name, lastHeartbeatHere, home, ...stats };
  }

  close(): void {
    this.receiver.close();
  }
}
