// The link between source and destination is cut (`ip link set eth0 down` on one end of
// the veth joining two network namespaces) in every phase of a real-VM migration. Each
// side is its own Node process (test/migrate-real-peer.ts) that cuts the link itself at
// the chosen moment, synchronously, so the phase is exact. Short reply / idle timeouts
// make both sides notice the dead link within seconds. Afterwards exactly one copy runs:
//   - cut before commit → the source resumes (heartbeat continues there, no gap, memory ok),
//     the destination discards (its VM process ends; a `ready` one after its grace);
//   - cut as commit goes out → the source stays paused and asks again; when the link is
//     back, the status query finds the destination `ready`, commits, and the VM runs there.
import assert from 'node:assert/strict';
import { HeartbeatWatcher } from '../guest/index.js';
import { FrameWriter, type MigrationStream } from '../migrate/channel.js';
import { VethPair, requireVethPair, run } from './support/veth-pair.js';
import { moreBeats, PeerProcess, type PeerMsg } from './migrate-real-support.js';
import type { PeerFault } from './migrate-real-peer.js';

const pair = new VethPair('cut', '10.232.0.1', '10.232.0.2');
const NS_A = pair.a, NS_B = pair.b, IP_A = pair.ipA, IP_B = pair.ipB;
const MEM = String(64 * 1024 * 1024);
const WORKLOAD = 'fill=32M ws=8M rate=8M beat=50ms entropy=0.3';
/** Both sides give up on a silent link after this long. */
const SHORT_MS = 3000;

