// The parent's side of a VM process: spawns node/vm-host/main.js, sends
// requests, relays serial output and reports a crash of the child as an
// event — it never takes the parent down.
import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BootInfo } from '../../native/index.js';
import type { VmHostMessage, VmHostRequest, VmInfo, VmRequest } from './protocol.js';

const MAIN = join(dirname(fileURLToPath(import.meta.url)), 'main.js');

export interface VmExit { code: number | null; signal: NodeJS.Signals | null; expected: boolean; message: string }

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void; op: string };

/**
 * Events: 'serial' (Buffer), 'vm-error' (message), 'reset', 'shutdown',
 * 'exit' (VmExit; expected=false means the VM process crashed).
 */
export class VmProcess extends EventEmitter {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private exited: VmExit | undefined;
  private closing = false;

  private constructor(private readonly child: ChildProcess) {
    super();
    child.on('message', (m) => this.onMessage(m as VmHostMessage));
    child.on('exit', (code, signal) => this.onExit(code, signal));
  }

  static spawn(): Promise<VmProcess> {
    const child = fork(MAIN, [], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const proc = new VmProcess(child);
    return new Promise((resolve, reject) => {
      const onReady = (m: VmHostMessage) => { if (m.kind === 'ready') { cleanup(); resolve(proc); } };
      const onExit = () => { cleanup(); reject(new Error(`VM process failed to start: ${proc.exited?.message ?? 'exited'}`)); };
      const cleanup = () => { child.off('message', onReady); proc.off('exit', onExit); };
      child.on('message', onReady);
      proc.on('exit', onExit);
    });
  }

  get pid(): number { return this.child.pid ?? -1; }
  get alive(): boolean { return this.exited === undefined; }

  request(req: { op: 'loadMultiboot'; kernelPath: string; cmdline: string }): Promise<BootInfo>;
  request(req: { op: 'info' }): Promise<VmInfo>;
  request(req: { op: 'saveToFile' | 'restoreFromFile'; path: string }): Promise<{ bytes: number; ms: number }>;
  request(req: { op: 'dirtyLog'; slot: number; clear: boolean }): Promise<Uint8Array>;
  request(req: { op: 'saveState' }): Promise<Uint8Array>;
  request(req: VmRequest): Promise<unknown>;
  request(req: VmRequest): Promise<unknown> {
    if (this.exited) return Promise.reject(new Error(`VM process ${this.pid} is gone: ${this.exited.message}`));
    const id = this.nextId++;
    const msg: VmHostRequest = { kind: 'request', id, req };
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, op: req.op });
      this.child.send(msg);
    });
  }

  /** Asks the VM process to close its VM and exit; resolves when it has. */
  async close(): Promise<void> {
    if (this.exited) return;
    this.closing = true;
    const gone = new Promise<void>((r) => this.once('exit', () => r()));
    try { await this.request({ op: 'close' }); } catch { /* it may die first */ }
    this.child.disconnect?.();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await gone;
    clearTimeout(timer);
  }

  /** Kills the VM process at once (tests, and `roam stop --force`). */
  kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<VmExit> {
    if (this.exited) return Promise.resolve(this.exited);
    this.closing = true;
    const gone = new Promise<VmExit>((r) => this.once('exit', r));
    this.child.kill(signal);
    return gone;
  }

  private onMessage(m: VmHostMessage): void {
    if (m.kind === 'reply') {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.ok) p.resolve(m.value); else p.reject(new Error(m.error));
    } else if (m.kind === 'event') {
      if (m.event === 'serial') this.emit('serial', Buffer.from(m.data));
      else if (m.event === 'error') this.emit('vm-error', m.message);
      else this.emit(m.event);
    }
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null): void {
    const expected = this.closing;
    const how = signal ? `killed by ${signal}` : `exited with code ${code}`;
    const message = expected ? `VM process ${this.pid} ${how}` : `VM process ${this.pid} crashed (${how})`;
    this.exited = { code, signal, expected, message };
    for (const [, p] of this.pending) p.reject(new Error(`${message} during '${p.op}'`));
    this.pending.clear();
    this.emit('exit', this.exited);
  }
}
