// The destination side of /roam/migrate/1.0.0. One MigrationReceiver per agent: it
// handles incoming migrations and answers status queries about them, so a source
// that lost the stream after `commit` can find out whether the VM runs here.
import { DirtyBitmap } from '../dirty-tracking/index.js';
import { applyPages } from './batches.js';
import { FrameReader, FrameWriter, sendLastAndReset, type MigrationStream } from './channel.js';
import { ProtocolError, errorMessage } from './errors.js';
import { T, decodeFrame, encode, frameName, type Accept, type Frame, type Hello, type StatusState } from './frames.js';
import type { KeptImages } from './kept-images.js';
import { PageWriter } from './page-writer.js';
import type { Progress } from './progress.js';
import { regions } from './regions.js';
import { slotPages, type IncomingVm, type VmHost, type VmSpec } from './vm-handle.js';

export interface ReceiverOptions {
  host: VmHost;
  /** Features this side speaks (echoed in accept). */
  features?: string[];
  /** Images of VMs that left this host, offered back on a return trip; dropped once the VM is back. */
  kept?: KeptImages;
  /** How long a VM stays `ready` (paused, kept) after its stream broke, waiting for a late commit. Default 60 s. */
  readyGraceMs?: number;
  /** Silence on the stream for this long fails the migration. Default 60 s. */
  idleTimeoutMs?: number;
  onProgress?: (p: Progress) => void;
  /** A VM now runs here. */
  /** A VM now runs here; `peer` is the id the sender's stream was handled under. */
  onArrived?: (vm: IncomingVm, info: { returnTrip: boolean; stalePagesResent: number; peer: string | undefined }) => void;
  /** Observe every frame before it is handled (tests inject faults here: abort the stream, or throw to drop the frame). */
  onFrame?: (frame: Frame, round: number, stream: MigrationStream) => void;
  /** Observe state changes ('ready' after READY was sent, 'running' before RUNNING is sent). */
  onStateChange?: (state: StatusState, spec: VmSpec, stream: MigrationStream) => void | Promise<void>;
  /** Bytes applied between acks. Default 1 MiB. */
  ackEvery?: number;
}

interface Session {
  spec: VmSpec;
  vm: IncomingVm;
  state: StatusState;
  /** The peer that sent it: only that peer may ask about it or commit it later. */
  peer: string | undefined;
  endedAt: number;
  graceTimer?: NodeJS.Timeout | undefined;
}

/** Finished sessions (running / discarded) are remembered this long for status queries. */
const SESSION_MEMORY_MS = 30 * 60_000;

/** The source said it gives up: it will never commit, so even a `ready` VM can go. */
class SourceAborted extends Error {}

export class MigrationReceiver {
  private readonly sessions = new Map<string, Session>();
  /** Frames refused as protocol errors (for tests and metrics). */
  rejectedFrames = 0;

  constructor(private readonly opts: ReceiverOptions) {}

  private key(id: string, generation: number): string { return `${id}@${generation}`; }

  /** State of a migration this receiver handled (by VM id and the generation it runs as here). */
  status(id: string, generation: number): StatusState {
    return this.sessions.get(this.key(id, generation))?.state ?? 'unknown';
  }

  private prune(): void {
    const now = Date.now();
    for (const [k, s] of this.sessions) {
      if ((s.state === 'running' || s.state === 'discarded') && now - s.endedAt > SESSION_MEMORY_MS) this.sessions.delete(k);
    }
  }

