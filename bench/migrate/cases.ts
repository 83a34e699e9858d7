// What the `migrate` benchmark measures: the guest workloads, the links, QEMU's
// migration setups, and how per-run outcomes become the sides of a comparison.
// Pure: no processes here, so it is unit-tested (test/bench-migrate.test.ts).
import { addExtra, newSide, type Side } from '../lib/measure.js';

export const MiB = 2 ** 20;
export const GiB = 2 ** 30;
/** Share of each guest page that is pseudo-random (the rest compresses to nothing). */
export const ENTROPY = 0.3;
/** Heartbeat period: the resolution of the guest-visible pause. */
export const BEAT_MS = 20;
/** roam's downtime target; QEMU's downtime-limit is set to the same. */
export const TARGET_DOWNTIME_MS = 50;

export interface MigrateCase {
  key: string;
  label: string;
  memBytes: number;
  cmdline: string;
  /** Pre-copy that has not converged by then gives up (roam: deadline; QEMU: migrate_cancel). */
  deadlineMs: number;
}

const probe = (fill: string, ws: string, rate: string) =>
  `fill=${fill} ws=${ws} rate=${rate} beat=${BEAT_MS}ms entropy=${ENTROPY}`;

export const CASES: Record<string, MigrateCase> = {
  idle1g: { key: 'idle1g', label: '1 GiB idle (512 MiB filled)', memBytes: GiB, cmdline: probe('512M', '4M', '0'), deadlineMs: 60_000 },
  ws1g: { key: 'ws1g', label: '1 GiB (512 MiB filled), 256 MiB working set at 100 MiB/s', memBytes: GiB, cmdline: probe('512M', '256M', '100M'), deadlineMs: 60_000 },
  ws4g: { key: 'ws4g', label: '4 GiB (3 GiB filled), 256 MiB working set at 100 MiB/s', memBytes: 4 * GiB, cmdline: probe('3G', '256M', '100M'), deadlineMs: 90_000 },
  outrun1g: { key: 'outrun1g', label: '1 GiB (512 MiB filled), all 512 MiB rewritten as fast as the vCPU can (outruns the link)', memBytes: GiB, cmdline: probe('512M', '512M', '2G'), deadlineMs: 60_000 },
};

export interface Link { key: string; label: string; rate: string | null }
export const LINKS: Record<string, Link> = {
  veth: { key: 'veth', label: 'unshaped veth', rate: null },
  gbit: { key: 'gbit', label: 'tc-shaped 1 Gbit/s', rate: '1gbit' },
};

export type QemuVariant = 'plain' | 'tls' | 'tls-ac' | 'multifd-zstd';
export const QEMU_LABEL: Record<QemuVariant, string> = {
  plain: 'QEMU 7.2 plaintext',
  tls: 'QEMU 7.2 TLS (PSK)',
  'tls-ac': 'QEMU 7.2 TLS + auto-converge',
  'multifd-zstd': 'QEMU 7.2 multifd (2 channels) + zstd',
};

export interface Plan { cases: MigrateCase[]; links: Link[]; variants: QemuVariant[]; runs: number }

/** --quick: the two 1 GiB cases, unshaped, roam vs QEMU-TLS and QEMU-plain, 5 runs. */
export function planFor(quick: boolean): Plan {
  if (quick) return { cases: [CASES.idle1g!, CASES.ws1g!], links: [LINKS.veth!], variants: ['tls', 'plain'], runs: 5 };
  return {
    cases: [CASES.idle1g!, CASES.ws1g!, CASES.ws4g!, CASES.outrun1g!],
    links: [LINKS.veth!, LINKS.gbit!],
    variants: ['tls', 'plain', 'tls-ac', 'multifd-zstd'],
    runs: 5,
  };
}

/** The QMP settings of one QEMU migration setup, for the source and the destination. */
export interface QemuSetup {
  srcCaps: Record<string, boolean>;
  dstCaps: Record<string, boolean>;
  srcParams: Record<string, unknown>;
  dstParams: Record<string, unknown>;
}

/** Names of the two tls-creds-psk objects every QEMU of the benchmark is started with. */
export const TLS_SERVER = 'tls-srv';
export const TLS_CLIENT = 'tls-cli';
/** "Lift the cap": QEMU's default max-bandwidth is 128 MiB/s. */
export const UNCAPPED_BYTES_PER_SEC = 100 * GiB;

