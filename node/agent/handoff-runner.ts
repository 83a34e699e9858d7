// The lid-close hand-off: every VM running here goes to the best household
// member (handoff-target.ts), its home first (follow me, in the migration
// service), all within a time budget. A VM that cannot go in time is paused
// and parked on disk (handoff-saved.ts) so the machine can sleep with nothing
// lost. One hand-off at a time: a second lid close while one runs is refused
// with a message, never started twice. Each step is logged and the last
// report is kept for `roam status`.
import type { Stream } from '@libp2p/interface';
import type { MachineRecord, PeerEntry } from '../../discovery/index.js';
import { LID_DEFAULT_BUDGET_MS, type AgentConfig } from './config.js';
import { chooseTarget } from './handoff-target.js';
import { ParkedVms, type ParkedVm } from './handoff-saved.js';
import type { SendRequest } from './migration-service.js';
import { MIGRATE_PROTOCOL } from './protocols.js';
import type { VmSupervisor } from './vm-supervisor.js';

/** The part of roamd the hand-off needs (a narrow view, so tests can give fakes). */
export interface HandoffHost {
  readonly config: AgentConfig;
  readonly vms: VmSupervisor;
  readonly directory: { list(): PeerEntry[] };
  readonly migration: { send(req: SendRequest): Promise<Record<string, unknown>> } | undefined;
  currentRecord(): MachineRecord;
  dialPeer(peerId: string, protocol: string): Promise<Stream>;
  log(line: string): void;
}

export type VmOutcome = 'sent' | 'parked' | 'kept' | 'pending';

export interface HandoffVmReport {
  vm: string; outcome: VmOutcome; to: string | null; why: string;
  /** When its outcome was settled (for a sent VM: when the target ran it). */
  at: string | null;
  /** A sent VM's last heartbeat seen here, so its continuation on the target can be checked. */
  lastHeartbeatHere?: unknown;
}

export interface HandoffReport {
  trigger: string;
  startedAt: string;
  finishedAt: string | null;
  budgetMs: number;
  vms: HandoffVmReport[];
  /** One line for the log and `roam status`. */
  summary: string;
}

export class HandoffBusy extends Error {}

/** Time kept back from the migration for parking the VM on disk should it not go. */
export function parkReserveMs(budgetMs: number, memBytes: number): number {
  // Writing the image runs near disk speed; 2 s plus 1 s per GiB, never more than half the budget.
  return Math.min(Math.floor(budgetMs / 2), 2_000 + Math.ceil(memBytes / 2 ** 30) * 1_000);
}

export class HandoffRunner {
  last: HandoffReport | null = null;
  private running: Promise<HandoffReport> | undefined;
  private current: HandoffReport | undefined;
  private resuming: Promise<string[]> | undefined;
  readonly parked: ParkedVms;

  constructor(private readonly host: HandoffHost, parkDir: string) {
    this.parked = new ParkedVms(parkDir);
  }

  get budgetMs(): number { return this.host.config.lid?.budgetMs ?? LID_DEFAULT_BUDGET_MS; }
  get busy(): boolean { return this.running !== undefined; }

  /** Runs the hand-off; rejects with HandoffBusy when one already runs. Never rejects otherwise. */
  run(trigger: string): Promise<HandoffReport> {
    if (this.running) {
      const since = this.current?.startedAt ?? 'just now';
      this.host.log(`hand-off: ${trigger} ignored: a hand-off is already running (since ${since}); only one runs at a time`);
      return Promise.reject(new HandoffBusy(`a hand-off is already running (since ${since}); this ${trigger} starts no second one`));
    }
    const p = this.handoff(trigger).finally(() => { this.running = undefined; this.current = undefined; });
    this.running = p;
    return p;
  }

  /** The report of the hand-off running now, else the last one. */
  report(): HandoffReport | null { return this.current ?? this.last; }

