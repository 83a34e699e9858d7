// /roam/screen/1.0.0 and the following subscription, without KVM: fake displays
// on three fake household members joined by in-memory streams. The decoders are
// fuzzed with a fixed seed.
import assert from 'node:assert/strict';
import { deflateRawSync } from 'node:zlib';
import { HouseholdScreens, type MemberView } from '../node/screen/service.js';
import { applyUpdate } from '../node/screen/rect-codec.js';
import { FrameReader } from '../node/screen/stream-frames.js';
import { MAX_RECTS, ScreenWireError, decodeHost, decodeUpdate, decodeViewer, encodeHost, encodeUpdate, encodeViewer, maxDeflated } from '../node/screen/wire.js';
import { ViewEnded, type ScreenState, type ScreenUpdate, type ScreenView } from '../node/screen/types.js';
import { FollowingSubscription, type Locator, type Where } from '../node/screen/following.js';
import { FakeDisplay, FakeVms, openFake, streamPair } from './fakes/fake-screen.js';

/** xorshift32: the fuzz is the same on every run. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s; };
}

function sampleUpdate(): ScreenUpdate {
  const px = (w: number, h: number, v: number) => deflateRawSync(Buffer.alloc(w * h * 4, v));
  return { width: 1024, height: 768, full: false, rects: [
    { x: 0, y: 0, w: 64, h: 64, data: px(64, 64, 1) }, { x: 960, y: 704, w: 64, h: 64, data: px(64, 64, 2) }, { x: 100, y: 5, w: 3, h: 1, data: px(3, 1, 3) },
  ] };
}

/** What every decoded update must satisfy, whatever bytes it came from. */
function checkInvariants(u: ScreenUpdate): void {
  assert.ok(u.width >= 1 && u.width <= 4096 && u.height >= 1 && u.height <= 4096);
  assert.ok(u.rects.length <= MAX_RECTS);
  for (const r of u.rects) {
    assert.ok(r.w >= 1 && r.h >= 1 && r.x + r.w <= u.width && r.y + r.h <= u.height, 'rect inside the screen');
    assert.ok(r.data.byteLength >= 1 && r.data.byteLength <= maxDeflated(r.w * r.h * 4), 'data within its bound');
  }
}

