// One probe guest under roam, kept running between runs and moved back and forth
// between the two namespace hosts: each run is a full migration to the other host
// (no image is kept, so nothing is reused on the way back).
import type { MigrationStats } from '../../migrate/index.js';
import type { MigrateCase } from './cases.js';
import { StampedOutput } from './beat-gaps.js';
import type { RoamHost } from './roam-host.js';
import type { GuestSession, MoveResult } from './session.js';

export class RoamSession implements GuestSession {
  readonly label: string;
  guest: StampedOutput | undefined;
  private holder: RoamHost | undefined;
  /** Each boot is a new VM id: a receiver remembers the ids (and generations) it has run. */
  private boots = 0;
  private id = '';

  constructor(private readonly hosts: [RoamHost, RoamHost], private readonly c: MigrateCase, private readonly baseId: string,
    label = 'roam (libp2p Noise + Yamux, zstd)') {
    this.label = label;
    for (const h of hosts) {
      h.onSerial = (vmId, data, at) => { if (vmId === this.id) this.guest?.push(data, at); };
    }
  }

  /** Which host holds the guest (index into hosts), for the namespace pair's bookkeeping. */
  get at(): number { return this.holder === this.hosts[1] ? 1 : 0; }

  async boot(): Promise<void> {
    this.guest = new StampedOutput(`roam ${this.c.key}`);
    this.holder = this.hosts[0];
    this.id = `${this.baseId}-${++this.boots}`;
    await this.holder.boot(this.id, this.c.memBytes, this.c.cmdline);
  }

  async pause(): Promise<void> { await this.holder!.command('pause', this.id); }
  async resume(): Promise<void> { await this.holder!.command('resume', this.id); }

  async move(): Promise<MoveResult> {
    const from = this.holder!;
    const to = from === this.hosts[0] ? this.hosts[1] : this.hosts[0];
    const s: MigrationStats = await from.send(this.id, to, this.c.deadlineMs);
    this.holder = to;
    return {
      totalMs: s.totalMs, downtimeMs: s.downtimeMs, rounds: s.rounds,
      extra: {
        vmmWireBytes: s.wireBytes, dataPagesSent: s.dataPagesSent, zeroPagesSent: s.zeroPagesSent,
        compressionRatio: s.compressionRatio, maxThrottle: s.maxThrottle,
        returnTrip: s.returnTrip ? 1 : 0, returnTripPagesReused: s.returnTripPagesReused,
      },
    };
  }

  async kill(): Promise<void> {
    const h = this.holder;
    this.holder = undefined;
    this.guest?.out.die('killed by the benchmark');
    await h?.command('kill', this.id).catch(() => undefined);
  }
}
