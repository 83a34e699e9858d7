// A household of roamd agents on one machine: each "machine" is a network
// namespace on a shared LAN running its own roamd, driven through the real
// `roam` CLI (control sockets are unix sockets, reachable from the host).
// Used by `npm run demo` and by the end-to-end tests.
import { spawn, spawnSync, type ChildProcess, type StdioOptions } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NetnsLan } from './lan.js';

export const ROAM_ENTRY = join(dirname(fileURLToPath(import.meta.url)), '..', 'cli', 'entry.js');

export interface MachineSpec { name: string; role: 'server' | 'desktop' | 'laptop' }

export interface CliResult { code: number | null; out: string; err: string }

export class Household {
  readonly lan: NetnsLan;
  private readonly daemons = new Map<string, ChildProcess>();
  private readonly logs = new Map<string, string>();

  constructor(readonly root: string, readonly machines: MachineSpec[], opts: { net?: number; prefix?: string } = {}) {
    this.lan = new NetnsLan(opts.net ?? 78, opts.prefix ?? 'roam-demo-');
  }

  stateDir(machine: string): string { return join(this.root, machine); }

  /** Creates the LAN and starts roamd on every machine; resolves when each answers `roam status`. */
  async start(timeoutMs = 20_000): Promise<void> {
    this.lan.create(this.machines.map((m) => m.name));
    for (const m of this.machines) this.startDaemon(m);
    for (const m of this.machines) {
      await until(`roamd on ${m.name} to answer`, timeoutMs, () => this.roam(m.name, 'status').code === 0)
        .catch((e: Error) => { throw new Error(`${e.message}\n${this.log(m.name)}`); });
    }
  }

  startDaemon(m: MachineSpec): void {
    mkdirSync(this.stateDir(m.name), { recursive: true, mode: 0o700 });
    const child = spawn('ip', ['netns', 'exec', this.lan.ns(m.name), process.execPath, ROAM_ENTRY, 'daemon',
      '--state', this.stateDir(m.name), '--name', m.name, '--role', m.role], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.logs.set(m.name, '');
    child.stderr!.on('data', (d) => this.logs.set(m.name, (this.logs.get(m.name)! + d.toString()).slice(-20_000)));
    this.daemons.set(m.name, child);
  }

  /** Stops one machine's roamd (its VMs keep running); says whether SIGTERM alone ended it. */
  async stopDaemon(machine: string, graceMs = 10_000): Promise<'exited' | 'killed'> {
    const child = this.daemons.get(machine);
    if (!child) throw new Error(`no roamd started on ${machine}`);
    return stopProcess(child, graceMs);
  }

  /** The last lines roamd on `machine` wrote to its stderr. */
  log(machine: string): string { return this.logs.get(machine) ?? ''; }

  /** Runs `roam <args> --state <machine's state>` and captures its output. */
  roam(machine: string, ...args: string[]): CliResult {
    const r = spawnSync(process.execPath, [ROAM_ENTRY, ...args, '--state', this.stateDir(machine)], { encoding: 'utf8', timeout: 120_000 });
    return { code: r.status, out: r.stdout, err: r.stderr };
  }

  roamJson<T>(machine: string, ...args: string[]): T {
    const r = this.roam(machine, ...args, '--json');
    if (r.code !== 0) throw new Error(`roam ${args.join(' ')} on ${machine} failed (exit ${r.code}): ${r.err.trim()}`);
    return JSON.parse(r.out) as T;
  }

  /** Runs a roam command with the terminal attached (progress bars show), resolving to its exit code. */
  roamLive(machine: string, args: string[], stdio: StdioOptions = 'inherit'): Promise<number | null> {
    const child = spawn(process.execPath, [ROAM_ENTRY, ...args, '--state', this.stateDir(machine)], { stdio });
    return new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  }

  /** The first machine creates the household; every other one joins with a fresh invite code. */
  formHousehold(name: string): void {
    const [first, ...rest] = this.machines;
    this.roamJson(first!.name, 'init', '--name', name);
    for (const m of rest) {
      const { code } = this.roamJson<{ code: string }>(first!.name, 'invite');
      this.roamJson(m.name, 'join', code);
    }
  }

  /** Resolves when every machine lists every other one as a trusted, online member. */
  async waitUntilAllSeeEachOther(timeoutMs = 30_000): Promise<number> {
    const t0 = Date.now();
    type Peer = { name: string | null; trusted: boolean; presence: string };
    await until('the machines to find each other', timeoutMs, () => this.machines.every((m) => {
      const peers = this.roamJson<Peer[]>(m.name, 'peers');
      return this.machines.every((o) => o.name === m.name || peers.some((p) => p.name === o.name && p.trusted && p.presence === 'online'));
    }));
    return Date.now() - t0;
  }

  /**
   * Stops every VM and every roamd (SIGTERM, then SIGKILL) and deletes the namespaces. Safe to
   * call twice. VMs first: roamd leaves its VMs running when it exits (they outlive restarts).
   */
  async stop(): Promise<void> {
    for (const [name, child] of this.daemons) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      try {
        for (const vm of this.roamJson<{ name: string }[]>(name, 'ps')) this.roam(name, 'stop', vm.name);
      } catch { /* a roamd that does not answer: its VM processes end when their state dir goes */ }
    }
    await Promise.all([...this.daemons.values()].map((child) => stopProcess(child)));
    this.daemons.clear();
    this.lan.destroy();
  }
}

/**
 * Ends a child process: asks it to go (SIGTERM, or `ask` — e.g. closing its stdin), then SIGKILL if it
 * is still there after `graceMs`. Resolves once it has exited, saying whether asking was enough
 * ('exited') or it had to be killed ('killed').
 */
export async function stopProcess(
  child: ChildProcess, graceMs = 5000, ask: (c: ChildProcess) => void = (c) => { c.kill('SIGTERM'); },
): Promise<'exited' | 'killed'> {
  if (child.exitCode !== null || child.signalCode !== null) return 'exited';
  const gone = new Promise((r) => child.once('exit', r));
  let killed = false;
  ask(child);
  const t = setTimeout(() => { killed = true; child.kill('SIGKILL'); }, graceMs);
  await gone;
  clearTimeout(t);
  return killed ? 'killed' : 'exited';
}

type Probed<T> = T | undefined | null | false;

/** Polls `probe` (sync or async) until it gives a truthy value; fails after `ms` with the last error seen. */
export async function until<T>(what: string, ms: number, probe: () => Probed<T> | Promise<Probed<T>>): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try { const v = await probe(); if (v) return v; } catch (e) { last = e; }
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}
