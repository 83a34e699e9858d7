// Store sync over libp2p, protocol /roam/store/1.0.0. The side that pulls drives:
//   → hello            ← head (snapshot id + record)
//   → get-objects ids  ← one object frame per id   (walks only subtrees it lacks)
//   → get-chunks ids   ← one chunk frame per id    (only chunks it lacks)
//   → bye
// Every object and chunk is rehashed on arrival; a mismatch is refused and the
// files that needed it keep their local state. Then a three-way merge against
// the last remote snapshot merged from this peer, and a guarded materialise.
import type { Libp2p, PeerId, Stream, Connection } from '@libp2p/interface';
import type { Multiaddr } from '@multiformats/multiaddr';
import { hashHex } from './hash.js';
import { MsgType, PROTOCOL_VERSION, ProtocolError, STORE_PROTOCOL, MAX_REQUEST_HASHES, type Message } from './codec.js';
import { FramedStream } from './framed-stream.js';
import { decodeManifest, decodeSnapshot, decodeTree, objectId, type TreeEntry } from './objects.js';
import { K, type Store } from './store.js';
import { snapshotTree, readStatCache, statMatches, entryMtimeMs } from './snapshot.js';
import { materialise, type MaterialiseStats } from './materialise.js';
import { buildTree, flattenTree, mergeTrees, type FlatTree, type MergeConflict } from './merge.js';
import { IgnoreRules } from './ignore.js';
import { readlink } from 'node:fs/promises';
import { resolve } from 'node:path';

export { STORE_PROTOCOL } from './codec.js';

export interface ServeOptions {
  /** Household membership: a stream from anyone else is closed at once. */
  isMember: (peerId: string) => boolean;
  /** If set, the served directory is snapshotted when a peer asks, so it gets the current state. */
  dir?: string;
  machine?: string;
  /** Ref served as the head (default 'head'). */
  ref?: string;
  /** Test hooks: never set in production. */
  testHooks?: { corruptChunk?: (hash: string) => boolean };
  onError?: (err: Error, peer: string) => void;
}

const CHUNK_BATCH = 64;
const OBJECT_BATCH = 256;

/** Serves the store to household peers; returns a function that stops serving. */
export async function serveStore(node: Libp2p, store: Store, opts: ServeOptions): Promise<() => Promise<void>> {
  await node.handle(STORE_PROTOCOL, async (stream: Stream, connection: Connection) => {
    const peer = connection.remotePeer.toString();
    if (!opts.isMember(peer)) { stream.abort(new Error('not a member of this household')); return; }
    const io = new FramedStream(stream);
    try {
      await serveSession(io, store, opts);
      await io.close();
    } catch (e) {
      opts.onError?.(e as Error, peer);
      try { await io.send({ type: MsgType.Error, message: (e as Error).message }); } catch { /* peer gone */ }
      stream.abort(e as Error);
    }
  });
  return () => node.unhandle(STORE_PROTOCOL);
}

async function serveSession(io: FramedStream, store: Store, opts: ServeOptions): Promise<void> {
  for (;;) {
    const m = await io.read();
    if (!m || m.type === MsgType.Bye) return;
    switch (m.type) {
      case MsgType.Hello: {
        if (m.version !== PROTOCOL_VERSION) throw new ProtocolError(`protocol version ${m.version} not supported (this side speaks ${PROTOCOL_VERSION})`);
        if (opts.dir) await snapshotTree(store, opts.dir, { machine: opts.machine ?? 'local', ref: opts.ref ?? 'head' });
        const id = await store.getRef(opts.ref ?? 'head');
        const record = id ? await store.db.get(K.snapshot + id) : undefined;
        await io.send({ type: MsgType.Head, snapshot: id && record ? { id: Buffer.from(id, 'hex'), record } : null });
        break;
      }
      case MsgType.GetObjects:
        for (const raw of m.ids) {
          const id = Buffer.from(raw).toString('hex');
          const data = await store.getObject(id);
          await io.send({ type: MsgType.Object, id: raw, data: data === undefined ? null : Buffer.from(data, 'utf8') });
        }
        break;
      case MsgType.GetChunks:
        for (const raw of m.hashes) {
          const hash = Buffer.from(raw).toString('hex');
          let data: Buffer | null = null;
          try { data = await store.getChunk(hash); } catch { data = null; }
          if (data && opts.testHooks?.corruptChunk?.(hash)) { data = Buffer.from(data); data[data.length >> 1] ^= 0x01; }
          await io.send({ type: MsgType.Chunk, hash: raw, data });
        }
        break;
      default:
        throw new ProtocolError(`unexpected message type ${m.type} from the syncing peer`);
    }
  }
}