describe('screen wire format', () => {
  it('round-trips every message', () => {
    const u = sampleUpdate();
    const back = decodeHost(encodeUpdate(u).subarray(4));
    assert.equal(back.t, 'update');
    if (back.t !== 'update') return;
    assert.deepEqual({ ...back.u, rects: back.u.rects.map((r) => ({ ...r, data: Buffer.from(r.data) })) }, { ...u, rects: u.rects.map((r) => ({ ...r, data: Buffer.from(r.data) })) });
    assert.deepEqual(decodeHost(encodeHost({ t: 'ready', host: 'laptop', width: 1024, height: 768 }).subarray(4)), { t: 'ready', host: 'laptop', width: 1024, height: 768 });
    assert.deepEqual(decodeHost(encodeHost({ t: 'end', kind: 'moved', reason: 'gone to imac' }).subarray(4)), { t: 'end', kind: 'moved', reason: 'gone to imac' });
    assert.deepEqual(decodeViewer(encodeViewer({ t: 'hello', vm: 'desk' }).subarray(4)), { t: 'hello', vm: 'desk' });
    assert.deepEqual(decodeViewer(encodeViewer({ t: 'next' }).subarray(4)), { t: 'next' });
    assert.deepEqual(decodeViewer(encodeViewer({ t: 'input', e: { type: 'key', code: 'KeyA', down: true } }).subarray(4)), { t: 'input', e: { type: 'key', code: 'KeyA', down: true } });
  });

  it('refuses rects outside the screen, oversized data, too many rects and trailing bytes', () => {
    const body = (u: ScreenUpdate) => encodeUpdate(u).subarray(5);
    const one = (x: number, y: number, w: number, h: number, data: Uint8Array = deflateRawSync(Buffer.alloc(4))) => body({ width: 100, height: 50, full: false, rects: [{ x, y, w, h, data }] });
    assert.throws(() => decodeUpdate(one(99, 0, 2, 1)), ScreenWireError);
    assert.throws(() => decodeUpdate(one(0, 49, 1, 2)), ScreenWireError);
    assert.throws(() => decodeUpdate(one(0, 0, 0, 1)), ScreenWireError);
    assert.throws(() => decodeUpdate(one(0, 0, 1, 1, new Uint8Array(maxDeflated(4) + 1))), /bytes of data/);
    assert.throws(() => decodeUpdate(one(0, 0, 1, 1, new Uint8Array(0))), /bytes of data/);
    assert.throws(() => decodeUpdate(Buffer.concat([one(0, 0, 1, 1), Buffer.from([0])])), /after the last rect/);
    const many = Buffer.from(body({ width: 100, height: 50, full: false, rects: [] }));
    many.writeUInt16BE(MAX_RECTS + 1, 5);
    assert.throws(() => decodeUpdate(many), /over/);
    many.writeUInt16BE(3, 5);
    assert.throws(() => decodeUpdate(many), /too short/);
    assert.throws(() => decodeUpdate(body({ width: 5000, height: 50, full: false, rects: [] })), /width/);
    assert.throws(() => decodeViewer(encodeViewer({ t: 'hello', vm: '../etc' }).subarray(4)), /hello must name/);
    assert.throws(() => decodeViewer(Buffer.from([3, ...Buffer.from('{"type":"key","code":"KeyA"}')])), /INPUT/);
    assert.throws(() => decodeViewer(Buffer.from([2, 0])), /no body/);
    assert.throws(() => decodeViewer(Buffer.from([99])), /unknown/);
  });

  it('a frame longer than the limit ends the stream before it is buffered', async () => {
    const [a, b] = streamPair();
    a.send(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 17]));
    await assert.rejects(new FrameReader(b).next(), /exceeds the \d+-byte limit/);
  });

  it('survives fuzzing: every mutated or random frame is refused cleanly or decodes to something within bounds', function () {
    const iters = Number(process.env.SCREEN_FUZZ_ITERS ?? 20_000);
    const next = rng(0x5c12ee4);
    const seeds = [
      encodeUpdate(sampleUpdate()).subarray(4), encodeHost({ t: 'ready', host: 'b', width: 640, height: 480 }).subarray(4),
      encodeHost({ t: 'end', kind: 'absent', reason: 'x' }).subarray(4), encodeViewer({ t: 'hello', vm: 'desk' }).subarray(4),
      encodeViewer({ t: 'input', e: { type: 'pointer', dx: 1, dy: 2, buttons: 1 } }).subarray(4), encodeViewer({ t: 'next' }).subarray(4),
    ];
    let decoded = 0;
    for (let i = 0; i < iters; i++) {
      let f: Uint8Array;
      if (i % 10 === 0) { f = new Uint8Array(next() % 64); for (let j = 0; j < f.length; j++) f[j] = next() & 0xff; }
      else {
        f = Uint8Array.from(seeds[next() % seeds.length]!);
        const edits = 1 + (next() % 4);
        for (let e = 0; e < edits; e++) {
          const op = next() % 3;
          if (op === 0 && f.length) f[next() % f.length] = next() & 0xff;
          else if (op === 1) f = f.subarray(0, next() % (f.length + 1));
          else f = Uint8Array.from([...f, ...Array.from({ length: next() % 8 }, () => next() & 0xff)]);
        }
      }
      for (const decode of [decodeHost, decodeViewer]) {
        try {
          const m = decode(f);
          decoded++;
          if (m.t === 'update') checkInvariants(m.u);
        } catch (e) {
          if (!(e instanceof ScreenWireError)) throw new Error(`frame ${Buffer.from(f).toString('hex')} threw ${(e as Error).stack}`);
        }
      }
    }
    assert.ok(decoded > 0, 'some mutations still decode');
  });
});

