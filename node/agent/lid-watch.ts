// Which lid source roamd uses, and what a lid event does. `lid.watcher` in the
// config: 'logind' (the system bus, required), 'acpi' (the fallback only),
// 'off', or 'auto' (default): on a laptop, logind when it answers, else ACPI,
// else nothing, and `roam status` says which and why.
import type { AgentConfig } from './config.js';
import { SYSTEM_BUS_DEFAULT } from './dbus/address.js';
import type { HandoffReport, HandoffRunner } from './handoff-runner.js';
import { AcpiLidWatcher, ACPI_LID_DIR, type AcpiStatus } from './lid-acpi.js';
import { LogindLidWatcher, type LidHandlers, type LogindStatus } from './lid-logind.js';

export type LidStatus = (LogindStatus | AcpiStatus | { source: 'none'; why: string }) & {
  handoff: HandoffReport | null;
  handoffRunning: boolean;
  budgetMs: number;
  parked: { vm: string; savedAt: string; why: string }[];
};

export interface LidHost {
  readonly config: AgentConfig;
  readonly handoff: HandoffRunner;
  currentRecord(): { power: { source: string } };
  log(line: string): void;
}

export class LidWatch {
  private constructor(private readonly host: LidHost, private readonly source: LogindLidWatcher | AcpiLidWatcher | undefined, private readonly why: string) {}

  /** Starts watching; VMs saved to disk by an earlier lid close come back now unless the lid is closed. */
  static async start(host: LidHost, opts: { acpiDir?: string } = {}): Promise<LidWatch> {
    const w = await LidWatch.pick(host, opts);
    if (w.source?.status().lid !== 'closed') void host.handoff.resumeParked('roamd started');
    return w;
  }

  private static async pick(host: LidHost, opts: { acpiDir?: string }): Promise<LidWatch> {
    const cfg = host.config.lid ?? {};
    const mode = cfg.watcher ?? 'auto';
    const handlers: LidHandlers = {
      closed: async () => {
        try { await host.handoff.run('lid close'); } catch (e) { host.log(`lid: ${(e as Error).message}`); }
      },
      opened: () => { void host.handoff.resumeParked('lid opened'); },
      onAc: () => host.currentRecord().power.source === 'ac',
      log: (l) => host.log(l),
    };
    if (mode === 'off') return new LidWatch(host, undefined, 'lid watching is off (lid.watcher = off)');
    if (mode === 'auto' && host.config.role !== 'laptop') return new LidWatch(host, undefined, `this machine's role is ${host.config.role}, not laptop`);
    let logindProblem = 'not tried (lid.watcher = acpi)';
    if (mode !== 'acpi') {
      const address = cfg.dbusAddress ?? process.env.DBUS_SYSTEM_BUS_ADDRESS ?? SYSTEM_BUS_DEFAULT;
      try {
        const w = await LogindLidWatcher.start(address, handlers);
        host.log(`lid: watching logind on ${address}`);
        return new LidWatch(host, w, '');
      } catch (e) {
        logindProblem = (e as Error).message;
        if (mode === 'logind') {
          host.log(`lid: ${logindProblem}`);
          return new LidWatch(host, undefined, `logind was required (lid.watcher = logind) but: ${logindProblem}`);
        }
      }
    }
    const acpi = AcpiLidWatcher.start(handlers, opts.acpiDir ?? ACPI_LID_DIR);
    if (acpi) {
      host.log(`lid: logind unavailable (${logindProblem}); falling back to the ACPI lid state, which cannot hold off sleep`);
      return new LidWatch(host, acpi, '');
    }
    const why = `no logind (${logindProblem}) and no ACPI lid at ${opts.acpiDir ?? ACPI_LID_DIR}`;
    host.log(`lid: not watched: ${why}`);
    return new LidWatch(host, undefined, why);
  }

  status(): LidStatus {
    const h = this.host.handoff;
    const base = this.source ? this.source.status() : { source: 'none' as const, why: this.why };
    return {
      ...base, handoff: h.report(), handoffRunning: h.busy, budgetMs: h.budgetMs,
      parked: h.parkedList().map((p) => ({ vm: p.spec.name, savedAt: p.savedAt, why: p.why })),
    };
  }

  async stop(): Promise<void> { await this.source?.stop(); }
}
