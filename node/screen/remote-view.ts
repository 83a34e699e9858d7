// A view of a VM's screen on another member, over /roam/screen/1.0.0: the
// viewer's side. next() asks for one update and waits for it; input goes as
// messages on the same stream. The stream ending says why: END from the host
// ('moved', 'absent'), or anything else ('lost': the link or the peer broke).
import { FrameReader, FrameSender, type ScreenStream } from './stream-frames.js';
import { checkScreenInput } from './input.js';
import { MAX_SCREEN_FRAME, decodeHost, encodeViewer } from './wire.js';
import { ViewEnded, type ScreenInput, type ScreenUpdate, type ScreenView } from './types.js';

const READY_TIMEOUT_MS = 10_000;
/** Input frames not yet taken by the stream; more are dropped (a viewer typing into a stalled link). */
const MAX_INPUT_IN_FLIGHT = 256;

/** Says hello and waits for READY; throws ViewEnded when the host does not (or cannot) show the VM. */
export async function openRemoteView(stream: ScreenStream, vm: string, host: string): Promise<ScreenView> {
  try { stream.maxReadBufferLength = MAX_SCREEN_FRAME + (1 << 20); } catch { /* not settable on every stream */ }
  const reader = new FrameReader(stream);
  const sender = new FrameSender(stream);
  let first: Uint8Array | null;
  const timer = setTimeout(() => stream.abort(new Error(`${host} did not answer within ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS);
  try {
    await sender.send(encodeViewer({ t: 'hello', vm }));
    first = await reader.next();
  } catch (e) {
    stream.abort(e as Error);
    throw new ViewEnded('lost', `${host}: ${(e as Error).message}`);
  } finally {
    clearTimeout(timer);
  }
  if (!first) throw new ViewEnded('lost', `${host} closed the screen stream without answering`);
  let m;
  try { m = decodeHost(first); } catch (e) { stream.abort(e as Error); throw new ViewEnded('lost', `${host}: ${(e as Error).message}`); }
  if (m.t === 'end') { void stream.close().catch(() => undefined); throw new ViewEnded(m.kind, `${host}: ${m.reason}`); }
  if (m.t !== 'ready') { stream.abort(new Error('expected READY')); throw new ViewEnded('lost', `${host} sent an update before READY`); }
  return new RemoteView(stream, reader, sender, host, m.width, m.height);
}

class RemoteView implements ScreenView {
  readonly ended: Promise<ViewEnded>;
  private markEnded!: (e: ViewEnded) => void;
  private endedWith: ViewEnded | null = null;
  private waiter: { resolve: (u: ScreenUpdate) => void; reject: (e: Error) => void } | null = null;
  private inputsInFlight = 0;

  constructor(private readonly stream: ScreenStream, private readonly reader: FrameReader, private readonly sender: FrameSender,
    readonly host: string, private readonly width: number, private readonly height: number) {
    this.ended = new Promise((r) => { this.markEnded = r; });
    void this.readLoop();
  }

  next(): Promise<ScreenUpdate> {
    if (this.endedWith) return Promise.reject(this.endedWith);
    if (this.waiter) return Promise.reject(new Error('next() is already waiting for an update'));
    const p = new Promise<ScreenUpdate>((resolve, reject) => { this.waiter = { resolve, reject }; });
    this.sender.send(encodeViewer({ t: 'next' })).catch((e: Error) => this.finish(new ViewEnded('lost', `${this.host}: ${e.message}`)));
    return p;
  }

  input(e: ScreenInput): void {
    if (this.endedWith) return;
    const checked = checkScreenInput(e);
    if (!checked || this.inputsInFlight >= MAX_INPUT_IN_FLIGHT) return;
    this.inputsInFlight++;
    this.sender.send(encodeViewer({ t: 'input', e: checked })).catch(() => undefined).finally(() => { this.inputsInFlight--; });
  }

  close(): void {
    this.finish(new ViewEnded('absent', 'the viewer closed'));
  }

  private async readLoop(): Promise<void> {
    for (;;) {
      let f: Uint8Array | null;
      try { f = await this.reader.next(); } catch (e) { this.finish(new ViewEnded('lost', `${this.host}: ${(e as Error).message}`)); return; }
      if (this.endedWith) return;
      if (!f) { this.finish(new ViewEnded('lost', `${this.host} closed the screen stream`)); return; }
      try {
        const m = decodeHost(f);
        if (m.t === 'end') { this.finish(new ViewEnded(m.kind, `${this.host}: ${m.reason}`)); return; }
        if (m.t !== 'update') throw new Error('READY twice');
        if (!this.waiter) throw new Error('an update nobody asked for');
        if (m.u.width !== this.width || m.u.height !== this.height) throw new Error(`an update of ${m.u.width}x${m.u.height} on a ${this.width}x${this.height} screen`);
        const w = this.waiter; this.waiter = null;
        w.resolve(m.u);
      } catch (e) {
        this.finish(new ViewEnded('lost', `${this.host} broke the screen protocol: ${(e as Error).message}`));
        return;
      }
    }
  }

  private finish(why: ViewEnded): void {
    if (this.endedWith) return;
    this.endedWith = why;
    this.waiter?.reject(why);
    this.waiter = null;
    this.markEnded(why);
    if (why.kind === 'lost') this.stream.abort(why);
    else void this.stream.close().catch(() => this.stream.abort(why));
  }
}
