// The VMs this roamd runs, each in its own VM process (node/vm-host). A VM
// process that crashes is recorded as 'crashed' with the reason and its
// console log kept; nothing else is affected. Serial output goes to a log file
// per VM and to live console subscribers, with a bounded backlog in memory.
//
// VM processes run detached (own session, socket `<dir>/<name>.sock`) and keep
// the RunSpec as metadata, so they outlive roamd: on exit roamd detaches from
// them (detachAll), and a restarted roamd finds them again (reattach). Only
// `roam stop` (stop) or an explicit stopAll ends them.
import { EventEmitter } from 'node:events';
import { createWriteStream, mkdirSync, readdirSync, unlinkSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { VmProcess, provisionalName, type VmMeta } from '../vm-host/index.js';
import { HeartbeatWatcher, type Heartbeat } from '../../guest/index.js';

/** 'paused': found paused when roamd re-attached (e.g. its roamd died mid-migration). */
export type VmState = 'starting' | 'running' | 'paused' | 'crashed' | 'failed' | 'stopped';

/** `display` (default true): the VM gets a framebuffer screen and PS/2 keyboard and mouse input. */
export interface RunSpec { name: string; guest: string; kernelPath: string; cmdline: string; memBytes: number; vcpus: number; display?: boolean }

export interface VmStatus {
  name: string; guest: string; state: VmState; pid: number; memBytes: number; vcpus: number;
  /** Whether the VM has a screen (a framebuffer its guest draws on). */
  display: boolean;
  startedAt: string; message: string | null; log: string; lastHeartbeat: Heartbeat | null;
  /** The probe guest's heartbeat as seen here: first seq, and seq jumps or repeats (lost or replayed time). */
  heartbeats: { first: number | null; count: number; gaps: number; repeats: number };
}

const BACKLOG_BYTES = 64 * 1024;
const MAX_VMS = 64;

/** What a VM process keeps for the next roamd: the RunSpec and when it started. */
function metaOf(spec: RunSpec, startedAt: Date): VmMeta {
  return { roam: 1, name: spec.name, guest: spec.guest, kernelPath: spec.kernelPath, cmdline: spec.cmdline,
    memBytes: spec.memBytes, vcpus: spec.vcpus, display: spec.display !== false, startedAt: startedAt.toISOString() };
}

/** The RunSpec back from a VM process's metadata, or undefined when it holds none we can trust. */
function specOf(meta: VmMeta | null): { spec: RunSpec; startedAt: Date } | undefined {
  if (!meta || meta.roam !== 1) return undefined;
  const { name, guest, kernelPath, cmdline, memBytes, vcpus, display, startedAt } = meta;
  if (typeof name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name)) return undefined;
  if (typeof guest !== 'string' || typeof kernelPath !== 'string' || typeof cmdline !== 'string') return undefined;
  if (typeof memBytes !== 'number' || !Number.isSafeInteger(memBytes) || memBytes <= 0) return undefined;
  if (typeof vcpus !== 'number' || !Number.isSafeInteger(vcpus) || vcpus <= 0) return undefined;
  const at = new Date(typeof startedAt === 'string' ? startedAt : NaN);
  // Metadata without `display` was left by a roamd from before VMs had screens: that VM has none.
  if (display !== undefined && typeof display !== 'boolean') return undefined;
  return { spec: { name, guest, kernelPath, cmdline, memBytes, vcpus, display: display === true }, startedAt: Number.isNaN(at.getTime()) ? new Date() : at };
}

export class SupervisedVm extends EventEmitter {
  state: VmState = 'starting';
  message: string | null = null;
  lastHeartbeat: Heartbeat | null = null;
  private firstSeq: number | null = null;
  readonly startedAt: Date;
  private backlog: Buffer[] = [];
  private backlogBytes = 0;
  private readonly watcher = new HeartbeatWatcher();
  private readonly log: WriteStream;

  constructor(readonly spec: RunSpec, readonly vmp: VmProcess, readonly logPath: string, startedAt = new Date()) {
    super();
    this.startedAt = startedAt;
    this.log = createWriteStream(logPath, { flags: 'a', mode: 0o600 });
    this.log.on('error', () => { /* a full disk must not take roamd down; the console still streams */ });
    this.watcher.on('heartbeat', (hb: Heartbeat) => { this.lastHeartbeat = hb; this.firstSeq ??= hb.seq; });
    vmp.on('serial', (data: Buffer) => this.onSerial(data));
    vmp.on('vm-error', (m: string) => this.fail('failed', `the VM stopped: ${m}`));
    vmp.on('shutdown', () => this.fail('stopped', 'the guest shut down'));
    vmp.on('exit', (x: { expected: boolean; message: string }) => {
      if (!x.expected) this.fail('crashed', x.message);
      else if (this.state === 'running' || this.state === 'starting' || this.state === 'paused') this.fail('stopped', x.message);
      this.log.end();
    });
  }

