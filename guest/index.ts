// The probe guest's face: where the built kernel is, and how to read what it
// prints on its serial port (boot line, heartbeats). The guest itself is C and
// assembly under guest/src, built by guest/Makefile into guest/build/probe.elf.
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** The folder holding guest/Makefile, found upward from this file (run from source or from any dist folder). */
function projectRoot(): string {
  let dir = here;
  for (;;) {
    if (existsSync(join(dir, 'guest', 'Makefile'))) return dir;
    const up = dirname(dir);
    if (up === dir) {
      throw new Error(`probe guest: no guest/Makefile above ${here}; run from inside the roam checkout`);
    }
    dir = up;
  }
}

/** Absolute path of guest/build/probe.elf (it exists once `npm run build` or `make -C guest` ran). */
export function probeGuestPath(): string {
  return join(projectRoot(), 'guest', 'build', 'probe.elf');
}

/** One heartbeat: `HB seq=<n> ticks=<n> ms=<n> verified=<n> ok|CORRUPT <page>`. */
export interface Heartbeat {
  seq: number;
  ticks: number;
  ms: number;
  verified: number;
  ok: boolean;
  /** First page (guest-physical address / 4096) whose checksum failed; only when !ok. */
  corruptPage?: number;
}

/** The boot line: `PROBE boot mem=<MiB> fill=<bytes> ws=<bytes> rate=<bytes/s> beat=<ms> entropy=<x.xx> tsc_mhz=<n> timer_hz=<n> [extras]`. */
export interface BootLine {
  memMiB: number;
  fill: number;
  ws: number;
  rate: number;
  beatMs: number;
  entropy: number;
  tscMHz: number;
  timerHz: number;
  /** Set when the requested fill did not fit: the requested byte count. */
  clampedFillFrom?: number;
  /** Unknown command-line keys the guest ignored. */
  unknown: string[];
  /** Keys whose value the guest rejected (defaults kept). */
  bad: string[];
  /** Set when the guest was started with `screen=busy` (its desktop animates a 512x256 region). */
  screenBusy?: true;
}

// Longest line the parsers look at: the guest's lines are < 512 bytes.
const MAX_LINE = 1024;
const U = '(0|[1-9][0-9]{0,15})';
const HB_RE = new RegExp(`^HB seq=${U} ticks=${U} ms=${U} verified=${U} (?:(ok)|CORRUPT ${U})$`);
const BOOT_RE = new RegExp(
  `^PROBE boot mem=${U} fill=${U} ws=${U} rate=${U} beat=${U} entropy=([01]\\.[0-9]{2}) tsc_mhz=${U} timer_hz=${U}((?: [a-z_]+=[^ ]*)*)$`,
);

function safeInt(s: string): number | null {
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : null;
}

/** Parses one heartbeat line (a trailing '\r' is tolerated); null if it is not one. */
export function parseHeartbeat(line: string): Heartbeat | null {
  if (line.length > MAX_LINE) return null;
  const m = HB_RE.exec(line.replace(/\r$/, ''));
  if (!m) return null;
  const [seq, ticks, ms, verified] = [m[1], m[2], m[3], m[4]].map((s) => safeInt(s!));
  if (seq === null || ticks === null || ms === null || verified === null) return null;
  if (m[5] === 'ok') return { seq, ticks, ms, verified, ok: true };
  const page = safeInt(m[6]!);
  if (page === null) return null;
  return { seq, ticks, ms, verified, ok: false, corruptPage: page };
}

/** Parses the `PROBE boot …` line; null if it is not one. */
export function parseBootLine(line: string): BootLine | null {
  if (line.length > MAX_LINE) return null;
  const m = BOOT_RE.exec(line.replace(/\r$/, ''));
  if (!m) return null;
  const nums = [m[1], m[2], m[3], m[4], m[5], m[7], m[8]].map((s) => safeInt(s!));
  if (nums.some((n) => n === null)) return null;
  const [memMiB, fill, ws, rate, beatMs, tscMHz, timerHz] = nums as number[];
  const boot: BootLine = {
    memMiB: memMiB!, fill: fill!, ws: ws!, rate: rate!, beatMs: beatMs!,
    entropy: Number(m[6]), tscMHz: tscMHz!, timerHz: timerHz!, unknown: [], bad: [],
  };
  for (const extra of (m[9] ?? '').trim().split(' ').filter(Boolean)) {
    const eq = extra.indexOf('=');
    const key = extra.slice(0, eq);
    const value = extra.slice(eq + 1);
    if (key === 'clamped_fill_from') {
      const n = safeInt(value);
      if (n !== null) boot.clampedFillFrom = n;
    } else if (key === 'unknown') {
      boot.unknown = value.split(',').filter(Boolean);
    } else if (key === 'bad') {
      boot.bad = value.split(',').filter(Boolean);
    } else if (key === 'screen' && value === 'busy') {
      boot.screenBusy = true;
    }
  }
  return boot;
}

