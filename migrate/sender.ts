// The source side of /roam/migrate/1.0.0: hello, pre-copy rounds, throttling,
// stop-and-copy, and the commit handshake with its "ask again" recovery.
import { BandwidthMeter, DirtyBitmap, MonotoneEta, PAGE_SIZE, deadlinePresses, nextThrottle, predictDowntimeMs } from '../dirty-tracking/index.js';
import { planBatches, type EncodedBatch } from './batches.js';
import { FrameReader, FrameWriter, sendLastAndReset, type MigrationStream } from './channel.js';
import { sharedCompressPool, type CompressPool } from './compress-pool.js';
import { MigrationError, ProtocolError, errorMessage, type Phase } from './errors.js';
import { T, decodeFrame, encode, frameName, type Accept, type Frame, type Hello } from './frames.js';
import type { KeptImages } from './kept-images.js';
import type { MigrationStats, Progress } from './progress.js';
import { hashParts, regionViews, regions, REGION_BYTES } from './regions.js';
import { slotPages, type VmHandle } from './vm-handle.js';

export interface SendOptions {
  vm: VmHandle;
  /** Opens a new stream on /roam/migrate/1.0.0 to the destination (called again for status queries). */
  openStream: () => Promise<MigrationStream>;
  targetDowntimeMs?: number;        // default 50
  /** Give up pre-copy (resume here, unthrottled) if not converged by then. Default 120 s. */
  deadlineMs?: number;
  /** zstd in a worker pool (default on). Pass a pool to share one between migrations. */
  compression?: boolean;
  pool?: CompressPool;
  signal?: AbortSignal;
  onProgress?: (p: Progress) => void;
  features?: string[];
  /** Wait for each reply (accept, ready, running) at most this long. Default 30 s. */
  replyTimeoutMs?: number;
  /** After commit with no answer: how often and how long to ask again. */
  statusRetryMs?: number;           // default 500
  statusDeadlineMs?: number;        // default 10 min; past it the VM stays paused here
  /** Unacknowledged bytes in flight (receiver acks what it has applied). Default 8 MiB. */
  windowBytes?: number;
  /** Keep the image here after the VM has left (for a cheap return trip). */
  keep?: KeptImages;
}

/** Frames from the destination, read concurrently with sending. */
class Inbox {
  acked = 0;
  private queue: Frame[] = [];
  private error: Error | null = null;
  private wake: (() => void) | null = null;

  constructor(private readonly reader: FrameReader) {}

  async run(): Promise<void> {
    try {
      for (;;) {
        const r = await this.reader.next();
        if (!r) throw new Error('destination closed the stream');
        const f = decodeFrame(r.frame);
        if (f.type === T.ACK) { if (f.bytes > this.acked) this.acked = f.bytes; } else this.queue.push(f);
        this.notify();
      }
    } catch (e) {
      this.error = e instanceof Error ? e : new Error(String(e));
      this.notify();
    }
  }

  private notify(): void { const w = this.wake; this.wake = null; w?.(); }

  /** Resolve at the next change (frame, ack or error). */
  changed(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => { this.wake = null; reject(new Error(`no answer from the destination within ${timeoutMs} ms`)); }, timeoutMs);
      const onAbort = () => { clearTimeout(t); reject(new Error('cancelled')); };
      if (signal?.aborted) { clearTimeout(t); reject(new Error('cancelled')); return; }
      signal?.addEventListener('abort', onAbort, { once: true });
      this.wake = () => { clearTimeout(t); signal?.removeEventListener('abort', onAbort); resolve(); };
    });
  }

  /** A non-ack frame the destination sent unprompted (reject, abort) aborts the sender. */
  checkPeer(): void {
    // The destination's reason comes before the end of its stream: report the reason, not the close.
    const f = this.queue.find((q) => q.type === T.ABORT || q.type === T.REJECT);
    if (f) throw peerRefusal(f);
    if (this.error) throw this.error;
  }

  /**
   * The destination's own reason for ending (its ABORT or REJECT), waiting up to `ms` for it:
   * when our write fails first, its reason may still be on the way, and it says what happened.
   */
  async refusal(ms: number): Promise<Error | null> {
    const end = Date.now() + ms;
    for (;;) {
      const f = this.queue.find((q) => q.type === T.ABORT || q.type === T.REJECT);
      if (f) return peerRefusal(f);
      if (this.error || Date.now() >= end) return null;
      await this.changed(end - Date.now()).catch(() => undefined);
    }
  }

  async expect(types: T[], timeoutMs: number, signal?: AbortSignal): Promise<Frame> {
    for (;;) {
      const f = this.queue.shift();
      if (f) {
        if (types.includes(f.type)) return f;
        if (f.type === T.ABORT || f.type === T.REJECT) throw peerRefusal(f);
        throw new ProtocolError(`expected ${types.map(frameName).join('/')}, got ${frameName(f.type)}`);
      }
      if (this.error) throw this.error;
      await this.changed(timeoutMs, signal);
    }
  }
}

