// The home service's pieces that need no network: the /roam/home/1.0.0
// exchange over an in-memory stream pair (including hostile input), keeping
// roamd's own files out of the home, and the sync progress figures.
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { askToPull, answerPull, type PullOutcome } from '../node/agent/home-protocol.js';
import { ensurePrivateIgnored } from '../node/agent/home-ignore.js';
import { syncPercent } from '../node/agent/home-progress.js';
import { IgnoreRules, type SyncProgress } from '../storage/index.js';
import type { WireStream } from '../node/agent/wire.js';

/** One direction of an in-memory stream: chunks written on one end come out of the other. */
class Pipe {
  private queue: Uint8Array[] = [];
  private waiting: ((r: IteratorResult<Uint8Array>) => void) | null = null;
  private ended = false;
  private failure: Error | null = null;
  push(b: Uint8Array): void {
    if (this.ended) throw new Error('write after close');
    if (this.waiting) { const w = this.waiting; this.waiting = null; w({ value: b, done: false }); } else this.queue.push(b);
  }
  end(err?: Error): void {
    this.ended = true;
    if (err) this.failure = err;
    if (this.waiting) { const w = this.waiting; this.waiting = null; w({ value: undefined, done: true }); }
  }
  next(): Promise<IteratorResult<Uint8Array>> {
    if (this.queue.length) return Promise.resolve({ value: this.queue.shift()!, done: false });
    if (this.failure) return Promise.reject(this.failure);
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((r) => { this.waiting = r; });
  }
}

function streamPair(): [WireStream, WireStream] {
  const ab = new Pipe(); const ba = new Pipe();
  const end = (read: Pipe, write: Pipe): WireStream => ({
    [Symbol.asyncIterator]: () => ({ next: () => read.next() }),
    send: (d) => { write.push(d); return true; },
    onDrain: async () => undefined,
    close: async () => { write.end(); },
    abort: (err) => { write.end(err); read.end(err); },
  });
  return [end(ba, ab), end(ab, ba)];
}

/** Writes one raw frame (length + JSON) the way a hostile peer might. */
function rawFrame(s: WireStream, value: unknown): void {
  const body = Buffer.from(JSON.stringify(value));
  const f = Buffer.alloc(4 + body.length);
  f.writeUInt32BE(body.length, 0); body.copy(f, 4);
  s.send(f);
}

const SNAP = 'ab'.repeat(32);
const outcome: PullOutcome = {
  remoteSnapshot: SNAP, headSnapshot: 'cd'.repeat(32), holds: true, complete: true, chunksFetched: 3, bytesFetched: 1000, files: 2,
  conflicts: [{ path: 'a.txt', kind: 'both-modified', keptAs: 'a.txt.conflict-x-1' }], conflictCount: 1, problems: [],
};

