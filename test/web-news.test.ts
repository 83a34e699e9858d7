// /roam/migrations/1.0.0 without a network (node/web/migration-news.ts,
// news-inbox.ts, news-publisher.ts): a sending member's track reaches another
// member's board whole (rounds, outcome), one entry per migration id; hostile
// or contradictory notifications are refused and leave the board as it was; a
// member is held to a few notifications per second; the publisher coalesces a
// burst of progress into a few notifications and always sends the outcome.
import assert from 'node:assert/strict';
import { MigrationBoard, progressEvent, type MigrationView } from '../node/web/migration-board.js';
import { NEWS_MAX_ROUNDS, newsMessage, postNews } from '../node/web/migration-news.js';
import { NewsInbox } from '../node/web/news-inbox.js';
import { NewsPublisher } from '../node/web/news-publisher.js';
import { answerSend, askToSend } from '../node/web/remote-send.js';
import { jsonFrame, streamPair } from './support/stream-pair.js';

/** A sender's board with one migration of `desk` from basement to laptop, three rounds done. */
function sending(now: { t: number }) {
  const board = new MigrationBoard(() => now.t);
  const track = board.begin('desk', 'basement', 'laptop');
  const ev = (phase: string, round: number, bytesSent: number, predictedDowntimeMs: number | null) =>
    track.progress(progressEvent({ phase, round, percent: round * 30, bytesSent, bytesPerSec: 100e6, etaMs: 0, predictedDowntimeMs, throttle: 0 }));
  ev('hello', 0, 1000, null);
  now.t += 2000; ev('precopy', 1, 201_000, 100);
  now.t += 500; ev('precopy', 2, 211_000, 10);
  return { board, track, ev };
}

/** Posts `msg` (an object, or raw bytes) to `inbox` as member `peer` known as `name`. */
async function post(inbox: NewsInbox, msg: Record<string, unknown> | Uint8Array, peer = 'peer-basement', name = 'basement') {
  const [out, inn] = streamPair();
  if (msg instanceof Uint8Array) { out.send(msg); void out.close(); } else void postNews(out, msg).catch(() => undefined);
  return inbox.accept(inn, peer, name);
}