function peerRefusal(f: { type: T; reason: string }): Error {
  return new Error(f.type === T.REJECT ? `destination refused the VM: ${f.reason}` : `destination aborted: ${f.reason}`);
}

function abortError(signal?: AbortSignal): void {
  if (signal?.aborted) throw new Error('cancelled');
}

export async function sendVm(opts: SendOptions): Promise<MigrationStats> {
  const vm = opts.vm;
  const spec = vm.spec;
  const target = opts.targetDowntimeMs ?? 50;
  const deadline = Date.now() + (opts.deadlineMs ?? 120_000);
  const replyMs = opts.replyTimeoutMs ?? 30_000;
  const windowBytes = opts.windowBytes ?? 8 << 20;
  const signal = opts.signal;
  const pool = opts.compression === false ? null : (opts.pool ?? sharedCompressPool());
  const t0 = Date.now();
  const memPages = spec.slots.reduce((n, s) => n + slotPages(s), 0);
  const stats: MigrationStats = {
    totalMs: 0, downtimeMs: 0, rounds: 0, wireBytes: 0, memoryBytes: spec.memBytes, dataPagesSent: 0, zeroPagesSent: 0,
    zeroBytesSaved: 0, compressionRatio: 1, maxThrottle: 0, returnTripPagesReused: 0, returnTrip: false, dirtyPagesPerRound: [], pagesSentPerRound: [],
  };
  let rawBytes = 0, payloadBytes = 0;
  const bw = new BandwidthMeter(0.5);
  const eta = new MonotoneEta();
  let phase: Phase = 'connect';
  let throttle = 0;
  let pausedAt = 0;
  let stream: MigrationStream | null = null;
  let commitSent = false;
  const dirty = new Map<number, DirtyBitmap>(spec.slots.map((s) => [s.slot, new DirtyBitmap(slotPages(s))]));
  const logBuf = new Map<number, Uint8Array>(spec.slots.map((s) => [s.slot, new Uint8Array(DirtyBitmap.byteLength(slotPages(s)))]));

  const progress = (pagesLeft: number, round: number) => {
    const rate = bw.bytesPerSecond();
    const predicted = predictDowntimeMs(pagesLeft, rate);
    const etaMs = eta.update(Number.isFinite(predicted) ? (pagesLeft * PAGE_SIZE * 1000) / rate : Infinity, Date.now());
    opts.onProgress?.({ side: 'source', phase: phase === 'connect' || phase === 'hello' ? 'hello' : phase === 'precopy' ? 'precopy' : phase === 'stop-and-copy' ? 'stop-and-copy' : 'commit',
      round, bytesSent: writer?.bytes ?? 0, pagesLeft, bandwidthBytesPerSec: rate, predictedDowntimeMs: predicted, etaMs, throttle });
  };

  /** Read (and clear) the dirty log of every slot, OR it into `dirty` and the since-arrival record. */
  const syncDirty = async (): Promise<number> => {
    let n = 0;
    for (const s of spec.slots) {
      const buf = logBuf.get(s.slot)!;
      await vm.dirtyLog(s.slot, buf, true);
      vm.arrival?.recordLog(s.slot, buf);
      const d = dirty.get(s.slot)!;
      d.mergeBytes(buf);
      n += d.count();
    }
    return n;
  };

  let writer: FrameWriter | null = null;
  let inbox: Inbox | null = null;

  /** Send every page set in `dirty` (then clear it), honouring the ack window. */
  const sendDirty = async (round: number): Promise<number> => {
    const w = writer!, ib = inbox!;
    const before = w.bytes;
    let pages = 0;
    for (const s of spec.slots) {
      const set = dirty.get(s.slot)!;
      if (set.isEmpty()) continue;
      const sending = set.clone();
      set.clear();
      const inflight: Promise<EncodedBatch>[] = [];
      const drainOne = async () => {
        const b = await inflight.shift()!;
        while (w.bytes - ib.acked > windowBytes) { ib.checkPeer(); await ib.changed(replyMs, signal); }
        ib.checkPeer();
        await w.write(b.parts);
        stats.dataPagesSent += b.stats.dataPages; stats.zeroPagesSent += b.stats.zeroPages;
        pages += b.stats.dataPages + b.stats.zeroPages;
        rawBytes += b.stats.rawBytes; payloadBytes += b.stats.payloadBytes;
      };
      for (const batch of planBatches(round, s.slot, vm.memory(s.slot), sending, pool)) {
        batch.catch(() => undefined); // handled when drained; avoid unhandled-rejection noise on early exit
        inflight.push(batch);
        if (inflight.length >= 4) { abortError(signal); await drainOne(); }
      }
      while (inflight.length) await drainOne();
    }
    stats.pagesSentPerRound.push(pages);
    return w.bytes - before;
  };

  const helloBase = (): Hello['base'] => {
    const a = vm.arrival;
    if (!a || a.generation !== spec.generation) return undefined;
    const hashes = regions(spec.slots).map((r) =>
      a.bitmap(r.slot).countRange(r.firstPage, r.pages) > 0 ? '' : hashParts(regionViews(vm.memory(r.slot), r.firstPage, r.pages)));
    return { generation: spec.generation, regionBytes: REGION_BYTES, regionHashes: hashes };
  };

  try {
    abortError(signal);
    stream = await opts.openStream();
    writer = new FrameWriter(stream, signal, replyMs);
    inbox = new Inbox(new FrameReader(stream));
    void inbox.run();

    // ---- hello ----
    phase = 'hello';
    // Start dirty tracking before anything is read (and before region hashes are taken).
    await syncDirty();
    for (const d of dirty.values()) d.clear();
    const base = helloBase();
    await writer.write(encode.hello({ spec, features: opts.features ?? [], ...(base ? { base } : {}) }));
    const reply = await inbox.expect([T.ACCEPT], replyMs, signal) as { type: T.ACCEPT; accept: Accept };
    progress(memPages, 0);

    // ---- round 0: everything, or (return trip) what changed since arrival + stale regions ----
    phase = 'precopy';
    if (base && reply.accept.base) {
      stats.returnTrip = true;
      const rs = regions(spec.slots);
      for (const s of spec.slots) dirty.get(s.slot)!.merge(vm.arrival!.bitmap(s.slot));
      for (const i of reply.accept.base.staleRegions) {
        const r = rs[i];
        if (!r) throw new ProtocolError(`accept names stale region ${i}, the layout has ${rs.length}`);
        dirty.get(r.slot)!.setRange(r.firstPage, r.pages);
      }
      let n = 0; for (const d of dirty.values()) n += d.count();
      stats.returnTripPagesReused = memPages - n;
    } else {
      for (const d of dirty.values()) d.setAll();
    }

    let round = 0;
    let prevDirty = Infinity;
    for (;;) {
      abortError(signal);
      const rt0 = Date.now();
      const bytes = await sendDirty(round);
      await writer.write(encode.roundEnd(round, false));
      // Wait until the destination has applied the round: honest bandwidth, bounded buffering.
      while (inbox.acked < writer.bytes) { inbox.checkPeer(); await inbox.changed(replyMs, signal); }
      const secs = Math.max((Date.now() - rt0) / 1000, 1e-3);
      bw.record(bytes, secs);
      const nDirty = await syncDirty();
      stats.dirtyPagesPerRound.push(nDirty);
      round++;
      const predicted = predictDowntimeMs(nDirty, bw.bytesPerSecond());
      progress(nDirty, round);
      abortError(signal);
      if (predicted <= target) break;
      if (Date.now() > deadline) throw new Error(`did not converge before the deadline (${nDirty} pages still dirty, predicted downtime ${predicted.toFixed(0)} ms > ${target} ms at throttle ${Math.round(throttle * 100)}%)`);
      const pressed = deadlinePresses(deadline - Date.now(), Date.now() - rt0);
      if (round >= 2 || pressed) {
        const next = nextThrottle(throttle, (nDirty * PAGE_SIZE) / secs, bw.bytesPerSecond(), nDirty < 0.8 * prevDirty, pressed);
        if (next !== throttle) { throttle = next; stats.maxThrottle = Math.max(stats.maxThrottle, throttle); await vm.setThrottle(throttle); }
      }
      prevDirty = nDirty;
    }

    // ---- stop and copy ----
    phase = 'stop-and-copy';
    abortError(signal);
    await vm.pause();
    pausedAt = Date.now();
    await syncDirty();
    await sendDirty(round);
    await writer.write(encode.roundEnd(round, true));
    // The destination has every page before the state goes (and a failure here names this phase).
    while (inbox.acked < writer.bytes) { inbox.checkPeer(); await inbox.changed(replyMs, signal); }
    stats.rounds = round + 1;
    const state = await vm.saveState();
    await writer.write(encode.state(state));

    phase = 'ready';
    await inbox.expect([T.READY], replyMs, signal);
    abortError(signal); // last moment a cancel can still win
  } catch (caught) {
    // Anything before commit: the VM keeps running here, unthrottled; the destination discards.
    const e = (!signal?.aborted && inbox ? await inbox.refusal(250) : null) ?? caught;
    // A cancel can surface as any aborted operation (a write, a dial, a drain): call it what it is.
    const reason = signal?.aborted ? 'cancelled' : errorMessage(e);
    await vm.setThrottle(0).catch(() => undefined);
    if (!vm.isRunning()) await vm.resume();
    if (stream) await sendLastAndReset(stream, encode.abort(`source gave up in ${phase}: ${reason}`), new Error(reason));
    throw new MigrationError(phase, reason, e, 'running-here');
  }

  // ---- commit: from here the source never resumes on its own ----
  phase = 'commit';
  try {
    commitSent = true;
    await writer.write(encode.empty(T.COMMIT));
    await inbox.expect([T.RUNNING], replyMs);
    void stream.close().catch(() => undefined);
  } catch (e) {
    try { stream.abort(new Error('no answer to commit')); } catch { /* ignore */ }
    const outcome = await askAgain(opts, spec.id, spec.generation + 1);
    if (outcome === 'resume') {
      await vm.setThrottle(0).catch(() => undefined);
      await vm.resume();
        throw new MigrationError('commit', 'the destination never ran the VM (it discarded it after commit was lost); resumed here', e, 'running-here');
    }
    if (outcome === 'unknown') {
        throw new MigrationError('commit', 'no answer after commit; the VM stays paused here until the destination can be asked again', e, 'paused-here');
    }
  }
  void commitSent;
  stats.downtimeMs = Date.now() - pausedAt;
  if (opts.keep) {
    try { opts.keep.store(spec.id, spec.generation + 1, spec.slots, (s) => vm.memory(s)); } catch { /* keeping is an optimisation */ }
  }
  stats.totalMs = Date.now() - t0;
  stats.wireBytes = writer.bytes;
  stats.zeroBytesSaved = stats.zeroPagesSent * PAGE_SIZE;
  stats.compressionRatio = payloadBytes > 0 ? rawBytes / payloadBytes : 1;
  phase = 'commit';
  opts.onProgress?.({ side: 'source', phase: 'done', round: stats.rounds, bytesSent: writer.bytes, pagesLeft: 0, bandwidthBytesPerSec: bw.bytesPerSecond(), predictedDowntimeMs: 0, etaMs: eta.update(0, Date.now()), throttle });
  return stats;
}