describe('home: the /roam/home/1.0.0 exchange', () => {
  it('hands the asker\'s snapshot id to the puller, streams progress and returns the outcome', async () => {
    const [asker, puller] = streamPair();
    let asked: string | undefined;
    const seen: string[] = [];
    const served = answerPull(puller, async (snapshot, progress) => {
      asked = snapshot;
      progress({ phase: 'chunks', objects: 1, chunksDone: 1, chunksTotal: 3, bytesDone: 10, filesDone: 0, filesTotal: 2 });
      progress({ phase: 'done', objects: 1, chunksDone: 3, chunksTotal: 3, bytesDone: 1000, filesDone: 2, filesTotal: 2 });
      return outcome;
    });
    const got = await askToPull(asker, SNAP, (p: SyncProgress) => seen.push(p.phase));
    await served;
    assert.equal(asked, SNAP);
    assert.deepEqual(got, outcome);
    assert.ok(seen.includes('done'), `progress seen: ${seen.join(',')}`);
  });

  it('passes the puller\'s refusal to the asker as its message', async () => {
    const [asker, puller] = streamPair();
    const served = answerPull(puller, async () => { throw new Error('this machine keeps no home tree'); });
    await assert.rejects(askToPull(asker, SNAP), /this machine keeps no home tree/);
    await served;
  });

  it('refuses a request that does not name a snapshot id, without running the pull', async () => {
    for (const bad of [{ t: 'pull', snapshot: '../../etc/passwd' }, { t: 'pull' }, { t: 'push', snapshot: SNAP }, { t: 'pull', snapshot: 'x'.repeat(5000) }]) {
      const [asker, puller] = streamPair();
      let ran = false;
      rawFrame(asker, bad);
      await assert.rejects(answerPull(puller, async () => { ran = true; return outcome; }), /snapshot|pull request|at most 64/);
      assert.equal(ran, false, JSON.stringify(bad).slice(0, 80));
    }
  });

  it('refuses a malformed outcome or progress from the puller', async () => {
    const cases: Record<string, unknown>[] = [
      { t: 'done', ...outcome, chunksFetched: -1 },
      { t: 'done', ...outcome, headSnapshot: 'not-a-hash' },
      { t: 'done', ...outcome, conflicts: [{ path: 42, kind: 'x' }] },
      { t: 'progress', phase: 'explode', objects: 0, chunksDone: 0, chunksTotal: 0, bytesDone: 0, filesDone: 0, filesTotal: 0 },
      { t: 'progress', phase: 'chunks', objects: 0, chunksDone: 1.5, chunksTotal: 0, bytesDone: 0, filesDone: 0, filesTotal: 0 },
    ];
    for (const c of cases) {
      const [asker, puller] = streamPair();
      const asked = askToPull(asker, SNAP);
      rawFrame(puller, c);
      await assert.rejects(asked, /field|phase|object|snapshot/, JSON.stringify(c).slice(0, 120));
    }
  });

  it('keeps at most 50 listed conflicts from the wire (the count says how many there were)', async () => {
    const [asker, puller] = streamPair();
    const asked = askToPull(asker, SNAP);
    const many = Array.from({ length: 500 }, (_, i) => ({ path: `f${i}`, kind: 'both-modified', keptAs: null }));
    rawFrame(puller, { t: 'done', ...outcome, conflicts: many, conflictCount: 500 });
    const got = await asked;
    assert.equal(got.conflicts.length, 50);
    assert.equal(got.conflictCount, 500);
  });
});

describe('home: roamd\'s own files stay out of the home', () => {
  let root: string;
  beforeEach(() => { root = mkdtempSync(join(tmpdir(), 'roam-hm-ign-')); });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('adds an anchored rule for a state dir inside the home, once, and none for one outside', async () => {
    const state = join(root, '.local', 'share', 'roam');
    mkdirSync(state, { recursive: true });
    writeFileSync(join(root, '.roamignore'), '*.tmp\n');
    assert.deepEqual(await ensurePrivateIgnored(root, [state, join(tmpdir(), 'elsewhere')]), ['/.local/share/roam/']);
    assert.deepEqual(await ensurePrivateIgnored(root, [state]), [], 'the second start finds the rule in place');
    const rules = IgnoreRules.parse(readFileSync(join(root, '.roamignore'), 'utf8'));
    assert.ok(rules.ignoresWithParents('.local/share/roam/store/packs/000001.pack', false));
    assert.ok(rules.ignores('x.tmp', false), 'the user\'s own rules are kept');
    assert.ok(!rules.ignoresWithParents('.local/share/other', true));
  });

  it('refuses a home that is roamd\'s own directory', async () => {
    await assert.rejects(ensurePrivateIgnored(root, [root]), /is the home tree itself/);
  });
});

describe('home: sync progress figures', () => {
  it('rise through the phases and stay within 0-100, whatever the counts say', () => {
    const p = (phase: string, extra: Record<string, number> = {}) => syncPercent({ phase, ...extra });
    const seq = [p('scan'), p('tree'), p('chunks', { chunksDone: 0, chunksTotal: 10 }), p('chunks', { chunksDone: 5, chunksTotal: 10 }),
      p('chunks', { chunksDone: 10, chunksTotal: 10 }), p('materialise', { filesDone: 1, filesTotal: 4 }), p('done')];
    for (let i = 1; i < seq.length; i++) assert.ok(seq[i]! >= seq[i - 1]!, seq.join(','));
    assert.equal(seq.at(-1), 100);
    assert.equal(p('chunks', { chunksDone: 99, chunksTotal: 3 }), 90, 'a done count over the total is capped');
    assert.equal(syncPercent({ phase: 'chunks', chunksDone: -5 as number, chunksTotal: 'x' as unknown as number }), 90);
  });
});