export interface SyncProgress {
  phase: 'scan' | 'tree' | 'chunks' | 'materialise' | 'done';
  objects: number;
  chunksDone: number; chunksTotal: number;
  bytesDone: number;
  filesDone: number; filesTotal: number;
}

export interface SyncOptions {
  /** The local home tree the remote snapshot is merged into. */
  dir: string;
  /** This machine's name (conflict copies are named after it). */
  machine: string;
  /** Refuse to sync from a peer that is not a household member. */
  isMember?: (peerId: string) => boolean;
  onProgress?: (p: SyncProgress) => void;
  now?: () => Date;
}

export interface SyncResult {
  peer: string;
  remoteSnapshot: string | null;
  localSnapshot: string;
  /** Snapshot of the tree after the merge (the new head). */
  headSnapshot: string;
  objectsFetched: number;
  chunksFetched: number;
  bytesFetched: number;
  /** Chunks whose bytes did not match their hash: refused, never materialised. */
  refusedChunks: string[];
  /** Remote paths left at their local state because their content did not arrive. */
  unavailable: string[];
  conflicts: MergeConflict[];
  materialise: MaterialiseStats | null;
}

export class SyncError extends Error {}

export function lastSyncedRef(peer: string): string { return `peer/${peer}/last-synced`; }
function pendingRefPrefix(peer: string): string { return `peer/${peer}/pending/`; }
/** Interrupted syncs remembered per peer (each pins one remote snapshot until a sync completes). */
const MAX_PENDING = 32;
export function conflictKey(root: string, path: string): string { return `${K.conflict}${root}\0${path}`; }

export interface ConflictRecord extends MergeConflict { peer: string; time: number }

