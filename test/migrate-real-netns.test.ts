// Layer 5: the probe guest migrates between two network namespaces joined by a veth
// pair, each side its own Node process (test/migrate-real-peer.ts) with its own libp2p
// node and VM processes: once over the bare veth, once over a link shaped to 200 Mbit/s
// with a workload that dirties faster than that, which must converge by throttling.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { HeartbeatWatcher } from '../guest/index.js';
import type { MigrationStats } from '../migrate/index.js';
import { VethPair, requireVethPair, run } from './support/veth-pair.js';
import { GuestClock, MiB, PeerProcess } from './migrate-real-support.js';

const pair = new VethPair('mig', '10.231.0.1', '10.231.0.2');
const NS_A = pair.a, NS_B = pair.b, IP_A = pair.ipA, IP_B = pair.ipB;

describe('real VM migration across two network namespaces (veth)', function () {
  this.timeout(180_000);
  const peers: PeerProcess[] = [];

  before(function () {
    requireVethPair(this);
    pair.create({ up: true });
  });
  after(() => pair.destroy());
  afterEach(async () => { await Promise.all(peers.splice(0).map((p) => p.stop())); });

  /** Receiver in B, sender (booting the guest) in A; returns the sender's outcome and the joint heartbeat. */
  async function migrate(memBytes: number, cmdline: string, deadlineMs: number) {
    const watcher = new HeartbeatWatcher();
    const clock = new GuestClock(watcher);
    const receiver = new PeerProcess(NS_B, ['receive', IP_B], watcher);
    peers.push(receiver);
    const { addr } = await receiver.next(['addr'], 20_000);
    const sender = new PeerProcess(NS_A, ['send', IP_A, String(addr), String(memBytes), String(deadlineMs), cmdline], watcher);
    peers.push(sender);
    await sender.next(['ready'], 60_000);
    clock.resetGap(); watcher.maxWallGapMs = 0;
    const seqAtSend = watcher.lastSeq;
    const outcome = await sender.next(['sent', 'failed'], deadlineMs + 60_000);
    return { watcher, clock, receiver, sender, outcome, seqAtSend };
  }

  async function beats(watcher: HeartbeatWatcher, n: number, ms = 20_000): Promise<void> {
    const target = watcher.heartbeats + n, end = Date.now() + ms;
    while (watcher.heartbeats < target) {
      if (Date.now() > end) throw new Error(`saw ${watcher.heartbeats} heartbeats, wanted ${target}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  function report(name: string, s: MigrationStats, w: HeartbeatWatcher, c: GuestClock): void {
    console.log(`      ${name}: total ${s.totalMs} ms, downtime ${s.downtimeMs} ms (source), rounds ${s.rounds}, wire ${(s.wireBytes / MiB).toFixed(1)} MiB, ` +
      `max throttle ${s.maxThrottle}, dirty pages/round ${s.dirtyPagesPerRound.join(',')}, max heartbeat gap ${w.maxWallGapMs} ms wall / ${c.maxGuestGapMs} ms guest`);
  }

  it('moves the running probe guest from one namespace to the other; the heartbeat continues there', async () => {
    const { watcher, clock, receiver, outcome, seqAtSend } = await migrate(128 * MiB, 'fill=64M ws=16M rate=16M beat=50ms entropy=0.3', 60_000);
    assert.equal(outcome.t, 'sent', `migration failed: ${JSON.stringify(outcome)}`);
    assert.equal(outcome.sourceAlive, false, 'the source VM process is closed');
    const arrived = await receiver.next(['arrived'], 5000);
    assert.equal(arrived.generation, 2);
    await beats(watcher, 10);
    assert.ok(watcher.lastSeq >= seqAtSend + 10);
    assert.equal(watcher.gaps, 0); assert.equal(watcher.repeats, 0);
    assert.equal(watcher.corruptPage, undefined); assert.equal(watcher.lastHeartbeat?.ok, true);
    assert.equal(clock.ticksWentBack, 0);
    report('veth', outcome.stats as MigrationStats, watcher, clock);
  });

  it('converges over a 200 Mbit/s link (tc tbf) by throttling a guest that dirties faster, within 60 s', async () => {
    run('ip', 'netns', 'exec', NS_A, 'tc', 'qdisc', 'add', 'dev', 'eth0', 'root', 'tbf', 'rate', '200mbit', 'burst', '256kb', 'latency', '50ms');
    try {
      // 48 MiB/s of incompressible page writes (entropy=1) over a 25 MB/s link: pre-copy alone cannot converge.
      const deadlineMs = 60_000;
      const { watcher, clock, receiver, outcome } = await migrate(128 * MiB, 'fill=64M ws=32M rate=48M beat=50ms entropy=1', deadlineMs);
      assert.equal(outcome.t, 'sent', `migration did not converge: ${JSON.stringify(outcome)}`);
      const s = outcome.stats as MigrationStats;
      report('tbf 200mbit', s, watcher, clock);
      assert.ok(s.maxThrottle > 0, 'the guest had to be throttled');
      assert.ok(s.totalMs < deadlineMs, `converged in ${s.totalMs} ms, deadline ${deadlineMs} ms`);
      await receiver.next(['arrived'], 5000);
      await beats(watcher, 6);
      assert.equal(watcher.gaps, 0); assert.equal(watcher.repeats, 0);
      assert.equal(watcher.corruptPage, undefined); assert.equal(watcher.lastHeartbeat?.ok, true);
    } finally {
      spawnSync('ip', ['netns', 'exec', NS_A, 'tc', 'qdisc', 'del', 'dev', 'eth0', 'root']);
    }
  });
});