describe('real VM migration with the link cut (veth down) in each phase', function () {
  this.timeout(120_000);
  const peers: PeerProcess[] = [];

  before(function () {
    requireVethPair(this);
    pair.create({ up: false });
  });
  after(() => pair.destroy());
  // Every case starts with fresh peer processes on a link that is up.
  beforeEach(() => pair.link('up'));
  afterEach(async () => { await Promise.all(peers.splice(0).map((p) => p.stop())); });

  /** Receiver in B, sender (booting the guest) in A, each with its fault; resolves once the sender starts sending. */
  async function start(receiverFault: PeerFault, senderFault: PeerFault) {
    const watcher = new HeartbeatWatcher();
    const receiver = new PeerProcess(NS_B, ['receive', IP_B], watcher, receiverFault);
    peers.push(receiver);
    const { addr } = await receiver.next(['addr'], 20_000);
    const sender = new PeerProcess(NS_A, ['send', IP_A, String(addr), MEM, '60000', WORKLOAD], watcher, senderFault);
    peers.push(sender);
    await sender.next(['ready'], 60_000);
    return { watcher, receiver, sender };
  }

  /** The guest runs on at the source: more beats, none lost or repeated, memory verified. */
  async function assertRunsOn(watcher: HeartbeatWatcher): Promise<void> {
    const seq = watcher.lastSeq;
    await moreBeats(watcher, 6);
    assert.ok(watcher.lastSeq >= seq + 6, 'the heartbeat continues');
    assert.equal(watcher.gaps, 0); assert.equal(watcher.repeats, 0);
    assert.equal(watcher.corruptPage, undefined); assert.equal(watcher.lastHeartbeat?.ok, true);
  }

  /** Cut by the receiver at `cutAt`: the sender resumes with an error naming `phase`, the destination discards. */
  async function cutBeforeCommit(cutAt: PeerFault['cutAt'], phase: string, extra: PeerFault = {}, cutter: 'receiver' | 'sender' = 'receiver'): Promise<{ outcome: PeerMsg; receiver: PeerProcess }> {
    const { watcher, receiver, sender } = await start(
      { ...(cutter === 'receiver' ? { cutAt } : {}), idleTimeoutMs: SHORT_MS, readyGraceMs: 2000 },
      { ...(cutter === 'sender' ? { cutAt } : {}), replyTimeoutMs: SHORT_MS, statusRetryMs: 200, ...extra });
    const created = await receiver.next(['vm-created'], 30_000);
    const cut = await (cutter === 'receiver' ? receiver : sender).next(['cut'], 60_000);
    assert.equal(cut.ok, true, `ip link set down failed: ${String(cut.error)}`);
    const outcome = await sender.next(['sent', 'failed'], 60_000);
    assert.equal(outcome.t, 'failed', `the migration cannot complete over a cut link: ${JSON.stringify(outcome)}`);
    assert.equal(outcome.phase, phase, `wrong phase in: ${String(outcome.error)}`);
    assert.equal(outcome.vmState, 'running-here');
    assert.equal(outcome.running, true, 'the source resumed the VM');
    // Silence shows either as no ack/reply in time or as a send the dead link never takes (full window).
    assert.match(String(outcome.error), new RegExp(`no answer from the destination within ${SHORT_MS} ms|the peer took no data for ${SHORT_MS} ms \\(link down or peer stalled\\)`),
      `the error says the link went silent: ${String(outcome.error)}`);
    // The destination's VM process ends (discarded), and nothing ever ran there.
    await receiver.next(['vm-exit'], 30_000, (m) => m.pid === created.pid);
    assert.equal(receiver.seen.some((m) => m.t === 'arrived'), false, 'the VM never ran at the destination');
    await assertRunsOn(watcher);
    return { outcome, receiver };
  }

  it('cut in round 0: the source resumes, the destination discards', async () => {
    await cutBeforeCommit('round0', 'precopy');
  });

  it('cut by the source as round 0 starts (its writes fill the dead link): the source resumes, the destination discards', async () => {
    await cutBeforeCommit('accepted', 'precopy', {}, 'sender');
  });

  it('cut in a later round (round ≥ 1): the source resumes, the destination discards', async () => {
    // A downtime target of 0 keeps pre-copy going while the guest dirties pages, so round 1 comes.
    const { receiver } = await cutBeforeCommit('round1', 'precopy', { targetDowntimeMs: 0 });
    const cut = receiver.seen.find((m) => m.t === 'cut')!;
    assert.ok(Number(cut.round) >= 1, `cut in round ${String(cut.round)}`);
  });

  it('cut in stop-and-copy (the last round ended, its ack never arrives): the source resumes', async () => {
    await cutBeforeCommit('last-round-end', 'stop-and-copy');
  });

  it('cut as the destination turns ready (READY never arrives, no commit): the source resumes, the destination discards after its grace', async () => {
    const { receiver } = await cutBeforeCommit('state', 'ready');
    const order = receiver.seen.map((m) => m.t);
    assert.ok(order.includes('state') && order.indexOf('state') < order.lastIndexOf('vm-exit'),
      `the destination held the VM ready, then discarded it: ${JSON.stringify(order)}`);
    assert.equal(receiver.seen.find((m) => m.t === 'state')!.state, 'ready');
  });

  it('cut as commit goes out: the source stays paused and asks again; link back → the VM runs at the destination only', async () => {
    const { watcher, receiver, sender } = await start(
      { idleTimeoutMs: SHORT_MS, readyGraceMs: 120_000 },
      { cutAt: 'commit', replyTimeoutMs: SHORT_MS, statusRetryMs: 300, statusDeadlineMs: 120_000 });
    const cut = await sender.next(['cut'], 60_000);
    assert.equal(cut.ok, true, `ip link set down failed: ${String(cut.error)}`);
    assert.equal((await receiver.next(['state'], 30_000)).state, 'ready');
    // No RUNNING within the reply timeout → the source asks again on new streams, paused.
    const asking = await sender.next(['open'], 60_000);
    assert.equal(asking.running, false, 'the source stays paused while it cannot find out');
    await sender.next(['open'], 60_000, (m) => Number(m.n) >= 3); // and keeps asking
    assert.equal(sender.seen.some((m) => m.t === 'sent' || m.t === 'failed'), false, 'the source has not given up');
    assert.equal(receiver.seen.some((m) => m.t === 'arrived'), false, 'nothing runs at the destination yet');
    const seqPaused = watcher.lastSeq;

    run('ip', '-n', NS_A, 'link', 'set', 'eth0', 'up');
    const outcome = await sender.next(['sent', 'failed'], 60_000);
    assert.equal(outcome.t, 'sent', `the status query should commit the ready VM: ${JSON.stringify(outcome)}`);
    assert.equal(outcome.sourceAlive, false, 'the source VM process is closed');
    assert.equal((await receiver.next(['arrived'], 10_000)).generation, 2);
    await assertRunsOn(watcher);
    assert.ok(watcher.lastSeq > seqPaused, 'the guest runs on at the destination');
  });
});

// What the cut link showed (above, 'cut by the source as round 0 starts'): a stream whose
// window never reopens. The writer must fail on its own, saying so, not wait on the transport.
describe('FrameWriter on a stream that never drains', () => {
  function stuckStream(): MigrationStream & { waiters: number } {
    const s = {
      waiters: 0,
      send: () => false,
      onDrain: (o?: { signal?: AbortSignal }) => new Promise<void>((_, reject) => {
        s.waiters++;
        o?.signal?.addEventListener('abort', () => { s.waiters--; reject(new Error('aborted')); }, { once: true });
      }),
      close: async () => undefined,
      abort: () => undefined,
      async *[Symbol.asyncIterator]() { /* nothing arrives */ },
    };
    return s;
  }

  it('fails a send the peer never takes after its drain timeout, and drops its waiter', async () => {
    const s = stuckStream();
    const w = new FrameWriter(s, undefined, 50);
    await assert.rejects(w.write(new Uint8Array(10)), /the peer took no data for 50 ms \(link down or peer stalled\)/);
    assert.equal(s.waiters, 0);
  });

  it('a cancel still wins over the drain timeout', async () => {
    const s = stuckStream();
    const ac = new AbortController();
    const w = new FrameWriter(s, ac.signal, 60_000);
    const p = w.write(new Uint8Array(10));
    ac.abort(new Error('cancelled'));
    await assert.rejects(p, (e: Error) => !/took no data/.test(e.message));
    assert.equal(s.waiters, 0);
  });
});