/** Pulls `peer`'s head into the local store and merges it into opts.dir. */
export async function syncFrom(node: Libp2p, peer: PeerId | Multiaddr, store: Store, opts: SyncOptions): Promise<SyncResult> {
  const root = resolve(opts.dir);
  const now = opts.now ?? (() => new Date());
  const progress: SyncProgress = { phase: 'scan', objects: 0, chunksDone: 0, chunksTotal: 0, bytesDone: 0, filesDone: 0, filesTotal: 0 };
  const report = () => opts.onProgress?.({ ...progress });
  report();
  const local = await snapshotTree(store, root, { machine: opts.machine });

  const connection = await node.dial(peer);
  const peerId = connection.remotePeer.toString();
  if (opts.isMember && !opts.isMember(peerId)) throw new SyncError(`peer ${peerId} is not a member of this household: refusing to sync from it`);
  const stream = await connection.newStream(STORE_PROTOCOL);
  const io = new FramedStream(stream);
  const result: SyncResult = {
    peer: peerId, remoteSnapshot: null, localSnapshot: local.id, headSnapshot: local.id, objectsFetched: 0, chunksFetched: 0,
    bytesFetched: 0, refusedChunks: [], unavailable: [], conflicts: [], materialise: null,
  };
  const send = async (m: Message) => {
    try { await io.send(m); } catch (e) {
      throw new SyncError(`peer ${peerId} closed the stream (${(e as Error).message}); is this machine a member of its household?`);
    }
  };
  try {
    await send({ type: MsgType.Hello, version: PROTOCOL_VERSION, machine: opts.machine.slice(0, 128) });
    const head = expect(await readOrExplain(io, peerId), MsgType.Head);
    if (!head.snapshot) { await send({ type: MsgType.Bye }); await io.close(); return result; }
    const remoteId = Buffer.from(head.snapshot.id).toString('hex');
    if (objectId(head.snapshot.record) !== remoteId) throw new SyncError('peer sent a snapshot record that does not match its id');
    const remoteRecord = decodeSnapshot(head.snapshot.record);
    result.remoteSnapshot = remoteId;

    // Walk the remote tree, fetching only the objects we lack.
    progress.phase = 'tree'; report();
    const fetched = new Map<string, string>();
    const manifestPaths = new Map<string, string[]>();
    const kinds = new Map<string, 'tree' | 'file'>();
    let wanted: Array<{ id: string; kind: 'tree' | 'file'; path: string }> = [];
    if (!(await store.hasObject(remoteRecord.root))) wanted.push({ id: remoteRecord.root, kind: 'tree', path: '' });
    const needChunks = new Set<string>();
    while (wanted.length) {
      const batch = wanted.splice(0, OBJECT_BATCH);
      const next: typeof wanted = [];
      await send({ type: MsgType.GetObjects, ids: batch.map((w) => Buffer.from(w.id, 'hex')) });
      for (const w of batch) {
        const m = expect(await readOrExplain(io, peerId), MsgType.Object);
        if (Buffer.from(m.id).toString('hex') !== w.id) throw new SyncError('peer answered with an object that was not asked for');
        if (!m.data) throw new SyncError(`peer lacks object ${w.id} its own snapshot needs (its store may be damaged)`);
        const text = Buffer.from(m.data).toString('utf8');
        if (objectId(text) !== w.id) throw new SyncError(`object ${w.id} arrived damaged (hash mismatch): refused`);
        fetched.set(w.id, text); kinds.set(w.id, w.kind);
        result.objectsFetched++; progress.objects++;
        if (w.kind === 'tree') {
          for (const e of decodeTree(text).entries) {
            const p = w.path ? `${w.path}/${e.name}` : e.name;
            if (e.kind === 'dir' && !fetched.has(e.hash) && !(await store.hasObject(e.hash))) next.push({ id: e.hash, kind: 'tree', path: p });
            if (e.kind === 'file') {
              let paths = manifestPaths.get(e.hash);
              if (!paths) {
                manifestPaths.set(e.hash, paths = []);
                if (!(await store.hasObject(e.hash))) next.push({ id: e.hash, kind: 'file', path: p });
              }
              paths.push(p);
            }
          }
        } else {
          const man = decodeManifest(text);
          const missing = await store.db.getMany(man.chunks.map((c) => K.chunk + c));
          man.chunks.forEach((c, i) => { if (missing[i] === undefined) needChunks.add(c); });
        }
      }
      report();
      wanted = wanted.concat(dedupeWanted(next, fetched));
    }

    // Fetch the chunks we lack, rehashing each; store, then the objects that are complete.
    progress.phase = 'chunks'; progress.chunksTotal = needChunks.size; report();
    const refused = new Set<string>();
    const list = [...needChunks];
    await store.write(async (txn) => {
      for (let i = 0; i < list.length; i += CHUNK_BATCH) {
        const batch = list.slice(i, i + CHUNK_BATCH);
        await send({ type: MsgType.GetChunks, hashes: batch.map((h) => Buffer.from(h, 'hex')) });
        for (const h of batch) {
          const m = expect(await readOrExplain(io, peerId), MsgType.Chunk);
          if (Buffer.from(m.hash).toString('hex') !== h) throw new SyncError('peer answered with a chunk that was not asked for');
          if (!m.data || hashHex(m.data) !== h) { refused.add(h); continue; }
          await txn.putChunk(m.data, h);
          result.chunksFetched++; result.bytesFetched += m.data.length;
          progress.chunksDone++; progress.bytesDone += m.data.length;
          if (progress.chunksDone % 16 === 0) report();
        }
      }
      await txn.flush(); // chunks durable before anything that points at them
      const complete = new Map<string, boolean>();
      const isComplete = (id: string): boolean => {
        const known = complete.get(id);
        if (known !== undefined) return known;
        const text = fetched.get(id);
        let ok = true;
        if (text !== undefined) {
          if (kinds.get(id) === 'file') ok = decodeManifest(text).chunks.every((c) => !refused.has(c));
          else ok = decodeTree(text).entries.every((e) => e.kind === 'link' || isComplete(e.hash));
        }
        complete.set(id, ok);
        return ok;
      };
      for (const [id, text] of fetched) if (isComplete(id)) await txn.putObject(text);
      if (isComplete(remoteRecord.root)) txn.putSnapshot(head.snapshot!.record);
      for (const [id, ok] of complete) if (!ok && kinds.get(id) === 'file') result.unavailable.push(...(manifestPaths.get(id) ?? []));
    });
    result.refusedChunks = [...refused];
    await send({ type: MsgType.Bye });
    await io.close();

    // Merge against the last remote snapshot merged from this peer.
    const read = async (id: string) => fetched.get(id) ?? (await store.needObject(id));
    const baseId = await store.getRef(lastSyncedRef(peerId));
    const baseSnap = baseId ? await store.getSnapshot(baseId) : undefined;
    const [L, R, B] = await Promise.all([
      flattenTree(read, local.record.root), flattenTree(read, remoteRecord.root),
      baseSnap ? flattenTree(read, baseSnap.root) : Promise.resolve(null),
    ]);
    const pendingPrefix = pendingRefPrefix(peerId);
    const pendingIds = [...(await store.listRefs()).entries()].filter(([n]) => n.startsWith(pendingPrefix)).map(([, id]) => id);
    const pending: FlatTree[] = [];
    for (const id of pendingIds) {
      const snap = await store.getSnapshot(id);
      if (snap) pending.push(await flattenTree(read, snap.root));
    }
    const when = now();
    const merged = mergeTrees(L, R, B, { machine: opts.machine, now: when, unavailable: new Set(result.unavailable), pending });
    result.conflicts = merged.conflicts;
    const remoteStored = (await store.getSnapshot(remoteId)) !== undefined;
    const mergedRoot = await store.write(async (txn) => {
      // Remember what we are about to place, in case we die half-way (see MergeOptions.pending).
      if (remoteStored && pendingIds.length < MAX_PENDING) txn.setRef(pendingPrefix + remoteId, remoteId);
      return buildTree(txn, merged.tree);
    });

    progress.phase = 'materialise'; progress.filesTotal = merged.tree.files.size; report();
    const ignore = await IgnoreRules.load(root);
    result.materialise = await materialise(store, mergedRoot, root, {
      ignore,
      skip: new Set(result.unavailable),
      guard: (rel, st) => unchangedSinceSnapshot(store, root, rel, st, L),
      onProgress: (s) => { progress.filesDone = s.filesWritten + s.filesUnchanged; report(); },
    });
    const after = await snapshotTree(store, root, { machine: opts.machine });
    result.headSnapshot = after.id;
    await store.write(async (txn) => {
      // The base only moves when everything from the remote arrived and was placed.
      if (result.refusedChunks.length === 0 && result.unavailable.length === 0 && result.materialise!.skipped.length === 0) {
        txn.setRef(lastSyncedRef(peerId), remoteId);
        for (const id of new Set([...pendingIds, remoteId])) txn.deleteRef(pendingPrefix + id);
      }
      for (const c of merged.conflicts) {
        const rec: ConflictRecord = { ...c, peer: peerId, time: when.getTime() };
        txn.put(conflictKey(root, c.path), JSON.stringify(rec));
      }
    });
    progress.phase = 'done'; progress.filesDone = progress.filesTotal; report();
    return result;
  } catch (e) {
    stream.abort(e as Error);
    throw e;
  }
}