/** Three fake members; each runs a screen service over its own fake supervisor; streams are in memory. */
function household(names: string[]) {
  const vms = new Map(names.map((n) => [n, new FakeVms()]));
  const services = new Map<string, HouseholdScreens>();
  const reachable = new Set(names);
  let clock = 1;
  const stamps = new Map<string, number>();
  const stamp = (n: string) => { stamps.set(n, clock++); };
  for (const n of names) { stamp(n); vms.get(n)!.on('change', () => stamp(n)); }
  for (const n of names) {
    services.set(n, new HouseholdScreens({
      name: n, vms: vms.get(n)!,
      members: (): MemberView[] => names.filter((o) => o !== n).map((o) => ({
        peerId: `id-${o}`, name: o, online: true, updatedAt: stamps.get(o)!, vms: vms.get(o)!.names().map((v) => ({ name: v, state: 'running' })),
      })),
      dial: async (peerId) => {
        const to = peerId.slice(3);
        if (!reachable.has(to)) throw new Error(`${to} is unreachable`);
        const [mine, theirs] = streamPair();
        void services.get(to)!.serve(theirs);
        return mine;
      },
    }, { openDisplay: openFake }));
  }
  return { vms, services, reachable, close: () => Promise.all([...services.values()].map((s) => s.close())) };
}