export function qemuSetup(v: QemuVariant): QemuSetup {
  const tls = v === 'tls' || v === 'tls-ac';
  const multifd = v === 'multifd-zstd';
  const caps = { 'auto-converge': v === 'tls-ac', multifd };
  const common: Record<string, unknown> = multifd ? { 'multifd-channels': 2, 'multifd-compression': 'zstd' } : { 'multifd-compression': 'none' };
  return {
    srcCaps: caps,
    dstCaps: { multifd },
    srcParams: {
      ...common, 'tls-creds': tls ? TLS_CLIENT : '',
      'downtime-limit': TARGET_DOWNTIME_MS, 'max-bandwidth': UNCAPPED_BYTES_PER_SEC,
    },
    dstParams: { ...common, 'tls-creds': tls ? TLS_SERVER : '' },
  };
}

/** One migration run as measured, or why it failed. */
export type Outcome =
  | {
    ok: true; totalMs: number; downtimeMs: number; pauseMs: number; wireBytes: number; rounds: number;
    /** Largest step of the guest's own clock between heartbeats (the guest ran but could not beat). */
    guestGapMs: number;
    /** How long the guest's clock stood still over the run (host time − guest time, ≥ 0): the stop. */
    frozenMs: number;
    extra: Record<string, number>;
  }
  | { ok: false; reason: string };

export interface Figure { key: 'totalMs' | 'downtimeMs' | 'pauseMs' | 'guestGapMs' | 'frozenMs' | 'wireMiB' | 'rounds'; figure: string; unit: string; note?: string }
export const FIGURES: Figure[] = [
  { key: 'totalMs', figure: 'total migration time', unit: 'ms' },
  { key: 'downtimeMs', figure: 'downtime (as the VMM reports it)', unit: 'ms' },
  {
    key: 'pauseMs', figure: 'guest-visible pause (largest heartbeat gap, host arrival)', unit: 'ms',
    note: `heartbeat every ${BEAT_MS} ms, so ${BEAT_MS} ms is no pause. Timed when a line first reaches a host process: ` +
      'under roam that is the agent (peer) process, which relays the VM process\'s serial output while it runs the migration, ' +
      'so a busy agent delays lines the guest printed on time — compare the two guest-clock rows below',
  },
  {
    key: 'guestGapMs', figure: 'largest heartbeat gap, guest clock', unit: 'ms',
    note: 'the guest\'s own TSC clock between consecutive heartbeats: the guest was running but could not beat (vCPU starved or throttled); immune to relay delays',
  },
  {
    key: 'frozenMs', figure: 'guest clock stood still (host time − guest time over the run)', unit: 'ms',
    note: 'both VMMs carry the TSC across, so the stop-and-copy pause is time the guest clock misses; includes the clock calibration error (~0.1 % of the run), negative values shown as 0',
  },
  { key: 'wireMiB', figure: 'bytes on the wire (veth, both directions)', unit: 'MiB' },
  { key: 'rounds', figure: 'rounds (dirty syncs)', unit: 'rounds' },
];

/** The value of one figure in a successful outcome. */
export function figureValue(o: Extract<Outcome, { ok: true }>, f: Figure): number {
  if (f.key === 'wireMiB') return o.wireBytes / MiB;
  if (f.key === 'frozenMs') return Math.max(0, o.frozenMs);
  return o[f.key];
}

/** One Side per figure from a list of outcomes; a failed run is a failure on every figure. */
export function sidesFrom(label: string, outcomes: readonly Outcome[]): Map<Figure['key'], Side> {
  const sides = new Map<Figure['key'], Side>();
  for (const f of FIGURES) {
    const side = newSide(label);
    for (const o of outcomes) {
      if (!o.ok) { side.failures.push(o.reason); continue; }
      side.samples.push(figureValue(o, f));
      if (f.key === 'totalMs') for (const [k, v] of Object.entries(o.extra)) addExtra(side, k, v);
    }
    sides.set(f.key, side);
  }
  return sides;
}

/** `list` rotated left by `n`: each run starts with a different side, so no side always goes first. */
export function rotate<T>(list: readonly T[], n: number): T[] {
  if (list.length === 0) return [];
  const k = ((n % list.length) + list.length) % list.length;
  return [...list.slice(k), ...list.slice(0, k)];
}