function dedupeWanted<T extends { id: string }>(list: T[], fetched: Map<string, string>): T[] {
  const seen = new Set<string>();
  return list.filter((w) => !fetched.has(w.id) && !seen.has(w.id) && (seen.add(w.id), true));
}

async function readOrExplain(io: FramedStream, peer: string): Promise<Message> {
  let m: Message | null;
  try { m = await io.read(); } catch (e) {
    if (e instanceof ProtocolError) throw new SyncError(`peer ${peer} broke the store protocol: ${e.message}`);
    throw new SyncError(`peer ${peer} closed the stream (${(e as Error).message}); is this machine a member of its household?`);
  }
  if (!m) throw new SyncError(`peer ${peer} closed the stream; is this machine a member of its household?`);
  if (m.type === MsgType.Error) throw new SyncError(`peer ${peer} reported: ${m.message}`);
  return m;
}

function expect<T extends MsgType>(m: Message, type: T): Extract<Message, { type: T }> {
  if (m.type !== type) throw new SyncError(`peer sent message type ${m.type} where ${type} was expected`);
  return m as Extract<Message, { type: T }>;
}

/** The guard for materialise: a path may be replaced only if it is as the local snapshot saw it. */
async function unchangedSinceSnapshot(store: Store, root: string, rel: string, st: import('node:fs').BigIntStats, L: FlatTree): Promise<boolean> {
  const e: TreeEntry | undefined = L.files.get(rel);
  if (!e) return false; // appeared after the snapshot: not ours to touch
  if (e.kind === 'link') return st.isSymbolicLink() && (await readlink(`${root}/${rel}`).catch(() => null)) === e.target;
  if (!st.isFile()) return false;
  const cached = await readStatCache(store, root, rel);
  if (cached && cached.manifest === e.hash && statMatches(cached, st)) return true;
  // Not cached (changed too recently to trust a cache entry): compare what the snapshot recorded.
  return Number(st.size) === e.size && entryMtimeMs(st) === e.mtimeMs;
}

