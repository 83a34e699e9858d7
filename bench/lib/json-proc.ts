// A helper process of a benchmark (run under a command prefix such as `ip netns exec`)
// that speaks JSON lines: commands on its stdin, messages on its stdout, read in order.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { stopProcess } from '../../node/demo/household.js';

export type Msg = { t: string; [k: string]: unknown };

/** A peer process speaking JSON lines; `next()` returns its messages in order. */
export class JsonProc {
  private readonly child: ChildProcess;
  private readonly queue: Msg[] = [];
  private wake: (() => void) | undefined;
  private exited: string | undefined;
  private stderr = '';

  constructor(cmd: string[], script: string, args: string[]) {
    this.child = spawn(cmd[0]!, [...cmd.slice(1), process.execPath, script, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    createInterface({ input: this.child.stdout! }).on('line', (l) => {
      try { this.queue.push(JSON.parse(l) as Msg); } catch { return; }
      this.wake?.();
    });
    this.child.stderr!.on('data', (d: Buffer) => { this.stderr = (this.stderr + d.toString()).slice(-2000); });
    this.child.on('exit', (code, sig) => { this.exited = `peer exited (${sig ?? code}) ${this.stderr.trim().slice(-300)}`; this.wake?.(); });
    this.child.stdin!.on('error', () => undefined);
  }

  async next(ms: number): Promise<Msg> {
    const end = Date.now() + ms;
    for (;;) {
      const m = this.queue.shift();
      if (m) { if (m.t === 'fatal') throw new Error(`peer: ${String(m.error)}`); return m; }
      if (this.exited) throw new Error(this.exited);
      if (Date.now() > end) throw new Error(`peer: no answer within ${ms} ms`);
      await new Promise<void>((r) => { this.wake = r; setTimeout(r, 500); });
      this.wake = undefined;
    }
  }

  send(m: Record<string, unknown>): void { this.child.stdin!.write(`${JSON.stringify(m)}\n`); }

  async stop(): Promise<void> {
    if (this.exited) return;
    await stopProcess(this.child, 5000, (c) => c.stdin!.end());
  }
}

