// The VMs this roamd runs, each in its own VM process (node/vm-host). A VM
// process that crashes is recorded as 'crashed' with the reason and its
// console log kept; nothing else is affected. Serial output goes to a log file
// per VM and to live console subscribers, with a bounded backlog in memory.
import { EventEmitter } from 'node:events';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { VmProcess } from '../vm-host/index.js';
import { HeartbeatWatcher, type Heartbeat } from '../../guest/index.js';

export type VmState = 'starting' | 'running' | 'crashed' | 'failed' | 'stopped';

export interface RunSpec { name: string; guest: string; kernelPath: string; cmdline: string; memBytes: number; vcpus: number }

export interface VmStatus {
  name: string; guest: string; state: VmState; pid: number; memBytes: number; vcpus: number;
  startedAt: string; message: string | null; log: string; lastHeartbeat: Heartbeat | null;
  /** The probe guest's heartbeat as seen here: first seq, and seq jumps or repeats (lost or replayed time). */
  heartbeats: { first: number | null; count: number; gaps: number; repeats: number };
}

const BACKLOG_BYTES = 64 * 1024;
const MAX_VMS = 64;

export class SupervisedVm extends EventEmitter {
  state: VmState = 'starting';
  message: string | null = null;
  lastHeartbeat: Heartbeat | null = null;
  private firstSeq: number | null = null;
  readonly startedAt = new Date();
  private backlog: Buffer[] = [];
  private backlogBytes = 0;
  private readonly watcher = new HeartbeatWatcher();
  private readonly log: WriteStream;

  constructor(readonly spec: RunSpec, readonly vmp: VmProcess, readonly logPath: string) {
    super();
    this.log = createWriteStream(logPath, { flags: 'a', mode: 0o600 });
    this.log.on('error', () => { /* a full disk must not take roamd down; the console still streams */ });
    this.watcher.on('heartbeat', (hb: Heartbeat) => { this.lastHeartbeat = hb; this.firstSeq ??= hb.seq; });
    vmp.on('serial', (data: Buffer) => this.onSerial(data));
    vmp.on('vm-error', (m: string) => this.fail('failed', `the VM stopped: ${m}`));
    vmp.on('shutdown', () => this.fail('stopped', 'the guest shut down'));
    vmp.on('exit', (x: { expected: boolean; message: string }) => {
      if (!x.expected) this.fail('crashed', x.message);
      else if (this.state === 'running' || this.state === 'starting') this.fail('stopped', x.message);
      this.log.end();
    });
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
      vcpus: this.spec.vcpus, startedAt: this.startedAt.toISOString(), message: this.message, log: this.logPath,
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
    const vmp = await VmProcess.spawn();
    const vm = new SupervisedVm(spec, vmp, join(this.dir, `${spec.name}.log`));
    this.vms.set(spec.name, vm);
    vm.on('state', () => this.emit('change'));
    try {
      await vmp.request({ op: 'create', memBytes: spec.memBytes, vcpus: spec.vcpus });
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
    this.emit('change');
    return vm.status();
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