  private async handoff(trigger: string): Promise<HandoffReport> {
    const budgetMs = this.budgetMs;
    const t0 = Date.now();
    const deadline = t0 + budgetMs;
    const names = this.host.vms.list().filter((v) => v.state === 'running').map((v) => v.name);
    const report: HandoffReport = {
      trigger, startedAt: new Date(t0).toISOString(), finishedAt: null, budgetMs,
      vms: names.map((vm) => ({ vm, outcome: 'pending', to: null, why: 'waiting its turn', at: null })), summary: 'running',
    };
    this.current = report;
    this.host.log(`hand-off (${trigger}): ${names.length ? `moving ${names.join(', ')} within ${budgetMs} ms` : 'no VM runs here; nothing to move'}`);
    for (const entry of report.vms) {
      try {
        await this.moveOne(entry, deadline);
      } catch (e) {
        entry.outcome = 'kept'; entry.why = (e as Error).message;
      }
      entry.at = new Date().toISOString();
      this.host.log(`hand-off: VM '${entry.vm}' ${entry.outcome}${entry.to ? ` to ${entry.to}` : ''}: ${entry.why}`);
    }
    report.finishedAt = new Date().toISOString();
    const count = (o: VmOutcome) => report.vms.filter((v) => v.outcome === o).length;
    report.summary = names.length === 0 ? 'no VM was running'
      : `${count('sent')} sent, ${count('parked')} saved to disk, ${count('kept')} kept in memory, in ${Date.now() - t0} ms of a ${budgetMs} ms budget`;
    this.host.log(`hand-off (${trigger}) done: ${report.summary}`);
    this.last = report;
    return report;
  }

  private async moveOne(entry: HandoffVmReport, deadline: number): Promise<void> {
    const vm = this.host.vms.get(entry.vm);
    if (!vm || vm.state !== 'running') { entry.outcome = 'kept'; entry.why = 'it stopped before its turn'; return; }
    const reserve = parkReserveMs(this.budgetMs, vm.spec.memBytes);
    const sendMs = deadline - reserve - Date.now();
    const record = this.host.currentRecord();
    const lid = this.host.config.lid;
    const preferred = lid?.handoffTo ?? this.host.config.home?.server;
    const choice = chooseTarget(this.host.directory.list(), { memBytes: vm.spec.memBytes, cpu: record.cpu, preferred });
    let why: string;
    if (!this.host.migration) why = 'live migration is not wired into this roamd';
    else if (!choice.ok) why = choice.why;
    else if (sendMs <= 0) why = 'no time left in the budget to send it';
    else {
      const target = this.host.directory.list().find((e) => e.peerId === choice.peerId)!;
      entry.to = choice.name; entry.why = `sending: ${choice.why}`;
      this.host.log(`hand-off: sending VM '${entry.vm}' to ${choice.name} (${choice.why}); ${sendMs} ms before it is saved to disk instead`);
      const abort = new AbortController();
      const timer = setTimeout(() => abort.abort(new Error(`the hand-off budget ran out after ${this.budgetMs - reserve} ms`)), sendMs);
      try {
        const res = await this.host.migration.send({
          vm, to: { peerId: target.peerId, name: choice.name, entry: target },
          open: () => this.host.dialPeer(target.peerId, MIGRATE_PROTOCOL), signal: abort.signal, deadlineMs: sendMs,
        });
        entry.outcome = 'sent'; entry.why = choice.why; entry.lastHeartbeatHere = res.lastHeartbeatHere ?? null;
        return;
      } catch (e) {
        why = abort.signal.aborted ? `the hand-off budget ran out while sending to ${choice.name} (${(e as Error).message})`
          : `sending to ${choice.name} failed: ${(e as Error).message}`;
        entry.to = null;
      } finally {
        clearTimeout(timer);
      }
    }
    // It could not go: park it so the machine can sleep with nothing lost.
    if (!this.host.vms.get(entry.vm)) { entry.outcome = 'kept'; entry.why = `${why}; it no longer runs here`; return; }
    const parked = await this.parked.park(this.host.vms, entry.vm, why);
    entry.outcome = 'parked'; entry.why = `${why}; saved to disk (${parked.image})`;
  }

  /** Brings every parked VM back (lid opened, roamd started); returns what it did, one line per VM. */
  resumeParked(trigger: string): Promise<string[]> {
    if (this.resuming) return this.resuming;
    const p = this.resumeAll(trigger).finally(() => { this.resuming = undefined; });
    this.resuming = p;
    return p;
  }

  private async resumeAll(trigger: string): Promise<string[]> {
    const out: string[] = [];
    for (const p of this.parked.list()) {
      try {
        await this.parked.resume(this.host.vms, p);
        out.push(`VM '${p.spec.name}' resumed from disk (${trigger}; saved ${p.savedAt} because ${p.why})`);
      } catch (e) {
        out.push((e as Error).message);
      }
    }
    for (const line of out) this.host.log(`hand-off: ${line}`);
    return out;
  }

  parkedList(): ParkedVm[] { return this.parked.list(); }
}