async function until<T>(what: string, probe: () => T | undefined | false, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('screen service over fake members', function () {
  this.timeout(60_000);
  let h: ReturnType<typeof household> | undefined;
  afterEach(async () => { await h?.close(); h = undefined; });

  it('shows a VM on another member, sends only what changed, carries input, and follows it to a third member and home', async () => {
    h = household(['viewer', 'basement', 'laptop']);
    const onBasement = new FakeDisplay(256, 128, 3);
    h.vms.get('basement')!.run('desk', onBasement);
    const states: ScreenState[] = [];
    const sub = h.services.get('viewer')!.watch('desk', (s) => states.push(s));
    const screen = Buffer.alloc(256 * 128 * 4);

    const first = await sub.next();
    assert.equal(first.full, true);
    applyUpdate(screen, 256, 128, first);
    assert.ok(screen.equals(onBasement.fb), 'the first update is the whole screen');
    assert.deepEqual(states, [{ state: 'connecting' }, { state: 'live', host: 'basement' }]);

    onBasement.draw(70, 70, 4, 4, 0xff00ff);
    const second = await sub.next();
    assert.equal(second.full, false);
    assert.deepEqual(second.rects.map((r) => [r.x, r.y, r.w, r.h]), [[64, 64, 64, 64]]);
    applyUpdate(screen, 256, 128, second);
    assert.ok(screen.equals(onBasement.fb));

    sub.input({ type: 'key', code: 'KeyA', down: true });
    sub.input({ type: 'key', code: 'ArrowUp', down: false });
    sub.input({ type: 'pointer', dx: 5, dy: -3, buttons: 1 });
    await until('the input to reach basement\'s VM', () => onBasement.keys.length === 4 && onBasement.mouse.length === 1);
    assert.deepEqual(onBasement.keys, [0x1c, 0xe0, 0xf0, 0x75]);
    assert.deepEqual(onBasement.mouse, [{ dx: 5, dy: -3, buttons: 1 }]);

    // A next() is waiting when the VM moves: it resolves with the whole screen from laptop.
    const pending = sub.next();
    const onLaptop = new FakeDisplay(256, 128, 5);
    h.vms.get('laptop')!.run('desk', onLaptop);
    h.vms.get('basement')!.release('desk');
    const moved = await pending;
    assert.equal(moved.full, true);
    applyUpdate(screen, 256, 128, moved);
    assert.ok(screen.equals(onLaptop.fb), 'the viewer holds laptop\'s screen');
    assert.deepEqual(states.slice(2), [{ state: 'moving', from: 'basement' }, { state: 'live', host: 'laptop' }]);
    assert.equal(onBasement.closed, true, 'basement let go of the display of a VM it no longer runs');

    // And to the viewer's own machine: read locally now.
    const onViewer = new FakeDisplay(256, 128, 7);
    h.vms.get('viewer')!.run('desk', onViewer);
    h.vms.get('laptop')!.release('desk');
    const home = await sub.next();
    assert.equal(home.full, true);
    applyUpdate(screen, 256, 128, home);
    assert.ok(screen.equals(onViewer.fb));
    assert.deepEqual(states.at(-1), { state: 'live', host: 'viewer' });
    sub.input({ type: 'key', code: 'Enter', down: true });
    await until('the key to reach the local VM', () => onViewer.keys.length === 1);
    assert.deepEqual(onViewer.keys, [0x5a]);

    // Stopped: the subscription says it is gone and keeps looking; it comes back when the VM does.
    h.vms.get('viewer')!.stop('desk');
    await until('the state gone', () => states.at(-1)?.state === 'gone');
    const back = new FakeDisplay(256, 128, 9);
    const again = sub.next();
    h.vms.get('basement')!.run('desk', back);
    const u = await again;
    assert.equal(u.full, true);
    assert.deepEqual(states.at(-1), { state: 'live', host: 'basement' });

    sub.close();
    await assert.rejects(sub.next(), /closed/);
  });

  it('polls the display only while a viewer waits, and coalesces what happened while nobody asked', async () => {
    h = household(['viewer', 'basement']);
    const d = new FakeDisplay(256, 128, 3);
    h.vms.get('viewer')!.run('desk', d);
    const sub = h.services.get('viewer')!.watch('desk', () => undefined);
    const screen = Buffer.alloc(256 * 128 * 4);
    applyUpdate(screen, 256, 128, await sub.next());
    await new Promise((r) => setTimeout(r, 200));
    const idle = d.damageCalls;
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(d.damageCalls, idle, 'nobody waits: no polling');
    d.draw(0, 0, 2, 2, 1); d.draw(200, 100, 3, 3, 2); d.draw(0, 1, 1, 1, 3);
    const u = await sub.next();
    assert.deepEqual(u.rects.map((r) => [r.x, r.y]).sort(), [[0, 0], [192, 64]]);
    applyUpdate(screen, 256, 128, u);
    assert.ok(screen.equals(d.fb));
    sub.close();
  });

  it('a viewer that breaks the protocol loses its stream; the VM\'s screen is unaffected', async () => {
    h = household(['viewer', 'basement']);
    const d = new FakeDisplay(256, 128, 3);
    h.vms.get('basement')!.run('desk', d);
    const host = h.services.get('basement')!;
    const [mine, theirs] = streamPair();
    const served = host.serve(theirs);
    mine.send(encodeViewer({ t: 'hello', vm: 'desk' }));
    const reader = new FrameReader(mine);
    assert.equal(decodeHost((await reader.next())!).t, 'ready');
    mine.send(encodeViewer({ t: 'next' }));
    assert.equal(decodeHost((await reader.next())!).t, 'update');
    mine.send(encodeViewer({ t: 'next' }));
    mine.send(encodeViewer({ t: 'next' })); // a second NEXT while one is owed
    await served;
    assert.ok(theirs.aborted, 'the host reset the stream');
    const screen = await host.locals.screen('desk');
    assert.ok(!(screen instanceof Error));
    assert.equal(screen.viewCount, 0, 'the viewer\'s copy was dropped');

    // Garbage as the first frame, and a hello for a VM that is not there.
    const [m2, t2] = streamPair();
    const s2 = host.serve(t2);
    m2.send(Uint8Array.from([0, 0, 0, 2, 1, 0x7b]));
    await s2;
    assert.ok(t2.aborted);
    const [m3, t3] = streamPair();
    void host.serve(t3);
    m3.send(encodeViewer({ t: 'hello', vm: 'nope' }));
    const end = decodeHost((await new FrameReader(m3).next())!);
    assert.equal(end.t, 'end');
    assert.match(end.t === 'end' ? end.reason : '', /no VM named 'nope' runs on basement/);
  });

  it('says the VM is gone when no member runs it, and connecting while its host cannot be reached', async () => {
    h = household(['viewer', 'basement']);
    const states: ScreenState[] = [];
    const sub = h.services.get('viewer')!.watch('nowhere', (s) => states.push(s));
    await until('gone', () => states.some((s) => s.state === 'gone'));
    assert.match((states.find((s) => s.state === 'gone') as { reason: string }).reason, /no household member runs a VM named 'nowhere'/);
    sub.close();

    h.reachable.delete('basement');
    h.vms.get('basement')!.run('desk', new FakeDisplay());
    const s2: ScreenState[] = [];
    const sub2 = h.services.get('viewer')!.watch('desk', (s) => s2.push(s));
    const first = sub2.next();
    await new Promise((r) => setTimeout(r, 1500));
    assert.deepEqual(s2, [{ state: 'connecting' }], 'unreachable: still connecting');
    h.reachable.add('basement');
    assert.equal((await first).full, true);
    assert.deepEqual(s2.at(-1), { state: 'live', host: 'basement' });
    sub2.close();
  });
});

describe('following subscription', function () {
  this.timeout(30_000);

  /** A view whose first next() is a full update at once; later ones wait, and reject when it ends (as real views do). */
  function fakeView(host: string) {
    let end!: (e: ViewEnded) => void;
    let started = false;
    let closed = false;
    const ended = new Promise<ViewEnded>((r) => { end = r; });
    const view: ScreenView = {
      host, ended,
      next: async () => {
        if (closed) throw new ViewEnded('absent', 'closed');
        const full = !started; started = true;
        if (!full) await ended.then((e) => { throw e; }); // only the first update comes; later ones wait until the view ends
        return { width: 8, height: 8, full, rects: [] };
      },
      input: () => undefined,
      close: () => { closed = true; end(new ViewEnded('absent', 'closed')); },
    };
    return { view, end, isClosed: () => closed };
  }

  it('leaves a member whose record no longer lists the VM once the directory shows it elsewhere', async () => {
    let where: Where = { host: 'basement', peerId: 'id-b', recordAt: 1 };
    let elsewhere = false;
    const views: ReturnType<typeof fakeView>[] = [];
    const loc: Locator = {
      locate: () => where,
      open: async (at) => { const v = fakeView(at.host); views.push(v); return v.view; },
      movedAway: () => elsewhere,
    };
    const states: ScreenState[] = [];
    const sub = new FollowingSubscription(loc, 'desk', (s) => states.push(s));
    assert.equal((await sub.next()).full, true);
    const pending = sub.next();
    // The stream to basement stays open (say the link hangs), but the directory now puts the VM on laptop.
    where = { host: 'laptop', peerId: 'id-l', recordAt: 2 };
    elsewhere = true;
    const u = await pending;
    assert.equal(u.full, true, 'the pending next() resolved with the whole screen from laptop');
    assert.equal(views[0]!.isClosed(), true, 'the view on basement was let go');
    assert.deepEqual(states, [{ state: 'connecting' }, { state: 'live', host: 'basement' }, { state: 'moving', from: 'basement' }, { state: 'live', host: 'laptop' }]);
    sub.close();
  });

  it('reconnects after the link to the host breaks, and stops trying once closed', async () => {
    let opens = 0;
    const views: ReturnType<typeof fakeView>[] = [];
    const loc: Locator = {
      locate: () => ({ host: 'basement', peerId: 'id-b', recordAt: 1 }),
      open: async (at) => { opens++; const v = fakeView(at.host); views.push(v); return v.view; },
      movedAway: () => false,
    };
    const states: ScreenState[] = [];
    const sub = new FollowingSubscription(loc, 'desk', (s) => states.push(s));
    await sub.next();
    const pending = sub.next();
    views[0]!.end(new ViewEnded('lost', 'basement: connection reset'));
    assert.equal((await pending).full, true);
    assert.deepEqual(states.map((s) => s.state), ['connecting', 'live', 'connecting', 'live']);
    sub.close();
    await assert.rejects(sub.next(), /closed/);
    const after = opens;
    await new Promise((r) => setTimeout(r, 1_200));
    assert.equal(opens, after, 'a closed subscription opens nothing');
  });
});
