import '../node/common/polyfill.js';
import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createLibp2p, type Libp2p } from 'libp2p';
import { tcp } from '@libp2p/tcp';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { Store } from '../storage/store.js';
import { serveStore, syncFrom, lastSyncedRef, SyncError } from '../storage/sync.js';
import { hashHex } from '../storage/hash.js';
import { chunkBuffer } from '../storage/chunker.js';
import { randomBuffer, seededRandom, tempDir } from './storage-helpers.js';
import { describeTree, generateTree } from './storage-tree.js';

const mkNode = () => createLibp2p({
  addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
  transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()],
});

describe('storage: sync over libp2p (loopback, Noise + Yamux)', function () {
  let t: { path: string; cleanup: () => Promise<void> };
  let a: Libp2p; let b: Libp2p; let stranger: Libp2p;
  let storeA: Store; let storeB: Store;
  let dirA: string; let dirB: string;
  let corrupt: ((hash: string) => boolean) | undefined;
  const big = randomBuffer(seededRandom(77), 6 * 1024 * 1024);
  const members = new Set<string>();
  const sync = () => syncFrom(b, a.getMultiaddrs()[0]!, storeB, { dir: dirB, machine: 'laptop', isMember: (p) => members.has(p) });
  const sameTrees = async () => assert.deepEqual(await describeTree(dirB), await describeTree(dirA, (p) => p === 'secret.key'));

  before(async () => {
    t = await tempDir('sync');
    dirA = join(t.path, 'homeA'); dirB = join(t.path, 'homeB');
    await generateTree(dirA, { smallFiles: 300, bigFiles: 1, bigSize: 1024, seed: 5 });
    await writeFile(join(dirA, 'big.bin'), big);
    await writeFile(join(dirA, '.roamignore'), '*.key\n');
    await writeFile(join(dirA, 'secret.key'), 'never leaves this machine');
    await mkdir(dirB);
    storeA = await Store.open(join(t.path, 'storeA'));
    storeB = await Store.open(join(t.path, 'storeB'));
    [a, b, stranger] = await Promise.all([mkNode(), mkNode(), mkNode()]);
    members.add(a.peerId.toString()); members.add(b.peerId.toString());
    await serveStore(a, storeA, {
      isMember: (p) => members.has(p), dir: dirA, machine: 'server',
      testHooks: { corruptChunk: (h) => corrupt?.(h) ?? false },
    });
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop(), stranger?.stop()]);
    await storeA?.close(); await storeB?.close();
    await t.cleanup();
  });

  it('a full sync makes the trees identical and the ignored file never leaves', async () => {
    const r = await sync();
    assert.deepEqual(r.conflicts, []);
    assert.deepEqual(r.refusedChunks, []);
    await sameTrees();
    const secretChunk = hashHex(Buffer.from('never leaves this machine'));
    assert.equal(await storeB.hasChunk(secretChunk), false, 'the ignored file is not in the receiver store');
    assert.equal(await storeB.getRef(lastSyncedRef(a.peerId.toString())), r.remoteSnapshot);
    // secret.key is ignored on both sides: A keeps it, B never sees it.
    await assert.rejects(readFile(join(dirB, 'secret.key')));
    assert.ok((await storeB.verify()).ok);
  });

  it('a 4 KiB change in a large file transfers only a few chunks', async () => {
    const edited = Buffer.from(big);
    randomBuffer(seededRandom(3), 4096).copy(edited, 3 * 1024 * 1024);
    await writeFile(join(dirA, 'big.bin'), edited);
    const r = await sync();
    assert.ok(r.chunksFetched >= 1 && r.chunksFetched <= 2, `${r.chunksFetched} chunks fetched`);
    assert.ok(r.bytesFetched <= 2 * 256 * 1024, `${r.bytesFetched} bytes fetched`);
    assert.ok(r.bytesFetched < edited.length / 10);
    assert.deepEqual(await readFile(join(dirB, 'big.bin')), edited);
    await sameTrees();
  });

  it('concurrent edits keep both versions and report the conflict', async () => {
    await writeFile(join(dirA, 'd2/e2/f2.txt'), 'edited on the server');
    await writeFile(join(dirB, 'd2/e2/f2.txt'), 'edited on the laptop');
    await writeFile(join(dirB, 'only-on-laptop.txt'), 'mine');
    const r = await sync();
    assert.equal(r.conflicts.length, 1);
    const c = r.conflicts[0]!;
    assert.equal(c.path, 'd2/e2/f2.txt');
    assert.equal(c.kind, 'both-modified');
    assert.match(c.keptAs!, /^d2\/e2\/f2\.txt\.conflict-laptop-\d{8}T\d{6}$/);
    assert.equal(await readFile(join(dirB, 'd2/e2/f2.txt'), 'utf8'), 'edited on the server');
    assert.equal(await readFile(join(dirB, c.keptAs!), 'utf8'), 'edited on the laptop');
    assert.equal(await readFile(join(dirB, 'only-on-laptop.txt'), 'utf8'), 'mine', 'a local-only addition survives');
  });

  it('deletions propagate; a deletion never beats a modification', async () => {
    await rm(join(dirA, 'd4/e4/f4.txt'));
    await rm(join(dirA, 'd5/e5/f5.txt'));
    await writeFile(join(dirB, 'd5/e5/f5.txt'), 'modified on the laptop');
    const r = await sync();
    await assert.rejects(readFile(join(dirB, 'd4/e4/f4.txt')), 'deleted there, unchanged here: deleted');
    assert.equal(await readFile(join(dirB, 'd5/e5/f5.txt'), 'utf8'), 'modified on the laptop');
    assert.deepEqual(r.conflicts.map((c) => [c.path, c.kind]), [['d5/e5/f5.txt', 'modified-here-deleted-there']]);
  });

  it('a chunk corrupted in transit is refused and never materialised; the next sync heals', async () => {
    const fresh = randomBuffer(seededRandom(99), 100_000);
    const bad = hashHex(chunkBuffer(fresh)[0]!);
    await writeFile(join(dirA, 'fresh.bin'), fresh);
    await writeFile(join(dirA, 'other.txt'), 'arrives fine');
    corrupt = (h) => h === bad;
    const baseBefore = await storeB.getRef(lastSyncedRef(a.peerId.toString()));
    let r;
    try { r = await sync(); } finally { corrupt = undefined; }
    assert.deepEqual(r.refusedChunks, [bad]);
    assert.deepEqual(r.unavailable, ['fresh.bin']);
    await assert.rejects(readFile(join(dirB, 'fresh.bin')), 'a file with a refused chunk is not written');
    assert.equal(await storeB.hasChunk(bad), false);
    assert.equal(await readFile(join(dirB, 'other.txt'), 'utf8'), 'arrives fine');
    assert.equal(await storeB.getRef(lastSyncedRef(a.peerId.toString())), baseBefore, 'the merge base does not move');
    assert.ok((await storeB.verify()).ok);
    assert.ok((await readdir(dirB)).every((n) => !n.startsWith('.roamtmp-')));
    const healed = await sync();
    assert.deepEqual(healed.refusedChunks, []);
    assert.deepEqual(await readFile(join(dirB, 'fresh.bin')), fresh);
  });

  it('a non-member is refused at once, and a member refuses a non-member server', async () => {
    const strangerStore = await Store.open(join(t.path, 'storeS'));
    const dirS = join(t.path, 'homeS');
    await mkdir(dirS);
    try {
      await assert.rejects(
        syncFrom(stranger, a.getMultiaddrs()[0]!, strangerStore, { dir: dirS, machine: 'stranger' }),
        (e: Error) => e instanceof SyncError && /household/.test(e.message),
      );
      assert.deepEqual(await readdir(dirS), []);
      await assert.rejects(
        syncFrom(b, a.getMultiaddrs()[0]!, storeB, { dir: dirB, machine: 'laptop', isMember: () => false }),
        /not a member/,
      );
    } finally { await strangerStore.close(); }
  });

  it('answers a hostile frame with an error and a closed stream, and keeps serving', async () => {
    const m = await b.dialProtocol(a.getMultiaddrs()[0]!, '/roam/store/1.0.0');
    m.send(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3])); // declares a 4 GiB frame
    const got: Uint8Array[] = [];
    let aborted = false;
    try { for await (const c of m as unknown as AsyncIterable<{ subarray(): Uint8Array }>) got.push(c.subarray()); } catch { aborted = true; }
    assert.ok(aborted || got.length > 0, 'the server answers (error frame) or cuts the stream');
    if (got.length) assert.match(Buffer.concat(got).toString('latin1'), /exceeds/);
    const r = await sync();
    assert.deepEqual(r.refusedChunks, []);
    assert.equal(r.remoteSnapshot, await storeA.getRef('head'));
  });

  it('status lists the conflicts a sync recorded', async () => {
    const { listConflicts } = await import('../storage/status.js');
    const cs = await listConflicts(storeB, dirB);
    assert.deepEqual(cs.map((c) => c.path).sort(), ['d2/e2/f2.txt', 'd5/e5/f5.txt']);
    assert.equal(cs.find((c) => c.path === 'd2/e2/f2.txt')!.peer, a.peerId.toString());
  });
});