export interface HeartbeatWatcherOptions {
  /** Host clock in ms for wall-clock gaps (default Date.now); injectable for tests. */
  now?: () => number;
  /** Longest partial line kept while waiting for '\n'; longer input is dropped (default 4096). */
  maxLineBytes?: number;
}

/**
 * Consumes the guest's serial bytes (chunks may split lines anywhere) and
 * emits 'line' (every complete line), 'boot' (BootLine), 'ready',
 * 'heartbeat' (Heartbeat) and 'corrupt' (page, once). Tracks sequence gaps,
 * repeats, corruption and the largest host-side gap between heartbeats.
 */
export class HeartbeatWatcher extends EventEmitter {
  /** seq of the last heartbeat, 0 before the first. */
  lastSeq = 0;
  /** Heartbeats whose seq jumped by more than 1 (lost lines or a lost guest). */
  gaps = 0;
  /** Heartbeats whose seq did not increase (a guest that restarted or was duplicated). */
  repeats = 0;
  /** First corrupt page any heartbeat reported. */
  corruptPage: number | undefined;
  /** Largest host wall-clock gap between consecutive heartbeats, ms. */
  maxWallGapMs = 0;
  heartbeats = 0;
  boot: BootLine | undefined;
  ready = false;
  lastHeartbeat: Heartbeat | undefined;
  /** Lines longer than maxLineBytes that were dropped. */
  droppedLines = 0;

  private partial = '';
  private discarding = false;
  private lastWall: number | undefined;
  private readonly now: () => number;
  private readonly maxLine: number;
  private readonly decoder = new TextDecoder('utf-8', { fatal: false });

  constructor(opts: HeartbeatWatcherOptions = {}) {
    super();
    this.now = opts.now ?? Date.now;
    this.maxLine = opts.maxLineBytes ?? 4096;
  }

  /** Feeds serial output (bytes or text). */
  push(chunk: Uint8Array | string): void {
    let text = typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true });
    for (;;) {
      const nl = text.indexOf('\n');
      if (nl < 0) break;
      const piece = text.slice(0, nl);
      text = text.slice(nl + 1);
      if (this.discarding || this.partial.length + piece.length > this.maxLine) {
        this.droppedLines++;
      } else {
        this.handleLine((this.partial + piece).replace(/\r$/, ''));
      }
      this.partial = '';
      this.discarding = false;
    }
    if (this.discarding) return;
    if (this.partial.length + text.length > this.maxLine) {
      this.partial = '';
      this.discarding = true;   // drop until the next newline
    } else {
      this.partial += text;
    }
  }

  /** True while every heartbeat so far was ok, in order, without gaps or repeats. */
  get healthy(): boolean {
    return this.heartbeats > 0 && this.gaps === 0 && this.repeats === 0 && this.corruptPage === undefined;
  }

  private handleLine(line: string): void {
    this.emit('line', line);
    const hb = parseHeartbeat(line);
    if (hb) {
      this.onHeartbeat(hb);
      return;
    }
    if (line === 'PROBE ready') {
      this.ready = true;
      this.emit('ready');
      return;
    }
    const boot = parseBootLine(line);
    if (boot) {
      this.boot = boot;
      this.emit('boot', boot);
    }
  }

  private onHeartbeat(hb: Heartbeat): void {
    const wall = this.now();
    if (this.heartbeats > 0) {
      if (hb.seq <= this.lastSeq) this.repeats++;
      else if (hb.seq > this.lastSeq + 1) this.gaps++;
      if (this.lastWall !== undefined) this.maxWallGapMs = Math.max(this.maxWallGapMs, wall - this.lastWall);
    }
    this.lastWall = wall;
    this.lastSeq = hb.seq;
    this.heartbeats++;
    this.lastHeartbeat = hb;
    this.emit('heartbeat', hb);
    if (!hb.ok && this.corruptPage === undefined) {
      this.corruptPage = hb.corruptPage;
      this.emit('corrupt', hb.corruptPage);
    }
  }
}
