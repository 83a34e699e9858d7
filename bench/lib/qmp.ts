// A minimal QMP client (QEMU's JSON monitor protocol over a unix socket):
// negotiate capabilities, run commands matched by id, surface events.
import { connect, type Socket } from 'node:net';
import { EventEmitter } from 'node:events';
import { sleep } from './measure.js';

const MAX_LINE = 1 << 20;

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void; cmd: string };

/** Events: 'event' ({ event, data }) for every asynchronous QMP event. */
export class Qmp extends EventEmitter {
  private buf = '';
  private nextId = 1;
  private readonly pending = new Map<string, Pending>();
  private greeted: (() => void) | undefined;

  private constructor(private readonly sock: Socket) {
    super();
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => this.onData(d));
    sock.on('close', () => this.failAll(new Error('QMP socket closed')));
    sock.on('error', (e) => this.failAll(e));
  }

  /** Connects (retrying while QEMU creates the socket) and leaves capabilities-negotiation mode. */
  static async open(path: string, timeoutMs = 15_000): Promise<Qmp> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const sock = await new Promise<Socket>((resolve, reject) => {
          const s = connect(path);
          s.once('connect', () => { s.off('error', reject); resolve(s); });
          s.once('error', reject);
        });
        const qmp = new Qmp(sock);
        await new Promise<void>((r) => { qmp.greeted = r; });
        await qmp.execute('qmp_capabilities');
        return qmp;
      } catch (e) {
        if (Date.now() > deadline) throw new Error(`cannot open QMP socket ${path}: ${(e as Error).message}`);
        await sleep(20);
      }
    }
  }

  execute(cmd: string, args?: Record<string, unknown>): Promise<unknown> {
    const id = `b${this.nextId++}`;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, cmd });
      this.sock.write(`${JSON.stringify(args ? { execute: cmd, arguments: args, id } : { execute: cmd, id })}\n`);
    });
  }

  close(): void {
    this.sock.destroy();
  }

  private onData(d: string): void {
    this.buf += d;
    if (this.buf.length > MAX_LINE) {
      this.failAll(new Error('QMP line too long'));
      this.sock.destroy();
      return;
    }
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl).trim();
      this.buf = this.buf.slice(nl + 1);
      if (line) this.onMessage(line);
    }
  }

  private onMessage(line: string): void {
    let msg: Record<string, unknown>;
    try { msg = JSON.parse(line) as Record<string, unknown>; } catch { return; }
    if ('QMP' in msg) { this.greeted?.(); this.greeted = undefined; return; }
    if (typeof msg.event === 'string') { this.emit('event', { event: msg.event, data: msg.data }); return; }
    const id = typeof msg.id === 'string' ? msg.id : undefined;
    const p = id ? this.pending.get(id) : undefined;
    if (!p || !id) return;
    this.pending.delete(id);
    if ('error' in msg) {
      const err = msg.error as { class?: string; desc?: string };
      p.reject(new Error(`QMP ${p.cmd}: ${err.class ?? 'error'}: ${err.desc ?? line}`));
    } else {
      p.resolve(msg.return);
    }
  }

  private failAll(e: Error): void {
    for (const [, p] of this.pending) p.reject(new Error(`QMP ${p.cmd}: ${e.message}`));
    this.pending.clear();
  }
}
