// One probe guest under QEMU/KVM, moved back and forth between the two namespace
// hosts by QEMU's own live migration over TCP: a destination QEMU started with
// `-incoming defer` in the other namespace, capabilities and parameters set on
// both sides over QMP, `migrate`, then query-migrate until it completes.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NsPair } from '../lib/netns.js';
import { startQemu, type QemuProbe } from '../lib/qemu.js';
import type { Qmp } from '../lib/qmp.js';
import { sleep } from '../lib/measure.js';
import { StampedOutput, wallMs } from './beat-gaps.js';
import { QEMU_LABEL, TLS_CLIENT, TLS_SERVER, qemuSetup, type MigrateCase, type QemuVariant } from './cases.js';
import type { GuestSession, MoveResult } from './session.js';

let nextPort = 47_000;

/** Every QEMU this module started and has not stopped yet, for an interrupted run to kill. */
export const liveQemus = new Set<QemuProbe>();

/** A directory with a fresh PSK (`keys.psk`: `username:hexkey`) shared by both ends. */
export function pskDir(): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'roam-bench-psk-'));
  writeFileSync(join(dir, 'keys.psk'), `qemu:${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

async function setUp(qmp: Qmp, caps: Record<string, boolean>, params: Record<string, unknown>): Promise<void> {
  await qmp.execute('migrate-set-capabilities', {
    capabilities: Object.entries(caps).map(([capability, state]) => ({ capability, state })),
  });
  await qmp.execute('migrate-set-parameters', params);
}

export class QemuSession implements GuestSession {
  readonly label: string;
  guest: StampedOutput | undefined;
  private holder: { probe: QemuProbe; side: 0 | 1 } | undefined;

  constructor(private readonly ns: NsPair, private readonly c: MigrateCase, readonly variant: QemuVariant, private readonly psk: string) {
    this.label = QEMU_LABEL[variant];
  }

  private async start(side: 0 | 1, incoming: boolean): Promise<QemuProbe> {
    const nsName = side === 0 ? this.ns.a : this.ns.b;
    const probe = await startQemu({
      memBytes: this.c.memBytes, cmdline: this.c.cmdline, name: `${this.label} ${this.c.key}`,
      wrap: this.ns.exec(nsName),
      incoming: incoming ? 'defer' : undefined,
      // Both credentials on every QEMU: the destination of one run is the source of the next.
      extraArgs: [
        '-object', `tls-creds-psk,id=${TLS_SERVER},endpoint=server,dir=${this.psk}`,
        '-object', `tls-creds-psk,id=${TLS_CLIENT},endpoint=client,dir=${this.psk},username=qemu`,
      ],
    });
    liveQemus.add(probe);
    probe.proc.on('exit', () => liveQemus.delete(probe));
    const guest = this.guest!;
    probe.proc.stdout!.on('data', (d: Buffer) => guest.push(d, wallMs()));
    probe.proc.on('exit', () => { if (this.holder?.probe === probe) guest.out.die(probe.out.dead ?? 'QEMU exited'); });
    return probe;
  }

  async boot(): Promise<void> {
    this.guest = new StampedOutput(`${this.label} ${this.c.key}`);
    this.holder = { probe: await this.start(0, false), side: 0 };
  }

  async pause(): Promise<void> { await this.holder!.probe.qmp.execute('stop'); }
  async resume(): Promise<void> { await this.holder!.probe.qmp.execute('cont'); }

  async move(): Promise<MoveResult> {
    const src = this.holder!;
    const toSide: 0 | 1 = src.side === 0 ? 1 : 0;
    const ip = toSide === 0 ? this.ns.ipA : this.ns.ipB;
    const setup = qemuSetup(this.variant);
    const dst = await this.start(toSide, true);
    try {
      await setUp(dst.qmp, setup.dstCaps, setup.dstParams);
      const uri = `tcp:${ip}:${nextPort++}`;
      await dst.qmp.execute('migrate-incoming', { uri });
      await setUp(src.probe.qmp, setup.srcCaps, setup.srcParams);
      await src.probe.qmp.execute('migrate', { uri });
      const info = await this.completion(src.probe.qmp);
      // The destination runs from here on; the source stays in 'postmigrate' until killed.
      this.holder = { probe: dst, side: toSide };
      await src.probe.stop();
      const ram = (info.ram ?? {}) as Record<string, number>;
      return {
        totalMs: Number(info['total-time']), downtimeMs: Number(info.downtime), rounds: Number(ram['dirty-sync-count']),
        extra: {
          vmmWireBytes: Number(ram.transferred ?? 0), setupMs: Number(info['setup-time'] ?? 0),
          normalPages: Number(ram.normal ?? 0), duplicatePages: Number(ram.duplicate ?? 0),
          cpuThrottlePercentage: Number(info['cpu-throttle-percentage'] ?? 0),
        },
      };
    } catch (e) {
      if (this.holder?.probe !== dst) await dst.stop();
      throw e;
    }
  }

  /** Polls query-migrate (every 50 ms: QEMU's own total-time is the figure, not this loop's). */
  private async completion(qmp: Qmp): Promise<Record<string, unknown>> {
    const deadline = Date.now() + this.c.deadlineMs;
    // A QEMU that was itself a migration's destination can still answer 'completed' (that
    // incoming one) right after `migrate`: only a completion after this migration was seen
    // running counts.
    let started = false;
    for (;;) {
      const info = (await qmp.execute('query-migrate')) as Record<string, unknown>;
      if (info.status === 'completed' && started) {
        if (!(Number(info['total-time']) > 0)) throw new Error(`QEMU reported completion without a total time: ${JSON.stringify(info).slice(0, 200)}`);
        return info;
      }
      if (info.status !== 'completed' && info.status !== 'none') started = true;
      if (info.status === 'failed' || info.status === 'cancelled') {
        throw new Error(`QEMU migration ${String(info.status)}${info['error-desc'] ? `: ${String(info['error-desc'])}` : ''}`);
      }
      if (Date.now() > deadline) {
        await qmp.execute('migrate_cancel').catch(() => undefined);
        const ram = (info.ram ?? {}) as Record<string, number>;
        throw new Error(`QEMU did not converge within ${this.c.deadlineMs} ms (status '${String(info.status)}', ` +
          `${ram['dirty-sync-count'] ?? '?'} dirty syncs, ${ram['dirty-pages-rate'] ?? '?'} pages/s dirtied); cancelled`);
      }
      await sleep(50);
    }
  }

  async kill(): Promise<void> {
    const h = this.holder;
    this.holder = undefined;
    this.guest?.out.die('killed by the benchmark');
    await h?.probe.stop().catch(() => undefined);
  }
}
