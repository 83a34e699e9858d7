// The controller's side of a VM process: spawns node/vm-host/main.js (or
// attaches to one that already runs), sends requests over its unix socket,
// relays serial output and reports the end of the VM process as an event —
// a crash never takes the controller down.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, unlinkSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { BootInfo } from '../../native/index.js';
import { encodeFrame, FrameReader } from './framing.js';
import type { MouseMove, VmHello, VmHostMessage, VmHostRequest, VmHostStatus, VmInfo, VmMeta, VmRequest } from './protocol.js';

const MAIN = join(dirname(fileURLToPath(import.meta.url)), 'main.js');
const START_TIMEOUT_MS = 30_000;
const ATTACH_TIMEOUT_MS = 5_000;
/** After the socket closes, how long to wait for our child's exit status before reporting without it. */
const EXIT_STATUS_WAIT_MS = 3_000;
/** How long detach() waits for the VM process to take over its output before letting go anyway. */
const DETACH_WAIT_MS = 2_000;
/** Serial output held for an attached VM process's owner until it takes the backlog (newest kept). */
const MAX_HELD_BYTES = 1024 * 1024;
/** sun_path holds 108 bytes including the terminating NUL. */
const MAX_SOCKET_PATH = 107;
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export interface VmExit { code: number | null; signal: NodeJS.Signals | null; expected: boolean; message: string }

