// The /roam/send/1.0.0 messages (node/web/remote-send.ts) over an in-memory
// stream pair, and the migration board's rounds: progress and outcome relayed,
// the sender's refusal relayed, hostile fields refused; per-round bytes, dirty
// rate and predicted downtime derived from the migration service's events.
import assert from 'node:assert/strict';
import { answerSend, askToSend } from '../node/web/remote-send.js';
import { MigrationBoard, progressEvent } from '../node/web/migration-board.js';
import { streamPair as pair } from './support/stream-pair.js';

describe('web: /roam/send messages and the migration board', () => {
  it('relays the sender\'s progress and outcome to the asker', async () => {
    const [asker, sender] = pair();
    const seen: string[] = [];
    const served = answerSend(sender, async (vm, to, onProgress) => {
      assert.deepEqual([vm, to], ['desk', 'laptop']);
      onProgress({ phase: 'precopy', round: 1, percent: 40, bytesSent: 1000, bytesPerSec: 500, etaMs: 10, predictedDowntimeMs: Infinity, throttle: 0 });
      return { totalMs: 1234, downtimeMs: 20, wireBytes: 5000, rounds: 3, extra: 'not relayed' };
    });
    const out = await askToSend(asker, 'desk', 'laptop', (p) => seen.push(`${p.phase}/${p.round}/${p.predictedDowntimeMs}`));
    await served;
    assert.deepEqual(out, { totalMs: 1234, downtimeMs: 20, wireBytes: 5000, rounds: 3 });
    assert.deepEqual(seen, ['precopy/1/null'], 'an infinite prediction travels as null');
  });

  it('relays the sender\'s refusal, and the sender refuses bad names without running anything', async () => {
    const [a1, s1] = pair();
    void answerSend(s1, async () => { throw new Error("peer 'moon' is offline"); });
    await assert.rejects(askToSend(a1, 'desk', 'moon'), /peer 'moon' is offline/);
    const [a2, s2] = pair();
    let ran = false;
    void answerSend(s2, async () => { ran = true; return {}; });
    await assert.rejects(askToSend(a2, '../etc', 'laptop'), /not a valid name/);
    assert.equal(ran, false);
  });

  it('refuses a hostile sender: unknown phase, out-of-range numbers, oversized frames', async () => {
    const hostile = async (msg: object | Uint8Array) => {
      const [asker, sender] = pair();
      const it = sender[Symbol.asyncIterator]();
      const p = askToSend(asker, 'desk', 'laptop');
      await it.next(); // the request
      if (msg instanceof Uint8Array) sender.send(msg);
      else { const body = Buffer.from(JSON.stringify(msg)); const h = Buffer.alloc(4); h.writeUInt32BE(body.length); sender.send(Buffer.concat([h, body])); }
      return p;
    };
    const base = { t: 'progress', phase: 'precopy', round: 1, percent: 1, bytesSent: 1, bytesPerSec: 1, etaMs: 1, predictedDowntimeMs: 1, throttle: 0 };
    await assert.rejects(hostile({ ...base, phase: 'launch-missiles' }), /unknown phase/);
    await assert.rejects(hostile({ ...base, bytesSent: -5 }), /bytesSent/);
    await assert.rejects(hostile({ ...base, round: 2 ** 60 }), /round/);
    await assert.rejects(hostile({ t: 'done', totalMs: 'soon' }), /totalMs/);
    const huge = Buffer.alloc(8); huge.writeUInt32BE(10 * 1024 * 1024);
    await assert.rejects(hostile(huge), /over the 4096-byte limit/);
  });

  it('charts each round: bytes, dirty rate (from predicted downtime × link rate) and prediction; stop-and-copy last', () => {
    let now = 0;
    const board = new MigrationBoard(() => now);
    const t = board.begin('desk', 'basement', 'laptop');
    const ev = (phase: string, round: number, bytesSent: number, predictedDowntimeMs: number | null, bytesPerSec = 100e6) =>
      t.progress(progressEvent({ phase, round, percent: 0, bytesSent, bytesPerSec, etaMs: 0, predictedDowntimeMs, throttle: 0 }));
    ev('home', 0, 0, 0);
    ev('hello', 0, 1000, null, 0);
    now = 2000; ev('precopy', 1, 201_000, 100); // round 0: 200 kB in 2 s; 100 ms × 100 MB/s = 10 MB dirty
    now = 2500; ev('precopy', 2, 211_000, 10); // round 1: 10 kB in 0.5 s; 1 MB dirty
    now = 2600; ev('done', 3, 212_000, 0);
    t.done({ totalMs: 2600, downtimeMs: 40, wireBytes: 212_000, rounds: 3 });
    const v = board.list()[0]!;
    assert.deepEqual(v.rounds.map((r) => [r.round, r.bytes, r.seconds, r.dirtyBytesPerSec, r.predictedDowntimeMs, r.final]), [
      [0, 200_000, 2, 5e6, 100, false],
      [1, 10_000, 0.5, 2e6, 10, false],
      [2, 1_000, 0.1, null, null, true],
    ]);
    assert.deepEqual(v.outcome, { ok: true, totalMs: 2600, downtimeMs: 40, wireBytes: 212_000, rounds: 3 });
    assert.equal(board.activeFor('desk'), undefined);
  });
});