  /**
   * The protocol handler: `node.handle(PROTOCOL, (s, conn) => receiver.handle(s, conn.remotePeer.toString()))`.
   * Never throws. `peer` binds status queries and late commits to the peer that sent the VM.
   */
  async handle(stream: MigrationStream, peer?: string): Promise<void> {
    try { stream.maxReadBufferLength = 64 << 20; } catch { /* not settable on every stream */ }
    const reader = new FrameReader(stream);
    const idleMs = this.opts.idleTimeoutMs ?? 60_000;
    const writer = new FrameWriter(stream, undefined, idleMs);
    let session: Session | null = null;
    let round = 0;
    const next = async (): Promise<{ f: Frame; wire: number } | null> => {
      let t: NodeJS.Timeout | undefined;
      const idle = new Promise<never>((_, rej) => { t = setTimeout(() => rej(new Error(`no data for ${idleMs} ms`)), idleMs); });
      try {
        const r = await Promise.race([reader.next(), idle]);
        if (!r) return null;
        const f = decodeFrame(r.frame, session?.spec.slots);
        this.opts.onFrame?.(f, round, stream);
        return { f, wire: r.wireBytes };
      } finally { clearTimeout(t); }
    };

    try {
      const first = await next();
      if (!first) return;
      if (first.f.type === T.STATUS) return await this.answerStatus(first.f.id, first.f.generation, peer, writer, next, stream);
      if (first.f.type !== T.HELLO) throw new ProtocolError(`expected hello or status, got ${frameName(first.f.type)}`);
      const hello = first.f.hello;
      const check = this.opts.host.check(hello.spec);
      if (!check.ok) { await writer.write(encode.reject(check.reason)); await stream.close(); return; }
      const newGen = hello.spec.generation + 1;
      const existing = this.sessions.get(this.key(hello.spec.id, newGen));
      if (existing && existing.state !== 'discarded') { await writer.write(encode.reject(`VM ${hello.spec.id} generation ${newGen} is already ${existing.state} here`)); await stream.close(); return; }

      const spec: VmSpec = { ...hello.spec, generation: newGen };
      const vm = await this.opts.host.createPaused(spec);
      this.prune();
      session = { spec, vm, state: 'receiving', peer, endedAt: 0 };
      this.sessions.set(this.key(spec.id, newGen), session);

      const pw = new PageWriter(spec.slots, (s) => vm.memory(s));
      const touched = new Map(spec.slots.map((s) => [s.slot, new DirtyBitmap(slotPages(s))]));
      const accept = this.acceptFor(hello, vm, touched);
      await writer.write(encode.accept(accept));

      const startedAt = Date.now();
      let consumed = first.wire;
      let sinceAck = 0;
      const ackEvery = this.opts.ackEvery ?? 1 << 20;
      let stalePages = 0;
      for (const i of accept.base?.staleRegions ?? []) stalePages += regions(spec.slots)[i]?.pages ?? 0;
      let state: Uint8Array | null = null;
      let lastRoundDone = false;

      for (;;) {
        const r = await next();
        if (!r) throw new Error('source closed the stream before commit');
        consumed += r.wire; sinceAck += r.wire;
        const f = r.f;
        if (f.type === T.ABORT) throw new SourceAborted(`source aborted: ${f.reason}`);
        if (session.state === 'receiving' && !lastRoundDone) {
          if (f.type === T.PAGES) {
            if (f.round !== round) throw new ProtocolError(`pages for round ${f.round} during round ${round}`);
            applyPages(f, pw, touched.get(f.slot)!);
          } else if (f.type === T.ROUND_END) {
            if (f.round !== round) throw new ProtocolError(`end of round ${f.round} during round ${round}`);
            if (f.lastRound) lastRoundDone = true; else round++;
            await writer.write(encode.ack(consumed)); sinceAck = 0;
            this.opts.onProgress?.({ side: 'destination', phase: f.lastRound ? 'stop-and-copy' : 'precopy', round, bytesSent: consumed, pagesLeft: 0, bandwidthBytesPerSec: consumed / Math.max((Date.now() - startedAt) / 1000, 1e-3), predictedDowntimeMs: 0, etaMs: 0, throttle: 0 });
          } else throw new ProtocolError(`unexpected ${frameName(f.type)} during pre-copy`);
          if (sinceAck >= ackEvery) { await writer.write(encode.ack(consumed)); sinceAck = 0; }
        } else if (session.state === 'receiving' && lastRoundDone) {
          if (f.type !== T.STATE) throw new ProtocolError(`expected state after the last round, got ${frameName(f.type)}`);
          state = f.state;
          await vm.restoreState(state);
          session.state = 'ready';
          await writer.write(encode.empty(T.READY));
          await this.opts.onStateChange?.('ready', spec, stream);
        } else if (session.state === 'ready') {
          if (f.type !== T.COMMIT) throw new ProtocolError(`expected commit, got ${frameName(f.type)}`);
          await this.commit(session, hello, stalePages);
          await this.opts.onStateChange?.('running', spec, stream);
          await writer.write(encode.empty(T.RUNNING));
          await stream.close().catch(() => undefined);
          return;
        } else throw new ProtocolError(`unexpected ${frameName(f.type)} in state ${session.state}`);
      }
    } catch (e) {
      if (e instanceof ProtocolError) this.rejectedFrames++;
      if (session) await this.failed(session, e instanceof SourceAborted);
      await sendLastAndReset(stream, encode.abort(`destination: ${errorMessage(e)}`), e instanceof Error ? e : new Error(String(e)));
    }
  }

