// Benchmark `screen`: the VM's screen in the browser (issue 8, "measure and note").
// Two namespaced household machines with roamd each (node/demo/household.ts); the probe guest
// with its 1024x768 desktop runs on `basement`; a Chromium sits on each machine. Per run and
// side (the browser on the VM's own host, or on `laptop`, where the screen crosses libp2p
// /roam/screen/1.0.0), alternating which side goes first:
//  - the bytes of the page's screen WebSocket over a fixed window, beside what VNC's Raw
//    encoding would have sent for the same rects (from the updates' headers);
//  - frame update latency: keys typed into the page until the canvas's typed-text panel changes.
// First with an idle desktop, then with `screen=busy` (a 512x256 region repainted every frame).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import type { Benchmark, BenchOptions } from './lib/bench.js';
import { hostFacts, loadNow } from './lib/host.js';
import { addExtra, newSide, sleep, trial, type Side } from './lib/measure.js';
import type { BenchReport, Row } from './lib/report.js';
import { Household } from '../node/demo/household.js';
import { netnsProblem } from '../node/demo/lan.js';
import { chromiumProblem, CHROMIUM_PATH } from '../test/support/browser.js';
import { kvmProblem } from '../test/support/kvm.js';
import { perSecond, type Area, type StreamTally } from './screen/stream-tally.js';
import { TEXT_PANEL } from './screen/key-latency.js';
import { Viewer } from './screen/viewer.js';

const HOST = 'basement';
const AWAY = 'laptop';
/** 10.88.0.0/24 and roam-bs-<pid>-*: apart from the tests' and the other benchmarks' namespaces. */
const LAN = { net: 88, prefix: 'roam-bs-' };
/** guest/README.md "screen=busy": the region repainted every frame. */
const BUSY_REGION: Area = { x: 256, y: 420, w: 512, h: 256 };
const KiB = 1024;

type Desk = 'idle' | 'busy';
type Where = 'local' | 'remote';

interface Plan { runs: number; windowMs: number; keysPerRun: number; settleMs: number }
const QUICK: Plan = { runs: 5, windowMs: 5000, keysPerRun: 4, settleMs: 1000 };
const FULL: Plan = { runs: 7, windowMs: 10_000, keysPerRun: 6, settleMs: 1000 };

/** The probe's workload: no RAM rewriting, so the guest's vCPU does little but draw. */
const WORKLOAD = 'fill=8192K ws=1024K rate=0K beat=100ms entropy=0.3';
const VM: Record<Desk, string> = { idle: 'desk-idle', busy: 'desk-busy' };
/** Keys typed per run: a letter, then backspace, so the line never fills and each key changes the panel. */
const KEYS = ['KeyR', 'Backspace', 'KeyO', 'Backspace', 'KeyA', 'Backspace', 'KeyM', 'Backspace'];

const WHERE_LABEL: Record<Where, string> = {
  local: `browser on the VM's host (${HOST}: local screen source)`,
  remote: `browser on ${AWAY} (screen over libp2p /roam/screen/1.0.0 from ${HOST})`,
};

interface Sides {
  latency: Record<Where, Side>;
  wire: Record<Where, Side>;
  raw: Record<Where, Side>;
  changed: Record<Where, Side>;
  lan: Side;
  /** The remote page's WebSocket bytes in the same windows as `lan`. */
  lanPage: Side;
}

function newSides(): Sides {
  const bySide = (what: (w: Where) => string) => ({ local: newSide(what('local')), remote: newSide(what('remote')) });
  return {
    latency: bySide((w) => WHERE_LABEL[w]),
    wire: bySide((w) => `roam WebSocket to the page (deflate), ${w === 'local' ? `browser on ${HOST}` : `browser on ${AWAY}`}`),
    raw: bySide(() => 'VNC Raw encoding of the same rects (32 bpp)'),
    changed: bySide(() => 'VNC Raw encoding of the changed pixels\' bounding box per rect (32 bpp)'),
    lan: newSide(`roam on the LAN (libp2p, Noise, ${HOST} eth0 tx)`),
    lanPage: newSide(`the WebSocket bytes the page on ${AWAY} received`),
  };
}

