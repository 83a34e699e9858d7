// The bench process's handle on one roam-peer.js running inside a namespace:
// commands as JSON lines, answers matched by (op, id), the guest's serial output
// routed by VM id to whoever follows that VM, and arrivals announced.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MigrationStats } from '../../migrate/index.js';
import { stopProcess } from '../../node/demo/household.js';

const PEER = join(dirname(fileURLToPath(import.meta.url)), 'roam-peer.js');

type Msg = { t: string; op?: string; id?: string; [k: string]: unknown };
type Waiter = { op: string; id: string; resolve: (m: Msg) => void; reject: (e: Error) => void };

export class RoamHost {
  addr = '';
  private readonly child: ChildProcess;
  private readonly waiters: Waiter[] = [];
  private stderr = '';
  private exited: string | undefined;
  /** Serial bytes of the VM with this id (wherever it came from). */
  onSerial: (id: string, data: Buffer, atMs: number) => void = () => undefined;
  onArrived: (id: string, m: Msg) => void = () => undefined;

  private constructor(readonly ns: string, wrap: string[], args: string[]) {
    this.child = spawn(wrap[0]!, [...wrap.slice(1), process.execPath, PEER, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    createInterface({ input: this.child.stdout! }).on('line', (line) => this.onLine(line));
    this.child.stderr!.on('data', (d: Buffer) => { this.stderr = (this.stderr + d.toString()).slice(-2000); });
    this.child.on('exit', (code, sig) => {
      this.exited = `roam peer in ${ns} exited (${sig ?? code})${this.stderr ? `: ${this.stderr.trim().slice(-400)}` : ''}`;
      for (const w of this.waiters.splice(0)) w.reject(new Error(this.exited));
    });
    this.child.stdin!.on('error', () => undefined);
  }

  /** Starts a peer in namespace `ns` (command prefix `wrap`) listening on `ip`; resolves with its address known. */
  static async start(ns: string, wrap: string[], ip: string, keepDir?: string): Promise<RoamHost> {
    const h = new RoamHost(ns, wrap, keepDir ? [ip, keepDir] : [ip]);
    await h.wait('addr', '', 30_000);
    return h;
  }

  private onLine(line: string): void {
    let m: Msg;
    try { m = JSON.parse(line) as Msg; } catch { return; }
    if (m.t === 'serial') { this.onSerial(String(m.id), Buffer.from(String(m.b64), 'base64'), Number(m.at)); return; }
    if (m.t === 'addr') { this.addr = String(m.addr); this.settle('addr', '', m); return; }
    if (m.t === 'arrived') { this.onArrived(String(m.id), m); return; }
    if (m.t === 'fatal') { for (const w of this.waiters.splice(0)) w.reject(new Error(`roam peer in ${this.ns}: ${String(m.error)}`)); return; }
    if (m.t === 'done' || m.t === 'error') this.settle(String(m.op), String(m.id), m);
  }

  private settle(op: string, id: string, m: Msg): void {
    const i = this.waiters.findIndex((w) => w.op === op && w.id === id);
    if (i < 0) return;
    const [w] = this.waiters.splice(i, 1);
    if (m.t === 'error') w!.reject(new Error(String(m.error))); else w!.resolve(m);
  }

  private wait(op: string, id: string, ms: number): Promise<Msg> {
    if (this.exited) return Promise.reject(new Error(this.exited));
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => { rm(); reject(new Error(`roam peer in ${this.ns}: no answer to ${op} ${id} within ${ms} ms`)); }, ms);
      const w: Waiter = { op, id, resolve: (m) => { clearTimeout(t); resolve(m); }, reject: (e) => { clearTimeout(t); reject(e); } };
      const rm = () => { const i = this.waiters.indexOf(w); if (i >= 0) this.waiters.splice(i, 1); };
      this.waiters.push(w);
    });
  }

  command(op: string, id: string, args: Record<string, unknown> = {}, ms = 60_000): Promise<Msg> {
    const p = this.wait(op, id, ms);
    this.child.stdin!.write(`${JSON.stringify({ op, id, ...args })}\n`);
    return p;
  }

  boot(id: string, memBytes: number, cmdline: string): Promise<Msg> { return this.command('boot', id, { memBytes, cmdline }); }

  async send(id: string, to: RoamHost, deadlineMs: number): Promise<MigrationStats> {
    const m = await this.command('send', id, { to: to.addr, deadlineMs }, deadlineMs + 60_000);
    return m.stats as MigrationStats;
  }

  /** Closing stdin ends the peer (it kills its VM processes first). */
  async stop(): Promise<void> {
    if (this.exited) return;
    await stopProcess(this.child, 5000, (c) => c.stdin!.end());
  }
}
