// The host's side of /roam/screen/1.0.0: a member asks for a VM's screen; if the
// VM runs here it gets READY and then one update per NEXT (each waits until
// something changed), and its INPUT goes to the VM. When the VM leaves, the
// viewer hears END 'moved' and follows it. roamd calls this only for streams
// from household members.
import { FrameReader, FrameSender, type ScreenStream } from './stream-frames.js';
import { decodeViewer, encodeHost, type HostMessage } from './wire.js';
import { ViewEnded, type ScreenView } from './types.js';
import type { LocalScreens } from './local-screens.js';

const HELLO_TIMEOUT_MS = 10_000;
/** How long a viewer may keep its side open after END. */
const LINGER_MS = 5_000;

export async function serveScreen(stream: ScreenStream, locals: LocalScreens): Promise<void> {
  const reader = new FrameReader(stream);
  const sender = new FrameSender(stream);
  const timer = setTimeout(() => stream.abort(new Error(`no hello within ${HELLO_TIMEOUT_MS} ms`)), HELLO_TIMEOUT_MS);
  let vm: string;
  try {
    const f = await reader.next();
    if (!f) return;
    const m = decodeViewer(f);
    if (m.t !== 'hello') throw new Error('the first message must be HELLO');
    vm = m.vm;
  } catch (e) {
    stream.abort(e as Error);
    return;
  } finally {
    clearTimeout(timer);
  }
  const screen = await locals.screen(vm);
  let served = false;
  const endWith = async (m: HostMessage) => {
    try { await sender.send(encodeHost(m)); await stream.close(); } catch (e) { stream.abort(e as Error); return; }
    // A viewer that does not close its side after END would hold this stream (and a place among MAX_SERVED).
    setTimeout(() => { if (!served) stream.abort(new Error('the viewer did not close after END')); }, LINGER_MS).unref();
  };
  if (screen instanceof ViewEnded) return endWith({ t: 'end', kind: screen.kind === 'moved' ? 'moved' : 'absent', reason: screen.reason });
  let view: ScreenView;
  try { view = screen.view(); } catch (e) { return endWith({ t: 'end', kind: 'absent', reason: (e as Error).message }); }
  let over = false;
  void view.ended.then((why) => {
    if (over) return;
    over = true;
    void endWith({ t: 'end', kind: why.kind === 'moved' ? 'moved' : 'absent', reason: why.reason });
  });
  try {
    await sender.send(encodeHost({ t: 'ready', host: screen.host, width: screen.geom.width, height: screen.geom.height }));
    let asked = false;
    for (;;) {
      const f = await reader.next();
      if (!f || over) break;
      const m = decodeViewer(f);
      if (m.t === 'hello') throw new Error('HELLO twice');
      if (m.t === 'input') { view.input(m.e); continue; }
      if (asked) throw new Error('NEXT while an update is still owed');
      asked = true;
      view.next().then((u) => { asked = false; return sender.send(encodeHost({ t: 'update', u })); })
        .catch((e: Error) => { if (!(e instanceof ViewEnded)) stream.abort(e); });
    }
  } catch (e) {
    if (!over) stream.abort(e as Error);
  } finally {
    over = true;
    served = true;
    view.close();
  }
}