  /** Lets go of the VM process and leaves it running (roamd exiting). */
  async detach(): Promise<void> {
    await this.vmp.detach();
    this.log.end();
  }

  /** Console output the VM process kept while no roamd was attached: logged and watched like live output. */
  feed(data: Buffer): void {
    if (data.length) this.onSerial(data);
  }

  /** Recent console output, then live output until the returned function is called. */
  subscribe(onData: (b: Buffer) => void): () => void {
    for (const b of this.backlog) onData(b);
    this.on('serial', onData);
    return () => this.off('serial', onData);
  }

  status(): VmStatus {
    return {
      name: this.spec.name, guest: this.spec.guest, state: this.state, pid: this.vmp.pid, memBytes: this.spec.memBytes,
      vcpus: this.spec.vcpus, display: this.spec.display !== false, startedAt: this.startedAt.toISOString(), message: this.message, log: this.logPath,
      lastHeartbeat: this.lastHeartbeat,
      heartbeats: { first: this.firstSeq, count: this.watcher.heartbeats, gaps: this.watcher.gaps, repeats: this.watcher.repeats },
    };
  }

  private onSerial(data: Buffer): void {
    this.log.write(data);
    this.watcher.push(data);
    this.backlog.push(data); this.backlogBytes += data.length;
    while (this.backlogBytes > BACKLOG_BYTES && this.backlog.length > 1) this.backlogBytes -= this.backlog.shift()!.length;
    this.emit('serial', data);
  }

  fail(state: VmState, message: string): void {
    if (this.state === 'crashed' || this.state === 'failed' || this.state === 'stopped') return;
    this.state = state; this.message = message;
    this.emit('state', state);
  }
}

export class VmSupervisor extends EventEmitter {
  private readonly vms = new Map<string, SupervisedVm>();

  constructor(private readonly dir: string) { super(); mkdirSync(dir, { recursive: true, mode: 0o700 }); }

  names(): string[] { return [...this.vms.keys()].sort(); }
  get(name: string): SupervisedVm | undefined { return this.vms.get(name); }
  list(): VmStatus[] { return this.names().map((n) => this.vms.get(n)!.status()); }

  async run(spec: RunSpec): Promise<VmStatus> {
    if (this.vms.has(spec.name)) throw new Error(`a VM named '${spec.name}' already exists here; pick another --name or \`roam stop ${spec.name}\` first`);
    if (this.vms.size >= MAX_VMS) throw new Error(`this roamd already supervises ${MAX_VMS} VMs`);
    let vmp: VmProcess;
    try {
      vmp = await VmProcess.spawn({ socketDir: this.dir, name: spec.name, detached: true });
    } catch (e) {
      this.vms.delete(spec.name);
      throw new Error(`could not start VM '${spec.name}': ${(e as Error).message}`);
    }
    const vm = new SupervisedVm(spec, vmp, join(this.dir, `${spec.name}.log`));
    this.vms.set(spec.name, vm);
    vm.on('state', () => this.emit('change'));
    try {
      // First of all the VM process learns who it is: a roamd that dies from here on is followed by one that can adopt it.
      await vmp.request({ op: 'setMeta', meta: metaOf(spec, vm.startedAt) });
      await vmp.request({ op: 'create', memBytes: spec.memBytes, vcpus: spec.vcpus, display: spec.display !== false });
      await vmp.request({ op: 'loadMultiboot', kernelPath: spec.kernelPath, cmdline: spec.cmdline });
      await vmp.request({ op: 'start' });
      if (vm.state === 'starting') vm.state = 'running';
    } catch (e) {
      // Nothing half-made stays behind: the VM process goes and the name is free again.
      this.vms.delete(spec.name);
      await vmp.close();
      throw new Error(`could not start VM '${spec.name}': ${(e as Error).message}`);
    }
    this.emit('change');
    return vm.status();
  }