/**
 * After commit without `running`: ask the destination (new streams) what became of the
 * VM. 'moved' = it runs there; 'resume' = it certainly never will (discarded/unknown);
 * 'unknown' = could not find out before the status deadline.
 */
async function askAgain(opts: SendOptions, id: string, generation: number): Promise<'moved' | 'resume' | 'unknown'> {
  const until = Date.now() + (opts.statusDeadlineMs ?? 600_000);
  const every = opts.statusRetryMs ?? 500;
  const replyMs = Math.min(opts.replyTimeoutMs ?? 30_000, 10_000);
  while (Date.now() < until) {
    let s: MigrationStream | null = null;
    try {
      s = await opts.openStream();
      const w = new FrameWriter(s, undefined, replyMs);
      const ib = new Inbox(new FrameReader(s));
      void ib.run();
      await w.write(encode.status(id, generation));
      const r = await ib.expect([T.STATUS_REPLY], replyMs);
      if (r.type !== T.STATUS_REPLY) throw new Error('unexpected');
      if (r.state === 'running') { void s.close().catch(() => undefined); return 'moved'; }
      if (r.state === 'unknown' || r.state === 'discarded') { void s.close().catch(() => undefined); return 'resume'; }
      if (r.state === 'ready') {
        await w.write(encode.empty(T.COMMIT));
        await ib.expect([T.RUNNING], replyMs);
        void s.close().catch(() => undefined);
        return 'moved';
      }
      // 'receiving': the destination has not noticed the old stream died yet; ask again shortly.
      void s.close().catch(() => undefined);
    } catch {
      try { s?.abort(new Error('status query failed')); } catch { /* ignore */ }
    }
    await new Promise((r) => setTimeout(r, every));
  }
  return 'unknown';
}