describe('web: migration notifications between members', () => {
  it('puts a member\'s migration on this board with its rounds and outcome; repeats and older news change nothing', async () => {
    const clock = { t: 1_000_000 };
    const { board: sender, track, ev } = sending(clock);
    const board = new MigrationBoard(() => clock.t);
    const inbox = new NewsInbox(board, () => clock.t);
    assert.equal(await post(inbox, newsMessage(track.view, 1, clock.t)), 'applied');
    let v = board.list();
    assert.equal(v.length, 1);
    assert.deepEqual([v[0]!.id, v[0]!.vm, v[0]!.from, v[0]!.to, v[0]!.outcome], [track.view.id, 'desk', 'basement', 'laptop', null]);
    assert.deepEqual(v[0]!.rounds, track.view.rounds);
    assert.equal(v[0]!.rounds.length, 2);
    assert.equal(v[0]!.startedAt, track.view.startedAt, 'the start travels as an age');
    assert.equal(await post(inbox, newsMessage(track.view, 1, clock.t)), 'ignored', 'the same sequence number again');
    clock.t += 100; ev('done', 3, 212_000, 0);
    track.done({ totalMs: 2600, downtimeMs: 40, wireBytes: 212_000, rounds: 3 });
    assert.equal(await post(inbox, newsMessage(track.view, 2, clock.t)), 'applied');
    v = board.list();
    assert.equal(v.length, 1, 'one entry per migration id');
    assert.deepEqual(v[0]!.outcome, { ok: true, totalMs: 2600, downtimeMs: 40, wireBytes: 212_000, rounds: 3 });
    assert.deepEqual(v[0]!.rounds.map((r) => [r.round, r.bytes, r.final]), [[0, 200_000, false], [1, 10_000, false], [2, 1_000, true]]);
    assert.equal(board.activeFor('desk'), undefined);
    assert.equal(await post(inbox, newsMessage({ ...track.view, outcome: null }, 3, clock.t)), 'ignored', 'nothing reopens a finished one');
    assert.equal(sender.list().length, 1);
  });

  it('keeps the asker\'s own track when the sender reports the migration it asked for (the id travels in /roam/send)', async () => {
    const clock = { t: 5_000 };
    const asker = new MigrationBoard(() => clock.t);
    const mine = asker.begin('desk', 'basement', 'laptop', 'laptop');
    // The asker hands its id to the sender with the request; the sender's track takes it.
    const [a, s] = streamPair();
    const sender = new MigrationBoard(() => clock.t);
    let senderView: MigrationView | undefined;
    const served = answerSend(s, async (vm, to, _p, id) => { senderView = sender.begin(vm, 'basement', to, 'laptop', id).view; return { totalMs: 1, downtimeMs: 1, wireBytes: 1, rounds: 1 }; });
    await askToSend(a, 'desk', 'laptop', undefined, mine.view.id);
    await served;
    assert.equal(senderView!.id, mine.view.id);
    assert.equal(senderView!.via, 'laptop');
    const inbox = new NewsInbox(asker, () => clock.t);
    assert.equal(await post(inbox, newsMessage(senderView!, 1, clock.t)), 'ignored');
    assert.equal(asker.list().length, 1);
    assert.equal(asker.list()[0], mine.view);
    // A request with a malformed id is refused before anything runs.
    const [a2, s2] = streamPair();
    let ran = false;
    void answerSend(s2, async () => { ran = true; return {}; });
    a2.send(jsonFrame({ t: 'send', vm: 'desk', to: 'laptop', id: '../../etc' }));
    const it = a2[Symbol.asyncIterator]();
    const answer = JSON.parse(Buffer.from(((await it.next()).value as Uint8Array).subarray(4)).toString()) as { t: string; message: string };
    assert.equal(answer.t, 'error');
    assert.match(answer.message, /id/);
    assert.equal(ran, false);
  });

  it('refuses malformed or contradictory notifications and leaves the board as it was', async () => {
    const clock = { t: 1_000_000 };
    const { track } = sending(clock);
    const board = new MigrationBoard(() => clock.t);
    const inbox = new NewsInbox(board, () => clock.t);
    const good = newsMessage(track.view, 1, clock.t);
    await post(inbox, good);
    const before = JSON.stringify(board.list());
    const rounds = (good.rounds as unknown[]);
    const bad: [string, Record<string, unknown> | Uint8Array, RegExp][] = [
      ['unknown phase', { ...good, seq: 2, phase: 'launch-missiles' }, /unknown phase/],
      ['negative bytes', { ...good, seq: 2, bytesSent: -1 }, /bytesSent/],
      ['infinite-ish round', { ...good, seq: 2, round: 2 ** 60 }, /round/],
      ['percent over 100', { ...good, seq: 2, percent: 250 }, /percent/],
      ['id not hex', { ...good, seq: 2, id: 'zzzzzzzzzzzz' }, /id/],
      ['VM name with a path', { ...good, seq: 2, vm: '../etc' }, /vm/],
      ['too many rounds', { ...good, seq: 2, rounds: Array(NEWS_MAX_ROUNDS + 1).fill(rounds[0]) }, /rounds/],
      ['a round point that is not one', { ...good, seq: 2, rounds: [{ ...(rounds[0] as object), bytes: 'lots' }] }, /bytes/],
      ['outcome of no kind', { ...good, seq: 2, outcome: { ok: 'yes' } }, /outcome/],
      ['error too long', { ...good, seq: 2, outcome: { ok: false, error: 'x'.repeat(501) } }, /error/],
      ['not a notification', { t: 'hello' }, /notification/],
      ['same id, another migration', { ...good, seq: 2, to: 'imac' }, /another migration/],
      ['a frame over the limit', Buffer.from([0, 1, 0, 0, 1, 2, 3]), /over the 16384-byte limit/],
      ['not JSON', Buffer.concat([Buffer.from([0, 0, 0, 3]), Buffer.from('{{{')]), /not JSON/],
    ];
    for (const [what, msg, why] of bad) {
      await assert.rejects(post(inbox, msg), why, what);
      assert.equal(JSON.stringify(board.list()), before, `${what}: the board is untouched`);
    }
    await assert.rejects(post(inbox, { ...good, seq: 2 }, 'peer-imac', 'imac'), /only report migrations it sends/);
    const another = { ...good, seq: 2, id: 'abcdefabcdef' };
    assert.equal(await post(inbox, another, 'peer-imac', 'basement'), 'applied', 'a different id from a member whose name matches is fine');
    await assert.rejects(post(inbox, { ...another, seq: 3 }, 'peer-basement', 'basement'), /another migration/, 'but not when another peer posts to it');
  });

  it('holds a member to a few notifications per second', async () => {
    const clock = { t: 1_000_000 };
    const { track } = sending(clock);
    const board = new MigrationBoard(() => clock.t);
    const inbox = new NewsInbox(board, () => clock.t);
    let taken = 0;
    let refused = 0;
    for (let seq = 1; seq <= 30; seq++) {
      await post(inbox, newsMessage(track.view, seq, clock.t)).then(() => taken++, (e: Error) => { assert.match(e.message, /too many/); refused++; });
    }
    assert.equal(taken, 20, 'the burst');
    assert.equal(refused, 10);
    const imacs = { ...newsMessage(track.view, 1, clock.t), id: 'abcabcabcabc', from: 'imac' };
    assert.equal(await post(inbox, imacs, 'peer-imac', 'imac'), 'applied', 'another member has an allowance of its own');
    clock.t += 1000;
    assert.equal(await post(inbox, newsMessage(track.view, 31, clock.t)), 'applied', 'a second later it may post again');
  });

  it('marks a member\'s migration failed when its news stops, and takes it back if news comes after all', async () => {
    const clock = { t: 1_000_000 };
    const { track } = sending(clock);
    const board = new MigrationBoard(() => clock.t);
    const inbox = new NewsInbox(board, () => clock.t);
    await post(inbox, newsMessage(track.view, 1, clock.t));
    clock.t += 29_000; board.sweep(30_000);
    assert.equal(board.list()[0]!.outcome, null);
    clock.t += 2_000; board.sweep(30_000);
    assert.match((board.list()[0]!.outcome as { error: string }).error, /no news from basement for 30 s/);
    assert.equal(await post(inbox, newsMessage(track.view, 2, clock.t)), 'applied');
    assert.equal(board.list()[0]!.outcome, null);
  });

  it('publishes a burst of progress as a few notifications to each online member, the outcome last', async () => {
    const sender = new MigrationBoard();
    const boards = new Map([['imac', new MigrationBoard()], ['laptop', new MigrationBoard()]]);
    const posted = new Map<string, number>([['imac', 0], ['laptop', 0]]);
    const publisher = new NewsPublisher(sender, {
      self: () => 'basement',
      members: () => ['imac', 'laptop'],
      dial: async (peer) => {
        const [out, inn] = streamPair();
        posted.set(peer, posted.get(peer)! + 1);
        void new NewsInbox(boards.get(peer)!).accept(inn, 'peer-basement', 'basement');
        return out;
      },
    });
    try {
      const asked = sender.begin('desk', 'imac', 'laptop', 'basement'); // a migration basement asked imac for: imac reports it, not basement
      asked.failed(new Error('not this one'));
      const t = sender.begin('desk', 'basement', 'laptop');
      let changes = 0;
      sender.on('change', () => changes++);
      for (let round = 1; round <= 40; round++) {
        t.progress(progressEvent({ phase: 'precopy', round, percent: round, bytesSent: round * 1e6, bytesPerSec: 1e8, etaMs: 0, predictedDowntimeMs: 5, throttle: 0 }));
      }
      t.done({ totalMs: 1, downtimeMs: 1, wireBytes: 40e6, rounds: 40 });
      for (const [m, b] of boards) {
        for (let i = 0; i < 200 && !b.list()[0]?.outcome; i++) await new Promise((r) => setTimeout(r, 50));
        const v = b.list();
        assert.equal(v.length, 1, `${m}: only the migration basement sends`);
        assert.equal(v[0]!.id, t.view.id);
        assert.equal(v[0]!.outcome?.ok, true, `${m}: the outcome arrived`);
        assert.deepEqual(v[0]!.rounds, t.view.rounds);
        assert.ok(posted.get(m)! < changes, `${m}: ${posted.get(m)} notifications for ${changes} changes`);
      }
    } finally { publisher.stop(); }
  });
});
