// The VM process's end of its control socket: listens on a unix socket, serves
// one controller at a time (a second one is refused with a clear message: two
// roamds must never drive one VM), keeps serial output in a bounded backlog
// while nobody is attached, and removes its socket when the process ends.
import { chmodSync, closeSync, lstatSync, unlinkSync, writeSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { encodeFrame, FrameReader } from './framing.js';
import { DETACHED_BACKLOG_BYTES, type VmHello, type VmHostMessage, type VmRequest } from './protocol.js';

export interface HostArgs { socket: string; detached: boolean; readyFd: number | undefined }

export function parseHostArgs(argv: string[]): HostArgs {
  let socket: string | undefined; let detached = false; let readyFd: number | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--socket') socket = argv[++i];
    else if (a === '--detached') detached = true;
    else if (a === '--ready-fd') readyFd = Number(argv[++i]);
    else throw new Error(`vm-host: unknown argument '${a}' (usage: main.js --socket PATH [--detached] [--ready-fd N])`);
  }
  if (!socket) throw new Error('vm-host: --socket PATH is required');
  if (readyFd !== undefined && !(Number.isInteger(readyFd) && readyFd > 2)) throw new Error('vm-host: --ready-fd wants a descriptor number above 2');
  return { socket, detached, readyFd };
}

export interface ControlHandlers {
  hello(): Omit<VmHello, 'kind' | 'backlog'>;
  /** `from` identifies the connection: pass it back to reply(). */
  onRequest(id: number, req: VmRequest, from: Socket): void;
  onControllerGone(): void;
  /** Detached, no controller, and the socket path no longer leads here: nobody can ever attach again. */
  onUnreachable(): void;
}

/** A controller that lets this much output pile up unread is cut off rather than letting this process swell. */
const MAX_UNREAD_BYTES = 256 * 2 ** 20;
const UNREACHABLE_CHECK_MS = 2_000;

export class ControlSocket {
  private readonly server: Server;
  private controller: Socket | undefined;
  private backlog: Buffer[] = [];
  private backlogBytes = 0;
  private ino: number | undefined;
  /** The controller said it is leaving ('detach'): its events go to the backlog, only replies still reach it. */
  private released = false;

  constructor(private readonly args: HostArgs, private readonly handlers: ControlHandlers) {
    this.server = createServer((s) => this.onConnection(s));
    process.on('exit', () => this.removeSocket());
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.args.socket, () => {
        this.server.off('error', reject);
        // Only its owner may drive the VM (the umask already denies others; this says so exactly).
        chmodSync(this.args.socket, 0o600);
        this.ino = lstatSync(this.args.socket).ino;
        setInterval(() => this.checkReachable(), UNREACHABLE_CHECK_MS).unref();
        resolve();
      });
    });
  }

  /** Tells the spawning process the socket accepts connections (one line on the ready pipe, then closes it). */
  signalReady(): void {
    if (this.args.readyFd === undefined) return;
    try { writeSync(this.args.readyFd, 'ready\n'); closeSync(this.args.readyFd); } catch { /* the spawner gave up; it will not connect */ }
  }

  /** From now on events are kept for the next controller (see the 'detach' request). */
  release(): void {
    this.released = true;
  }

  /** Sends a reply to the connection that made the request, if it is still the controller. */
  reply(to: Socket, msg: VmHostMessage): void {
    if (to === this.controller && !to.destroyed) to.write(encodeFrame(msg));
  }

  /** Sends an event to the controller, or keeps serial output for the next one. */
  send(msg: VmHostMessage): void {
    const c = this.controller;
    if (c && !c.destroyed && !(this.released && msg.kind === 'event')) {
      c.write(encodeFrame(msg));
      if (c.writableLength > MAX_UNREAD_BYTES) {
        console.error(`vm-host ${process.pid}: the controller left ${c.writableLength} bytes unread; disconnecting it`);
        c.destroy();
      }
      return;
    }
    // Nobody attached: keep the newest console output for the next controller. Other events
    // are summed up in its hello (the VM's failure), replies have nobody to go to.
    if (msg.kind === 'event' && msg.event === 'serial') {
      const b = Buffer.from(msg.data.buffer, msg.data.byteOffset, msg.data.byteLength);
      this.backlog.push(Buffer.from(b));
      this.backlogBytes += b.length;
      while (this.backlogBytes > DETACHED_BACKLOG_BYTES) {
        const first = this.backlog[0]!;
        const over = this.backlogBytes - DETACHED_BACKLOG_BYTES;
        if (first.length <= over) { this.backlog.shift(); this.backlogBytes -= first.length; } else { this.backlog[0] = first.subarray(over); this.backlogBytes -= over; }
      }
    }
  }

  /** Resolves once what was sent so far has left this process (or the controller is gone). */
  flush(): Promise<void> {
    const c = this.controller;
    if (!c || c.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(resolve, 2_000);
      c.write(Buffer.alloc(0), () => { clearTimeout(t); resolve(); });
    });
  }

  /** Removes the socket file if it is still ours (not one a newer VM process made at the same path). */
  removeSocket(): void {
    try { if (lstatSync(this.args.socket).ino === this.ino) unlinkSync(this.args.socket); } catch { /* already gone */ }
  }

  private checkReachable(): void {
    if (this.controller || !this.args.detached) return;
    let ino: number | undefined;
    try { ino = lstatSync(this.args.socket).ino; } catch { /* gone */ }
    if (ino !== this.ino) this.handlers.onUnreachable();
  }

  private onConnection(sock: Socket): void {
    sock.on('error', () => { /* a controller's broken connection ends only that connection */ });
    if (this.controller) {
      const message = `VM process ${process.pid} already has a controller; only one may attach at a time (is another roamd using this state directory?)`;
      sock.end(encodeFrame({ kind: 'refused', message }));
      return;
    }
    this.controller = sock;
    this.released = false;
    const backlog = Buffer.concat(this.backlog, this.backlogBytes);
    this.backlog = []; this.backlogBytes = 0;
    sock.write(encodeFrame({ kind: 'hello', ...this.handlers.hello(), backlog }));
    const reader = new FrameReader();
    sock.on('data', (chunk: Buffer) => {
      let msgs: unknown[];
      try { msgs = reader.push(chunk); } catch (e) {
        console.error(`vm-host ${process.pid}: closing the control connection: ${(e as Error).message}`);
        sock.destroy();
        return;
      }
      for (const m of msgs) {
        const r = m as { kind?: unknown; id?: unknown; req?: { op?: unknown } };
        if (r?.kind !== 'request' || !Number.isSafeInteger(r.id) || typeof r.req?.op !== 'string') {
          console.error(`vm-host ${process.pid}: closing the control connection: a frame that is not a request`);
          sock.destroy();
          return;
        }
        this.handlers.onRequest(r.id as number, r.req as VmRequest, sock);
      }
    });
    sock.on('close', () => {
      if (this.controller !== sock) return;
      this.controller = undefined;
      this.handlers.onControllerGone();
    });
  }
}