function txBytes(house: Household, machine: string): number {
  const r = spawnSync('ip', ['netns', 'exec', house.lan.ns(machine), 'cat', '/sys/class/net/eth0/statistics/tx_bytes'], { encoding: 'utf8' });
  const n = Number(r.stdout?.trim());
  if (r.status !== 0 || !Number.isFinite(n)) throw new Error(`cannot read ${machine}'s eth0 tx_bytes: ${r.stderr?.trim()}`);
  return n;
}

function startVm(house: Household, desk: Desk): void {
  const cmdline = desk === 'busy' ? `${WORKLOAD} screen=busy` : WORKLOAD;
  const r = house.roam(HOST, 'run', 'probe', '--name', VM[desk], '--mem', '128M', '--cmdline', cmdline);
  if (r.code !== 0) throw new Error(`roam run probe (${desk}) on ${HOST} failed: ${r.err.trim()}`);
}

function stopVm(house: Household, desk: Desk): void {
  const r = house.roam(HOST, 'stop', VM[desk]);
  if (r.code !== 0) throw new Error(`roam stop ${VM[desk]} failed: ${r.err.trim()}`);
}

function recordWindow(s: Sides, desk: Desk, where: Where, t: StreamTally, ms: number, changedRaw: number, lanBytes: number | null): void {
  if (t.malformed) throw new Error(`${t.malformed} screen frames were not well-formed updates`);
  if (t.updates === 0) throw new Error(`no screen update reached the page in ${ms.toFixed(0)} ms`);
  if (desk === 'busy' && t.watchedPixels === 0) throw new Error('no update touched the busy region: is the guest running with screen=busy?');
  s.wire[where].samples.push(perSecond(t.wireBytes, ms) / KiB);
  s.raw[where].samples.push(perSecond(t.rawBytes, ms) / KiB);
  s.changed[where].samples.push(perSecond(changedRaw, ms) / KiB);
  const side = s.wire[where];
  addExtra(side, 'windowMs', ms);
  addExtra(side, 'updatesPerS', perSecond(t.updates, ms));
  addExtra(side, 'rectsPerS', perSecond(t.rects, ms));
  addExtra(side, 'pixelsPerS', perSecond(t.pixels, ms));
  addExtra(side, 'fullUpdates', t.fullUpdates);
  addExtra(side, 'framesPerS', perSecond(t.frames, ms));
  if (desk === 'busy') addExtra(side, 'busyRegionPixelsPerS', perSecond(t.watchedPixels, ms));
  if (where === 'remote' && lanBytes !== null) {
    s.lan.samples.push(perSecond(lanBytes, ms) / KiB);
    s.lanPage.samples.push(perSecond(t.wireBytes, ms) / KiB);
  }
}

/** The sides a window of the stream feeds (a failed window fails them all). */
function streamSides(s: Sides, where: Where): Side[] {
  return [s.wire[where], s.raw[where], s.changed[where], ...(where === 'remote' ? [s.lan, s.lanPage] : [])];
}

/** One viewing: open the screen, count a window of the stream, type keys, leave. */
async function session(o: BenchOptions, plan: Plan, house: Household, viewer: Viewer, desk: Desk, where: Where, s: Sides, run: number): Promise<void> {
  const tag = `${desk} ${where} run ${run + 1}`;
  try {
    await viewer.show(VM[desk]);
  } catch (e) {
    const why = `opening the screen failed: ${(e as Error).message}`;
    for (const side of [...streamSides(s, where), s.latency[where]]) side.failures.push(why);
    o.log(`${tag}: FAILED: ${why}`);
    await viewer.hide().catch(() => undefined);
    return;
  }
  await sleep(plan.settleMs);
  const first = viewer.firstUpdate();
  if (first !== null) addExtra(s.wire[where], 'firstUpdateBytes', first);
  try {
    const lan0 = where === 'remote' ? txBytes(house, HOST) : null;
    const { tally, ms, changedRawBytes } = await viewer.count(plan.windowMs, desk === 'busy' ? BUSY_REGION : undefined);
    const lanBytes = lan0 !== null ? txBytes(house, HOST) - lan0 : null;
    recordWindow(s, desk, where, tally, ms, changedRawBytes, lanBytes);
    o.log(`${tag}: ${(perSecond(tally.wireBytes, ms) / KiB).toFixed(1)} KiB/s to the page (raw: rects ${(perSecond(tally.rawBytes, ms) / KiB).toFixed(0)}, ` +
      `changed pixels ${(perSecond(changedRawBytes, ms) / KiB).toFixed(0)} KiB/s; ` +
      `${perSecond(tally.updates, ms).toFixed(1)} updates/s${lanBytes !== null ? `, LAN ${(perSecond(lanBytes, ms) / KiB).toFixed(1)} KiB/s` : ''})`);
  } catch (e) {
    const why = (e as Error).message;
    for (const side of streamSides(s, where)) side.failures.push(why);
    o.log(`${tag}: stream window FAILED: ${why}`);
  }
  const times: string[] = [];
  for (let k = 0; k < plan.keysPerRun; k++) {
    const code = KEYS[k % KEYS.length]!;
    const ms = await trial(s.latency[where], async () => (await viewer.timeKey(code)).ms);
    times.push(ms === null ? 'FAILED' : ms.toFixed(0));
    // A pause of varying length, so keys do not fall at one phase of the guest's 50 ms frame.
    await sleep(250 + Math.random() * 200);
  }
  o.log(`${tag}: key → panel ${times.join(', ')} ms`);
  await viewer.hide();
}

