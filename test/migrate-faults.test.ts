import '../node/common/polyfill.js';
import assert from 'node:assert/strict';
import { MigrationError, MigrationReceiver, sendVm, type MigrationStream, type ReceiverOptions } from '../migrate/index.js';
import { FrameReader } from '../migrate/channel.js';
import { COMPRESS_NONE, T, decodeFrame, encode, type Frame } from '../migrate/frames.js';
import { FakeHost, FakeVm, startPair } from './fakes/fake-vm.js';

const workload = { pagesPerSec: 4000, workingSet: { slot: 0, first: 0, pages: 300 } };

async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) { if (Date.now() > end) throw new Error(`timed out waiting for ${what}`); await new Promise((r) => setTimeout(r, 10)); }
}

/** Exactly one copy runs; the source's memory is intact. */
function assertSourceKeepsIt(src: FakeVm, dst: FakeVm | undefined): void {
  assert.equal(src.isRunning(), true, 'source runs again');
  assert.equal(src.throttle, 0, 'source is unthrottled');
  assert.ok(!dst || !dst.isRunning(), 'destination does not run');
  src.stop();
  assert.equal(src.corruptPages(), 0, 'source memory intact');
}

describe('migrate: failures and cancel', function () {
  let pair: Awaited<ReturnType<typeof startPair>>;
  let host: FakeHost;
  let receiver: MigrationReceiver;
  const use = (o: Partial<ReceiverOptions> = {}) => {
    host = new FakeHost();
    receiver = new MigrationReceiver({ host, readyGraceMs: 2000, ...o });
    pair.setHandler((s, peer) => receiver.handle(s, peer));
  };

  before(async () => { pair = await startPair(async () => undefined); });
  afterEach(() => { receiver?.close(); for (const vm of host?.created ?? []) vm.stop(); });
  after(async () => { await pair.stop(); });

  const mkSrc = (id: string) => new FakeVm({ id, populate: 1200, workload });
  const fail = async (p: Promise<unknown>): Promise<MigrationError> => {
    try { await p; } catch (e) { assert.ok(e instanceof MigrationError, String(e)); return e; }
    assert.fail('migration should have failed');
  };

  for (const [label, round] of [['round 0', 0], ['a later round', 1]] as const) {
    it(`destination dies in ${label}: source resumes, destination discards`, async () => {
      let seen = 0;
      use({ onFrame: (f: Frame, r: number, s: MigrationStream) => { if (f.type === T.PAGES && r === round && ++seen === (round === 0 ? 2 : 1)) s.abort(new Error('test: destination died')); } });
      const src = mkSrc(`vm-die-${round}`); await src.resume();
      const err = await fail(sendVm({ vm: src, openStream: pair.open, targetDowntimeMs: 0.001, deadlineMs: 20_000 }));
      assert.equal(err.phase, 'precopy', err.message);
      await until(() => host.last()?.discarded === true, 'destination discard');
      assertSourceKeepsIt(src, host.last());
    });
  }

  it('destination dies in stop-and-copy: source resumes, destination discards', async () => {
    let dstStream: MigrationStream | null = null;
    use({ onFrame: (_f, _r, s) => { dstStream = s; } });
    const src = mkSrc('vm-die-sc'); await src.resume();
    src.onPause = () => dstStream?.abort(new Error('test: destination died at pause'));
    const err = await fail(sendVm({ vm: src, openStream: pair.open }));
    assert.equal(err.phase, 'stop-and-copy', err.message);
    await until(() => host.last()?.discarded === true, 'destination discard');
    assertSourceKeepsIt(src, host.last());
  });

  it('destination dies after ready (VM gone there): exactly the source runs', async () => {
    use({ onStateChange: async (st, spec, s) => { if (st === 'ready') { s.abort(new Error('test: died after ready')); await receiver.discardReady(spec.id, spec.generation); } } });
    const src = mkSrc('vm-die-ready'); await src.resume();
    const err = await fail(sendVm({ vm: src, openStream: pair.open, statusRetryMs: 20 }));
    assert.ok(err.phase === 'ready' || err.phase === 'commit', `phase ${err.phase}: ${err.message}`);
    assertSourceKeepsIt(src, host.last());
    assert.equal(host.last()!.started, false, 'the destination never started it');
  });

  it('answer to commit lost: the source asks again on a new stream and lets go only when the destination runs it', async () => {
    use({ onStateChange: (st, _spec, s) => { if (st === 'running') s.abort(new Error('test: lost running')); } });
    const src = mkSrc('vm-lost-running'); await src.resume();
    const stats = await sendVm({ vm: src, openStream: pair.open, statusRetryMs: 20 });
    const dst = host.last()!;
    assert.equal(dst.isRunning(), true);
    assert.equal(src.isRunning(), false, 'source stays paused: never two running copies');
    assert.equal(dst.hashAtStart, src.hashAtPause);
    assert.ok(stats.rounds >= 1);
  });

  it('commit lost before the destination saw it: the status query finds it ready and commits there', async () => {
    let drop = true;
    use({ onFrame: (f, _r, s) => { if (f.type === T.COMMIT && drop) { drop = false; s.abort(new Error('test: commit lost')); throw new Error('test: commit lost'); } } });
    const src = mkSrc('vm-lost-commit'); await src.resume();
    await sendVm({ vm: src, openStream: pair.open, statusRetryMs: 20 });
    assert.equal(drop, false, 'the first commit was dropped');
    assert.equal(host.last()!.isRunning(), true);
    assert.equal(src.isRunning(), false);
    assert.equal(host.last()!.hashAtStart, src.hashAtPause);
  });

  it('unhostable hello (too much memory, unknown CPU feature) is rejected with the reason; the source keeps running', async () => {
    const hosts: [ConstructorParameters<typeof FakeHost>[0], RegExp][] = [[{ maxMemBytes: 1 << 20 }, /RAM/], [{ cpuFeatures: ['lm'] }, /CPU lacks features: nx/]];
    for (const [opts, re] of hosts) {
      host = new FakeHost(opts); receiver = new MigrationReceiver({ host });
      pair.setHandler((s, peer) => receiver.handle(s, peer));
      const src = mkSrc('vm-unhostable'); await src.resume();
      const err = await fail(sendVm({ vm: src, openStream: pair.open }));
      assert.equal(err.phase, 'hello');
      assert.match(err.message, re);
      assert.equal(host.created.length, 0, 'nothing was created on the destination');
      assertSourceKeepsIt(src, undefined);
    }
  });

  it('a corrupted frame in flight is refused: the destination discards, the source resumes', async () => {
    use();
    const src = mkSrc('vm-corrupt'); await src.resume();
    let n = 0;
    const corrupting = async (): Promise<MigrationStream> => {
      const s = await pair.open();
      return new Proxy(s, { get(t, k) {
        if (k === 'send') return (d: Uint8Array) => {
          // The 3rd PAGES header gets an unknown compression id.
          if (d.byteLength > 20 && d[4] === T.PAGES && ++n === 3) { d = d.slice(); d[19] = 9; }
          return t.send(d);
        };
        const v = (t as any)[k]; return typeof v === 'function' ? v.bind(t) : v;
      } });
    };
    const err = await fail(sendVm({ vm: src, openStream: corrupting, compression: false }));
    assert.equal(err.phase, 'precopy');
    assert.match(err.message, /unknown compression 9/);
    await until(() => host.last()?.discarded === true, 'discard');
    assert.equal(receiver.rejectedFrames, 1);
    assertSourceKeepsIt(src, host.last());
  });

  it('hostile source: out-of-range page, oversized length, out-of-order message → protocol error, VM discarded', async () => {
    const cases: [string, Uint8Array[], RegExp][] = [
      ['page outside guest memory', encode.pages({ round: 0, slot: 1, first: 1023, count: 2, compression: COMPRESS_NONE, zero: new Uint8Array([3]), data: new Uint8Array(1) }, []), /outside slot 1/],
      ['oversized length', [new Uint8Array([0x7f, 0xff, 0xff, 0xff, T.STATE])], /exceeds/],
      ['out-of-order message', [encode.empty(T.COMMIT)], /unexpected commit during pre-copy/],
      ['state before the last round', encode.state(new Uint8Array(4)), /unexpected state/],
    ];
    for (const [what, frame, re] of cases) {
      use();
      const vm = mkSrc('vm-hostile');
      const s = await pair.open();
      s.send(encode.hello({ spec: vm.spec, features: [] }));
      const reader = new FrameReader(s);
      const accept = decodeFrame((await reader.next())!.frame);
      assert.equal(accept.type, T.ACCEPT, what);
      for (const part of frame) s.send(part);
      const reply = decodeFrame((await reader.next())!.frame);
      assert.equal(reply.type, T.ABORT, what);
      assert.match((reply as { reason: string }).reason, re, what);
      await until(() => host.last()?.discarded === true, `${what}: discard`);
      assert.equal(receiver.rejectedFrames, 1, what);
      assert.equal(receiver.status(vm.spec.id, vm.spec.generation + 1), 'discarded');
      try { s.abort(new Error('done')); } catch { /* ignore */ }
    }
  });

  it('cancel (AbortSignal) during pre-copy: the source keeps running, the destination discards', async () => {
    use();
    const src = mkSrc('vm-cancel'); await src.resume();
    const ac = new AbortController();
    const p = sendVm({ vm: src, openStream: pair.open, signal: ac.signal, targetDowntimeMs: 0.001, deadlineMs: 20_000,
      onProgress: (e) => { if (e.round >= 2) ac.abort(); } });
    const err = await fail(p);
    assert.equal(err.phase, 'precopy');
    assert.match(err.message, /cancelled/);
    await until(() => host.last()?.discarded === true, 'discard');
    assertSourceKeepsIt(src, host.last());
  });
});
