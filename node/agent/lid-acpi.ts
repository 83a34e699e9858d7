// The lid without logind: the ACPI button state in /proc/acpi/button/lid/*/state,
// read once a second. This fallback cannot hold off sleep (there is no
// inhibitor without logind), so whatever else suspends the machine on a lid
// close races the hand-off; `roam status` says so. It asks for no sleep itself.
import { existsSync } from 'node:fs';
import { readLid } from '../../discovery/index.js';
import type { LidHandlers } from './lid-logind.js';

export const ACPI_LID_DIR = '/proc/acpi/button/lid';
const POLL_MS = 1_000;

export interface AcpiStatus { source: 'acpi'; dir: string; lid: 'open' | 'closed' | 'unknown'; inhibitor: string; lastSleep: null }

export class AcpiLidWatcher {
  private lid: 'open' | 'closed' | null;
  private handling: Promise<void> | undefined;
  private readonly timer: NodeJS.Timeout;

  private constructor(private readonly dir: string, private readonly h: LidHandlers) {
    this.lid = readLid(dir);
    this.timer = setInterval(() => this.poll(), POLL_MS);
    this.timer.unref();
  }

  /** Undefined when this machine has no ACPI lid. */
  static start(h: LidHandlers, dir = ACPI_LID_DIR): AcpiLidWatcher | undefined {
    if (!existsSync(dir) || readLid(dir) === null) return undefined;
    return new AcpiLidWatcher(dir, h);
  }

  status(): AcpiStatus {
    return { source: 'acpi', dir: this.dir, lid: this.lid ?? 'unknown', inhibitor: 'none (no logind: sleep is not held off while the session leaves)', lastSleep: null };
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.handling?.catch(() => undefined);
  }

  private poll(): void {
    const now = readLid(this.dir);
    if (now === null || now === this.lid) return;
    this.lid = now;
    this.h.log(`lid: ${now} (ACPI)`);
    if (now === 'closed') {
      if (this.handling) { this.h.log('lid: closed again while the hand-off still runs; it is not started twice'); return; }
      this.handling = this.h.closed().catch((e: Error) => this.h.log(`lid: the hand-off failed: ${e.message}`)).finally(() => { this.handling = undefined; });
    } else {
      this.h.opened();
    }
  }
}