  /**
   * Takes over a VM that arrived by migration (already running in `vmp`), so it
   * is listed, logged and supervised like one started here.
   */
  adopt(spec: RunSpec, vmp: VmProcess): VmStatus {
    if (this.vms.has(spec.name)) throw new Error(`a VM named '${spec.name}' already exists here`);
    const vm = new SupervisedVm(spec, vmp, join(this.dir, `${spec.name}.log`));
    vm.state = vmp.alive ? 'running' : 'crashed';
    this.vms.set(spec.name, vm);
    vm.on('state', () => this.emit('change'));
    // So that it, too, is found again by a restarted roamd (a VM process without metadata is not adopted).
    vmp.request({ op: 'setMeta', meta: metaOf(spec, vm.startedAt) }).catch(() => undefined);
    this.emit('change');
    return vm.status();
  }

  /**
   * A VM process for a VM that will be adopt()ed (arriving by migration, resumed from disk):
   * detached in this supervisor's directory like the others, so it too outlives roamd. Use this,
   * not VmProcess.spawn(), for anything roamd supervises: a non-detached one ends with roamd.
   */
  spawnForAdoption(): Promise<VmProcess> {
    return VmProcess.spawn({ socketDir: this.dir, name: provisionalName('adopting'), detached: true });
  }

  /**
   * Finds the VM processes a previous roamd left running (`<dir>/*.sock`) and adopts each that
   * answers with its metadata. A socket nobody answers on is stale and removed; a VM process
   * without metadata never got to run a guest and is closed.
   */
  async reattach(log: (line: string) => void): Promise<void> {
    let files: string[];
    try { files = readdirSync(this.dir).filter((f) => f.endsWith('.sock')).sort(); } catch { return; }
    for (const f of files) {
      const path = join(this.dir, f);
      let vmp: VmProcess;
      try {
        vmp = await VmProcess.attach(path);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ECONNREFUSED' || code === 'ENOENT') {
          try { unlinkSync(path); } catch { /* gone already */ }
          log(`removed stale VM socket ${path} (no VM process behind it)`);
        } else {
          log(`left VM socket ${path} alone: ${(e as Error).message}`);
        }
        continue;
      }
      const found = specOf(vmp.meta);
      if (!found) {
        log(`VM process ${vmp.pid} at ${path} holds no VM description (it never started a guest); closing it`);
        await vmp.close();
        continue;
      }
      const { spec, startedAt } = found;
      if (this.vms.has(spec.name) || this.vms.size >= MAX_VMS) {
        log(`VM process ${vmp.pid} at ${path} says it is '${spec.name}', which ${this.vms.has(spec.name) ? 'another VM here is already called' : 'is one too many'}; leaving it running, unsupervised`);
        await vmp.detach();
        continue;
      }
      const vm = new SupervisedVm(spec, vmp, join(this.dir, `${spec.name}.log`), startedAt);
      const st = vmp.hostStatus;
      if (st?.failure) vm.fail('failed', st.failure);
      else if (!st?.present) vm.fail('failed', 'its VM process holds no VM');
      else vm.state = st.running ? 'running' : 'paused';
      vm.feed(vmp.takeBacklog());
      this.vms.set(spec.name, vm);
      vm.on('state', () => this.emit('change'));
      log(`re-attached VM '${spec.name}' (VM process ${vmp.pid}, ${vm.state})`);
    }
    if (this.vms.size) this.emit('change');
  }

  /** Lets go of every VM process and leaves them running (roamd exiting; the next one re-attaches). */
  async detachAll(): Promise<number> {
    const live = [...this.vms.values()].filter((vm) => vm.vmp.alive);
    this.vms.clear();
    await Promise.all(live.map((vm) => vm.detach()));
    return live.length;
  }

  /** Forgets a VM without touching its process (the migration service closes a VM that left). */
  release(name: string): void {
    if (this.vms.delete(name)) this.emit('change');
  }

  /** Stops a running VM (or clears a crashed one) and forgets it. */
  async stop(name: string): Promise<VmStatus> {
    const vm = this.vms.get(name);
    if (!vm) throw new Error(this.unknown(name));
    await vm.vmp.close();
    vm.fail('stopped', 'stopped by request');
    this.vms.delete(name);
    this.emit('change');
    return vm.status();
  }

  unknown(name: string): string {
    const names = this.names();
    return `no VM named '${name}' on this machine; ${names.length ? `VMs here: ${names.join(', ')}` : 'it runs no VMs (start one with `roam run probe`)'}`;
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.vms.values()].map((vm) => vm.vmp.close().catch(() => undefined)));
  }
}