function rows(s: Record<Desk, Sides>, plan: Plan, done: Desk[]): Row[] {
  const out: Row[] = [];
  const window = `${plan.windowMs / 1000} s windows`;
  for (const desk of done) {
    const d = s[desk];
    const deskName = desk === 'busy' ? 'screen=busy desktop (512x256 animated every frame)' : 'idle desktop';
    out.push({
      figure: 'frame update latency', case: `key → typed-text panel changes on the canvas, ${deskName}`, unit: 'ms',
      roam: d.latency.remote, baseline: d.latency.local,
      note: `keydown in the page → first animation frame (polled with getImageData, ~16.7 ms resolution) whose text panel (y ${TEXT_PANEL.y}..${TEXT_PANEL.y + TEXT_PANEL.h - 1}) differs, page clock. ` +
        'Includes up to one guest frame (50 ms at 20 frames/s: the probe polls the keyboard once a frame) and up to one damage poll of the screen service (33 ms). ' +
        `Baseline = the browser on the VM's host; roam = the browser on another machine (${AWAY}).`,
    });
    for (const where of ['local', 'remote'] as Where[]) {
      const viewing = `${deskName}, ${where === 'local' ? `browser on ${HOST} (the VM's host)` : `browser on ${AWAY}`}, ${window}`;
      out.push({
        figure: 'screen stream bandwidth vs raw rects', case: viewing, unit: 'KiB/s',
        roam: d.wire[where], baseline: d.raw[where],
        note: 'roam = payload + WebSocket frame header of every frame the page received on /ws/screen (updates and state messages). ' +
          'Baseline = the same updates in VNC Raw encoding (4 + 12 per rect + 4 bytes per pixel) from the rect sizes in the updates\' headers: ' +
          'roam\'s own damage (whole 64x64 tiles that changed), uncompressed. The first (full) update of each viewing is outside the window.',
      });
      out.push({
        figure: 'screen stream bandwidth vs raw changed pixels', case: viewing, unit: 'KiB/s',
        roam: d.wire[where], baseline: d.changed[where],
        note: 'roam as in the row above. Baseline = VNC Raw of only the bounding box of the pixels that changed inside each rect ' +
          '(the picture rebuilt from the viewing\'s updates; an update that changed nothing counts 0): what a server with exact damage would send uncompressed.',
      });
    }
    out.push({
      figure: 'screen stream on the LAN', case: `${deskName}, ${HOST} → ${AWAY} while the browser on ${AWAY} watches, ${window}`, unit: 'KiB/s',
      roam: d.lan, baseline: d.lanPage,
      note: `${HOST}'s eth0 tx bytes over the window (IP + TCP + Noise + Yamux + /roam/screen/1.0.0 frames, plus whatever else roamd sends: mDNS, pings, records); ` +
        `baseline = the WebSocket bytes the page on ${AWAY} received in the same window, so the ratio is what the hop between machines adds.`,
    });
  }
  return out;
}

export const screen: Benchmark = {
  name: 'screen',
  description: 'VM screen in the browser: key→pixels latency (remote vs local viewer), stream bytes (roam vs VNC Raw), idle and busy desktop',
  async run(o: BenchOptions): Promise<BenchReport> {
    const startedAt = new Date().toISOString();
    const loadBefore = loadNow();
    const plan = o.quick ? QUICK : FULL;
    const sides: Record<Desk, Sides> = { idle: newSides(), busy: newSides() };
    const done: Desk[] = [];
    let house: Household | undefined;
    const viewers: Viewer[] = [];
    const root = mkdtempSync(join(tmpdir(), 'roam-bench-screen-'));
    const cleanup = async () => {
      for (const v of viewers) await v.close();
      await house?.stop().catch(() => undefined);
      rmSync(root, { recursive: true, force: true });
    };
    const interrupted = () => { void cleanup().finally(() => process.exit(130)); };
    process.once('SIGINT', interrupted);
    process.once('SIGTERM', interrupted);
    const report = (partial?: string): BenchReport => ({
      name: 'screen',
      title: 'VM screen in the browser: frame latency (viewer on another machine vs on the VM\'s host) and stream bandwidth (roam vs VNC Raw)',
      startedAt, finishedAt: new Date().toISOString(), quick: o.quick,
      host: {
        ...hostFacts(loadBefore), chromium: chromiumVersion(),
        guest: `probe, 128 MiB, 1024x768, ${WORKLOAD} [screen=busy]`,
        plan: `${plan.runs} runs per side and desktop, ${plan.windowMs / 1000} s stream window, ${plan.keysPerRun} keys per run`,
      },
      rows: rows(sides, plan, done),
      ...(partial ? { partial } : {}),
    });
    try {
      const problem = kvmProblem() ?? netnsProblem(LAN.prefix) ?? chromiumProblem();
      if (problem) throw new Error(problem);
      house = new Household(root, [{ name: HOST, role: 'server' }, { name: AWAY, role: 'laptop' }], LAN);
      await house.start();
      house.formHousehold('bench');
      await house.waitUntilAllSeeEachOther();
      const local = await Viewer.open(house, HOST, root);
      viewers.push(local);
      const remote = await Viewer.open(house, AWAY, root);
      viewers.push(remote);
      const viewer: Record<Where, Viewer> = { local, remote };
      for (const desk of ['idle', 'busy'] as Desk[]) {
        startVm(house, desk);
        o.log(`${desk} desktop: ${VM[desk]} runs on ${HOST}; a warm-up viewing on each side`);
        // Unrecorded: the first page load, sign-in and JIT warm-up of each browser.
        for (const where of ['local', 'remote'] as Where[]) {
          await viewer[where].show(VM[desk]);
          await viewer[where].timeKey('KeyW').catch(() => undefined);
          await sleep(300);
          await viewer[where].timeKey('Backspace').catch(() => undefined);
          await viewer[where].hide();
        }
        for (let run = 0; run < plan.runs; run++) {
          const order: Where[] = run % 2 === 0 ? ['local', 'remote'] : ['remote', 'local'];
          for (const where of order) await session(o, plan, house, viewer[where], desk, where, sides[desk], run);
        }
        stopVm(house, desk);
        done.push(desk);
        if (desk === 'idle') o.checkpoint(report('idle desktop measured; busy desktop not yet'));
      }
    } catch (e) {
      const why = (e as Error).message;
      o.log(`FAILED: ${(e as Error).stack ?? why}`);
      // Whatever was not measured shows up as failed, in its own rows.
      for (const desk of ['idle', 'busy'] as Desk[]) {
        if (done.includes(desk)) continue;
        const d = sides[desk];
        for (const side of [d.latency.remote, d.latency.local, ...streamSides(d, 'local'), ...streamSides(d, 'remote')]) {
          side.failures.push(`benchmark stopped${side.samples.length ? ` after ${side.samples.length} samples` : ''}: ${why}`);
        }
        done.push(desk);
      }
    } finally {
      await cleanup();
      process.off('SIGINT', interrupted);
      process.off('SIGTERM', interrupted);
    }
    return report();
  },
};

function chromiumVersion(): string {
  const r = spawnSync(CHROMIUM_PATH, ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : 'unknown';
}