export interface SpawnOptions {
  /** Where the socket goes (`<socketDir>/<name>.sock`); default: a fresh temp dir removed when the VM process ends. */
  socketDir?: string;
  /** Socket file name without '.sock' (letters, digits, '.', '_', '-'); default 'vm'. */
  name?: string;
  /**
   * Run in its own session (setsid), stdout/stderr to `<socketDir>/<name>.host.log`, and keep running
   * when this controller goes away (roamd's VMs). Default: ends with its controller.
   */
  detached?: boolean;
}

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
  private detachedFrom = false;
  private socketClosed = false;
  private readonly reader = new FrameReader();
  private hello: VmHello | undefined;
  private readonly helloWait: Promise<VmHello>;
  /** Events that came before the owner of an attached VM process took the backlog (serial bytes bounded). */
  private held: { serial: Buffer[]; bytes: number; other: VmHostMessage[] } | undefined;

  private constructor(private readonly sock: Socket, private readonly child: ChildProcess | undefined,
    readonly socketPath: string, private readonly ownDir: string | undefined) {
    super();
    let gotHello!: (h: VmHello) => void; let noHello!: (e: Error) => void;
    this.helloWait = new Promise<VmHello>((res, rej) => { gotHello = res; noHello = rej; });
    this.helloWait.catch(() => undefined);
    sock.on('data', (chunk: Buffer) => {
      let msgs: unknown[];
      try { msgs = this.reader.push(chunk); } catch (e) { sock.destroy(e as Error); return; }
      for (const m of msgs) {
        const msg = m as VmHostMessage;
        if (msg?.kind === 'hello' && !this.hello) {
          this.hello = msg;
          // Attached: hold events until the new owner took the backlog (it has no listeners yet).
          if (!child) this.held = { serial: [Buffer.from(msg.backlog)], bytes: msg.backlog.byteLength, other: [] };
          gotHello(msg);
        }
        else if (msg?.kind === 'refused') noHello(new Error(msg.message));
        else this.onMessage(msg);
      }
    });
    sock.on('error', () => { /* 'close' follows and reports */ });
    sock.on('close', () => {
      this.socketClosed = true;
      noHello(new Error(`VM process at ${socketPath} closed the connection before saying hello`));
      this.onSocketClosed();
    });
    child?.on('exit', (code, signal) => this.finish(code, signal));
  }

  /** Starts a VM process (our child, so its exit code and signal are known) and connects to it. */
  static async spawn(opts: SpawnOptions = {}): Promise<VmProcess> {
    const name = opts.name ?? 'vm';
    if (!NAME_RE.test(name)) throw new Error(`VM process name '${name}' is not usable in a socket file name (letters, digits, '.', '_', '-'; at most 64)`);
    const ownDir = opts.socketDir ? undefined : mkdtempSync(join(tmpdir(), 'roam-vm-'));
    const dir = opts.socketDir ?? ownDir!;
    const path = join(dir, `${name}.sock`);
    const fail = (e: Error): never => { if (ownDir) rmSync(ownDir, { recursive: true, force: true }); throw e; };
    if (Buffer.byteLength(path) > MAX_SOCKET_PATH) fail(new Error(`socket path ${path} is longer than the ${MAX_SOCKET_PATH} bytes a unix socket allows; use a shorter state directory`));
    if (existsSync(path)) {
      if (await answers(path)) fail(new Error(`a VM process already listens at ${path}`));
      try { unlinkSync(path); } catch { /* raced away */ }
    }
    let logFd: number | undefined;
    if (opts.detached) logFd = openSync(join(dir, `${name}.host.log`), 'a', 0o600);
    const child = spawn(process.execPath, [...process.execArgv, MAIN, '--socket', path, '--ready-fd', '3', ...(opts.detached ? ['--detached'] : [])], {
      stdio: ['ignore', logFd ?? 'inherit', logFd ?? 'inherit', 'pipe'], detached: opts.detached === true,
    });
    if (logFd !== undefined) closeSync(logFd);
    let exitInfo = '';
    const exitedEarly = new Promise<never>((_, reject) => child.once('exit', (code, signal) => {
      exitInfo = signal ? `killed by ${signal}` : `exited with code ${code}`;
      reject(new Error(`VM process failed to start: ${exitInfo}${opts.detached ? ` (see ${join(dir, `${name}.host.log`)})` : ''}`));
    }));
    exitedEarly.catch(() => undefined);
    const ready = new Promise<void>((resolve) => {
      const pipe = child.stdio[3] as Readable;
      let got = '';
      pipe.on('data', (d: Buffer) => { got += d.toString(); if (got.includes('ready\n')) { pipe.destroy(); resolve(); } });
      pipe.on('error', () => undefined);
    });
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`VM process did not start within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS).unref());
    let sock: Socket;
    try {
      await Promise.race([ready, exitedEarly, timeout]);
      sock = await Promise.race([connectTo(path), exitedEarly]);
    } catch (e) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      return fail(e as Error);
    }
    // roamd's event loop is not held by a VM process that is meant to outlive it.
    if (opts.detached) child.unref();
    const proc = new VmProcess(sock, child, path, ownDir);
    try {
      await Promise.race([proc.helloWait, exitedEarly]);
    } catch (e) {
      await proc.kill();
      throw e;
    }
    return proc;
  }

  /** Connects to a VM process that already runs (not our child: its end is seen as the socket closing). */
  static async attach(socketPath: string): Promise<VmProcess> {
    const sock = await connectTo(socketPath);
    const proc = new VmProcess(sock, undefined, socketPath, undefined);
    const t = setTimeout(() => sock.destroy(new Error('no hello')), ATTACH_TIMEOUT_MS);
    try {
      await proc.helloWait;
    } catch (e) {
      sock.destroy();
      throw e;
    } finally {
      clearTimeout(t);
    }
    return proc;
  }

  get pid(): number { return this.hello?.pid ?? this.child?.pid ?? -1; }
  get alive(): boolean { return this.exited === undefined; }
  /** What the VM process held when we attached: its metadata and its VM's state. */
  get meta(): VmMeta | null { return this.hello?.meta ?? null; }
  get hostStatus(): VmHostStatus | undefined { return this.hello?.vm; }

  /**
   * Serial output produced while no controller was attached, and what arrived since attach():
   * returned once; from then on output comes as 'serial' events. (Attached VM processes only;
   * a spawned one has no backlog.)
   */
  takeBacklog(): Buffer {
    const held = this.held;
    if (!held) return Buffer.alloc(0);
    this.held = undefined;
    if (held.other.length) queueMicrotask(() => { for (const m of held.other) this.onMessage(m); });
    return Buffer.concat(held.serial, held.bytes);
  }

  request(req: { op: 'loadMultiboot'; kernelPath: string; cmdline: string }): Promise<BootInfo>;
  request(req: { op: 'info' }): Promise<VmInfo>;
  request(req: { op: 'meta' }): Promise<VmMeta | null>;
  request(req: { op: 'saveToFile' | 'restoreFromFile'; path: string }): Promise<{ bytes: number; ms: number }>;
  request(req: { op: 'dirtyLog'; slot: number; clear: boolean }): Promise<Uint8Array>;
  request(req: { op: 'saveState' }): Promise<Uint8Array>;
  /** Scanlines changed since the last call (bit i = scanline i; read-and-clear). Fails on a VM without a display. */
  request(req: { op: 'displayDamage' }): Promise<Uint8Array>;
  request(req: { op: 'input'; keys?: number[]; mouse?: MouseMove[] }): Promise<null>;
  request(req: { op: 'create'; memBytes: number; vcpus: number; display?: boolean }): Promise<null>;
  request(req: VmRequest): Promise<unknown>;
  request(req: VmRequest): Promise<unknown> {
    if (this.exited) return Promise.reject(new Error(`VM process ${this.pid} is gone: ${this.exited.message}`));
    if (this.socketClosed) return Promise.reject(new Error(`VM process ${this.pid}: the control connection is closed`));
    const id = this.nextId++;
    const msg: VmHostRequest = { kind: 'request', id, req };
    let frame: Buffer;
    try { frame = encodeFrame(msg); } catch (e) { return Promise.reject(e as Error); }
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, op: req.op });
      this.sock.write(frame);
    });
  }

  /** Asks the VM process to close its VM and exit; resolves when it has. */
  async close(): Promise<void> {
    if (this.exited) return;
    this.closing = true;
    const gone = new Promise<void>((r) => this.once('exit', () => r()));
    try { await this.request({ op: 'close' }); } catch { /* it may die first */ }
    const timer = setTimeout(() => this.signal('SIGKILL'), 5000);
    await gone;
    clearTimeout(timer);
  }

  /** Kills the VM process at once (tests, and `roam stop --force`). */
  kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<VmExit> {
    if (this.exited) return Promise.resolve(this.exited);
    this.closing = true;
    const gone = new Promise<VmExit>((r) => this.once('exit', r));
    this.signal(signal);
    return gone;
  }

  /**
   * Lets go of the VM process without stopping it (roamd exiting; a detached VM process keeps
   * running and a later controller attaches). Output up to the VM process's answer still arrives
   * here as 'serial'; later output waits in its backlog. No 'exit' follows; requests fail from now on.
   */
  async detach(): Promise<void> {
    if (this.exited) return;
    const handOver = this.request({ op: 'detach' }).catch(() => undefined);
    await Promise.race([handOver, new Promise((r) => setTimeout(r, DETACH_WAIT_MS).unref())]);
    if (this.exited) return;
    this.detachedFrom = true;
    this.exited = { code: null, signal: null, expected: true, message: `VM process ${this.pid} was detached from` };
    for (const [, p] of this.pending) p.reject(new Error(`${this.exited.message} during '${p.op}'`));
    this.pending.clear();
    this.child?.removeAllListeners('exit');
    this.child?.unref();
    this.sock.end();
    this.sock.unref();
  }

  private signal(sig: NodeJS.Signals): void {
    try {
      if (this.child) this.child.kill(sig); else if (this.pid > 0) process.kill(this.pid, sig);
    } catch { /* already gone */ }
  }

  private onMessage(m: VmHostMessage): void {
    if (m?.kind === 'reply') {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.ok) p.resolve(m.value); else p.reject(new Error(m.error));
    } else if (m?.kind === 'event' && this.held) {
      if (m.event !== 'serial') { this.held.other.push(m); return; }
      const b = Buffer.from(m.data);
      this.held.serial.push(b); this.held.bytes += b.length;
      while (this.held.bytes > MAX_HELD_BYTES && this.held.serial.length > 1) this.held.bytes -= this.held.serial.shift()!.length;
    } else if (m?.kind === 'event') {
      if (m.event === 'serial') this.emit('serial', Buffer.from(m.data));
      else if (m.event === 'error') this.emit('vm-error', m.message);
      else this.emit(m.event);
    }
  }

  private onSocketClosed(): void {
    if (this.detachedFrom || this.exited) return;
    if (!this.child) { this.finish(null, null); return; }
    // Our child: its exit status is the better report; it follows the socket's close at once.
    if (this.child.exitCode !== null || this.child.signalCode !== null) { this.finish(this.child.exitCode, this.child.signalCode); return; }
    setTimeout(() => this.finish(null, null), EXIT_STATUS_WAIT_MS).unref();
  }

  private finish(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.exited) return;
    const expected = this.closing;
    let how: string;
    if (signal) how = `killed by ${signal}`;
    else if (code !== null) how = `exited with code ${code}`;
    else how = this.child ? 'its control connection broke' : 'its control socket closed';
    const message = expected ? `VM process ${this.pid} ${how}` : `VM process ${this.pid} crashed (${how})`;
    this.exited = { code, signal, expected, message };
    for (const [, p] of this.pending) p.reject(new Error(`${message} during '${p.op}'`));
    this.pending.clear();
    this.sock.destroy();
    this.cleanUp();
    this.emit('exit', this.exited);
  }

  /** A VM process that died without removing its socket leaves the file: remove it, and our temp dir. */
  private cleanUp(): void {
    if (this.ownDir) { rmSync(this.ownDir, { recursive: true, force: true }); return; }
    if (this.pid > 0 && !pidAlive(this.pid)) { try { unlinkSync(this.socketPath); } catch { /* it removed it */ } }
  }
}

function pidAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}

function connectTo(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    s.once('connect', () => { s.off('error', reject); resolve(s); });
    s.once('error', reject);
  });
}

/** Whether something accepts connections at a socket path (a stale file refuses). */
async function answers(path: string): Promise<boolean> {
  try { const s = await connectTo(path); s.destroy(); return true; } catch { return false; }
}

/** A name for a VM process that has none yet (a VM arriving by migration). */
export function provisionalName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}
