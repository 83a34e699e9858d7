// A household machine for the screen tests: a real roamd (started in-process, so
// its screen service can be driven directly) that watches one VM and reports
// on stdout, one JSON line each: {s: ScreenState} for every state, {u: …} for
// every update it pulled (applied to its own copy of the screen, which is
// checked). stdin takes lines {watch: vm}, {input: ScreenInput}, and {dial: peerId, vm}
// (opens /roam/screen/1.0.0 itself and reports {dial: 'ready' | 'refused: …'}); EOF stops it.
//   node screen-viewer.js --state DIR --name NAME
import '../../node/common/polyfill.js';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { Roamd } from '../../node/agent/daemon.js';
import { applyUpdate } from '../../node/screen/index.js';
import type { ScreenInput, ScreenSubscription } from '../../node/screen/index.js';
import { openRemoteView } from '../../node/screen/remote-view.js';
import { SCREEN_PROTOCOL } from '../../node/agent/protocols.js';

const { values } = parseArgs({ options: { state: { type: 'string' }, name: { type: 'string' } } });
const out = (o: object) => process.stdout.write(`${JSON.stringify({ ...o, at: Date.now() })}\n`);
const roamd = await Roamd.start({ stateDir: values.state!, name: values.name!, role: 'desktop', log: (l) => process.stderr.write(`${l}\n`) });
let sub: ScreenSubscription | undefined;

async function pull(s: ScreenSubscription): Promise<void> {
  let screen = Buffer.alloc(0);
  let size = '';
  for (;;) {
    let u;
    try { u = await s.next(); } catch (e) { out({ closed: (e as Error).message }); return; }
    if (`${u.width}x${u.height}` !== size) { size = `${u.width}x${u.height}`; screen = Buffer.alloc(u.width * u.height * 4); }
    try { applyUpdate(screen, u.width, u.height, u); } catch (e) { out({ bad: (e as Error).message }); continue; }
    const colours = new Set<number>();
    if (u.full) for (let i = 0; i < screen.length; i += 4 * 97) colours.add(screen.readUInt32LE(i) & 0xffffff);
    out({ u: { full: u.full, width: u.width, height: u.height, rects: u.rects.length, bytes: u.rects.reduce((n, r) => n + r.data.byteLength, 0), colours: colours.size } });
  }
}

for await (const line of createInterface({ input: process.stdin })) {
  let m: { watch?: string; input?: ScreenInput; dial?: string; vm?: string };
  try { m = JSON.parse(line) as typeof m; } catch { continue; }
  if (m.watch) { sub?.close(); sub = roamd.screens.watch(m.watch, (s) => out({ s })); void pull(sub); }
  if (m.input) sub?.input(m.input);
  if (m.dial) {
    try {
      const view = await openRemoteView(await roamd.dialPeer(m.dial, SCREEN_PROTOCOL), m.vm ?? '', m.dial);
      out({ dial: 'ready' });
      view.close();
    } catch (e) { out({ dial: `refused: ${(e as Error).message}` }); }
  }
}
sub?.close();
await roamd.stop();
process.exit(0);