  /** Offer a kept image back if the hello proves it still matches (return trip). */
  private acceptFor(hello: Hello, vm: IncomingVm, touched: Map<number, DirtyBitmap>): Accept {
    const features = this.opts.features ?? [];
    const b = hello.base;
    if (!b || !this.opts.kept) return { features, base: null };
    let stale: number[] | null = null;
    try {
      stale = this.opts.kept.load(hello.spec.id, b.generation, hello.spec.slots, (s) => vm.memory(s), b.regionHashes, b.regionBytes);
    } catch { stale = null; }
    // Whatever happened, the RAM may no longer be all zero: zero pages must be written.
    for (const t of touched.values()) t.setAll();
    if (stale === null) return { features, base: null };
    return { features, base: { staleRegions: stale } };
  }

  private async commit(session: Session, hello: Hello, stalePages: number): Promise<void> {
    clearTimeout(session.graceTimer);
    try {
      await session.vm.start();
    } catch (e) {
      // It cannot run here: say so (status `discarded`) so the source resumes it.
      session.state = 'discarded';
      session.endedAt = Date.now();
      await session.vm.discard().catch(() => undefined);
      throw e;
    }
    session.state = 'running';
    session.endedAt = Date.now();
    if (hello.base && this.opts.kept) { try { this.opts.kept.drop(hello.spec.id); } catch { /* best effort */ } }
    this.opts.onArrived?.(session.vm, { returnTrip: !!hello.base, stalePagesResent: stalePages, peer: session.peer });
  }

  /** The stream failed. Before ready: discard. At ready: keep (paused) a while for a late commit. */
  private async failed(session: Session, sourceGaveUp: boolean): Promise<void> {
    session.endedAt = Date.now();
    if (session.state === 'receiving' || (session.state === 'ready' && sourceGaveUp)) {
      clearTimeout(session.graceTimer);
      session.state = 'discarded';
      await session.vm.discard().catch(() => undefined);
    } else if (session.state === 'ready' && !session.graceTimer) {
      session.graceTimer = setTimeout(() => {
        if (session.state !== 'ready') return;
        session.state = 'discarded';
        session.endedAt = Date.now();
        void session.vm.discard().catch(() => undefined);
      }, this.opts.readyGraceMs ?? 60_000);
      session.graceTimer.unref();
    }
  }

  /** Discard a VM held at `ready` right now (e.g. the agent learns the source resumed). */
  async discardReady(id: string, generation: number): Promise<void> {
    const s = this.sessions.get(this.key(id, generation));
    if (s && s.state === 'ready') { clearTimeout(s.graceTimer); s.state = 'discarded'; s.endedAt = Date.now(); await s.vm.discard(); }
  }

  private async answerStatus(id: string, generation: number, peer: string | undefined, writer: FrameWriter, next: () => Promise<{ f: Frame } | null>, stream: MigrationStream): Promise<void> {
    const found = this.sessions.get(this.key(id, generation));
    // Only the peer that sent the VM learns about it (and can commit it).
    const s = found && found.peer === peer ? found : undefined;
    const state = s?.state ?? 'unknown';
    await writer.write(encode.statusReply(state));
    if (s && state === 'ready') {
      const r = await next();
      if (r && r.f.type === T.COMMIT && s.state === 'ready') {
        await this.commit(s, { spec: s.spec, features: [] }, 0);
        await writer.write(encode.empty(T.RUNNING));
      }
    }
    await stream.close().catch(() => undefined);
  }

  /** Stop every grace timer (agent shutdown). */
  close(): void { for (const s of this.sessions.values()) clearTimeout(s.graceTimer); }
}
