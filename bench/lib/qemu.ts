// The probe guest under QEMU/KVM, the baseline VMM: the same multiboot
// binary and command line, serial on stdio, QMP on a private unix socket.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { probeGuestPath } from '../../guest/index.js';
import { GuestOutput } from './guest-output.js';
import { Qmp } from './qmp.js';

export const QEMU = 'qemu-system-x86_64';

/** "QEMU 7.2.22", or null when QEMU is not installed. */
export function qemuVersion(): string | null {
  const r = spawnSync(QEMU, ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return null;
  const m = /version (\S+)/.exec(r.stdout);
  return `QEMU ${m ? m[1] : '?'}`;
}

export interface QemuProbe {
  proc: ChildProcess;
  out: GuestOutput;
  /** Connected QMP monitor. */
  qmp: Qmp;
  stop(): Promise<void>;
}

export interface QemuOptions {
  memBytes: number;
  cmdline: string;
  name: string;
  /** `-incoming` URI (restore from a migration stream instead of booting). */
  incoming?: string;
  /** Command prefix QEMU runs under, e.g. `['ip', 'netns', 'exec', ns]` (it execs QEMU, so the pid stays QEMU's). */
  wrap?: string[];
  /** More QEMU arguments (e.g. `-object tls-creds-psk,…`). */
  extraArgs?: string[];
}

/** Starts QEMU with the probe guest; resolves once QMP is connected (the guest may still be in SeaBIOS). */
export async function startQemu(o: QemuOptions): Promise<QemuProbe> {
  const dir = mkdtempSync(join(tmpdir(), 'roam-bench-qmp-'));
  const sock = join(dir, 'qmp.sock');
  const args = [
    '-accel', 'kvm', '-cpu', 'qemu64', '-m', String(Math.round(o.memBytes / 2 ** 20)),
    '-kernel', probeGuestPath(), '-append', o.cmdline,
    '-serial', 'stdio', '-display', 'none', '-no-reboot', '-nodefaults',
    '-qmp', `unix:${sock},server=on,wait=off`,
    ...(o.incoming ? ['-incoming', o.incoming] : []),
    ...(o.extraArgs ?? []),
  ];
  const wrap = o.wrap ?? [];
  const proc = wrap.length
    ? spawn(wrap[0]!, [...wrap.slice(1), QEMU, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(QEMU, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const out = new GuestOutput(o.name);
  let stderr = '';
  proc.stdout!.on('data', (d: Buffer) => out.push(d));
  proc.stderr!.on('data', (d: Buffer) => { if (stderr.length < 4000) stderr += d.toString(); });
  proc.on('error', (e) => out.die(`cannot run ${QEMU}: ${e.message}`));
  proc.on('exit', (code, sig) => out.die(`QEMU exited (${sig ?? code})${stderr ? `: ${stderr.trim().slice(-300)}` : ''}`));
  const stop = async () => {
    qmpRef?.close();
    if (proc.exitCode === null && proc.signalCode === null) {
      await new Promise<void>((r) => { proc.once('exit', () => r()); proc.kill('SIGKILL'); });
    }
    rmSync(dir, { recursive: true, force: true });
  };
  let qmpRef: Qmp | undefined;
  try {
    qmpRef = await Promise.race([
      Qmp.open(sock),
      new Promise<never>((_, reject) => proc.once('exit', () => reject(new Error(out.dead ?? 'QEMU exited')))),
    ]);
  } catch (e) {
    await stop();
    throw e;
  }
  return { proc, out, qmp: qmpRef, stop };
}

/** Polls query-migrate until the migration completes; throws with QEMU's reason when it fails. */
export async function awaitMigration(qmp: Qmp, timeoutMs: number): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const info = (await qmp.execute('query-migrate')) as Record<string, unknown>;
    if (info.status === 'completed') return info;
    if (info.status === 'failed' || info.status === 'cancelled') {
      throw new Error(`QEMU migration ${info.status}${info['error-desc'] ? `: ${String(info['error-desc'])}` : ''}`);
    }
    if (Date.now() > deadline) throw new Error(`QEMU migration still '${String(info.status)}' after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 2));
  }
}
