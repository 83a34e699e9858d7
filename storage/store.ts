// The store: chunk bytes in append-only packs, everything else in a level index.
// Write order is the crash-safety argument: pack bytes are appended and fsynced
// first, then ONE level batch records them (index entries, new committed pack
// lengths, objects, refs). A crash before the batch leaves bytes past a pack's
// committed length, which open() truncates; index entries therefore never point
// past synced data.
import { mkdir, open, readdir, rm, stat, type FileHandle } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Level } from 'level';
import { hashHex, isHashHex } from './hash.js';
import {
  PACK_ROLL_BYTES, PackWriter, RECORD_HEADER, MAX_RECORD_PAYLOAD, packPath, parsePackFileName,
} from './pack.js';
import {
  MAX_OBJECT_BYTES, ObjectFormatError, childObjects, decodeSnapshot, decodeTree, objectId, type SnapshotRecord,
} from './objects.js';

export interface ChunkLocation { pack: number; offset: number; length: number }

/** Level key prefixes: one letter per kind of record, '/' then the name. */
export const K = {
  chunk: 'c/', object: 'o/', snapshot: 's/', ref: 'r/', pack: 'p/', meta: 'm/', statCache: 't/', conflict: 'x/',
} as const;

/** Upper bound of a key range with the given prefix ('/' + 1 === '0'). */
export function prefixEnd(prefix: string): string {
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
}

const REF_NAME_RE = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;
export function isRefName(s: string): boolean { return s.length <= 200 && REF_NAME_RE.test(s) && !s.split('/').some((p) => p === '..' || p === '.'); }

function encodeLoc(l: ChunkLocation): string { return `${l.pack},${l.offset},${l.length}`; }
function decodeLoc(s: string): ChunkLocation {
  const [pack, offset, length] = s.split(',').map(Number);
  return { pack: pack!, offset: offset!, length: length! };
}

export class ChunkMissingError extends Error {
  constructor(readonly hash: string) { super(`chunk ${hash} is not in the store`); }
}
export class ChunkDamagedError extends Error {
  constructor(readonly hash: string, readonly location: ChunkLocation, why: string) {
    super(`chunk ${hash} in pack ${location.pack} at offset ${location.offset} is damaged: ${why}. Run \`roam home verify\`.`);
  }
}

type LevelOp = { type: 'put'; key: string; value: string } | { type: 'del'; key: string };

/** One atomic unit of writing; see Store.write. */
export class WriteTxn {
  readonly pendingChunks = new Map<string, ChunkLocation>();
  readonly ops: LevelOp[] = [];
  private pendingObjects = new Set<string>();
  pendingBytes = 0;

  constructor(private readonly store: Store) {}

  /** Stores a chunk (once: a chunk already present is not written again). Returns its hash. */
  putChunk(bytes: Uint8Array, knownHash?: string): Promise<string> {
    // Serialised: appends, rolls and flushes must not interleave.
    const p = this.chain.then(() => this.putChunkNow(bytes, knownHash));
    this.chain = p.catch(() => undefined);
    return p;
  }

  private chain: Promise<unknown> = Promise.resolve();

  private async putChunkNow(bytes: Uint8Array, knownHash?: string): Promise<string> {
    const hash = knownHash ?? hashHex(bytes);
    if (this.pendingChunks.has(hash) || (await this.store.hasChunk(hash))) return hash;
    if (bytes.length > MAX_RECORD_PAYLOAD) throw new Error(`chunk of ${bytes.length} bytes exceeds ${MAX_RECORD_PAYLOAD}`);
    const loc = await this.store._appendChunk(this, Buffer.from(hash, 'hex'), bytes);
    this.pendingChunks.set(hash, loc);
    this.pendingBytes += bytes.length;
    if (this.pendingBytes >= this.store.flushBytes) await this.flush();
    return hash;
  }

  /** Stores an encoded object (manifest, tree); returns its id. */
  async putObject(encoded: string): Promise<string> {
    if (encoded.length > MAX_OBJECT_BYTES) throw new Error(`object of ${encoded.length} bytes exceeds ${MAX_OBJECT_BYTES}`);
    const id = objectId(encoded);
    if (this.pendingObjects.has(id) || (await this.store.hasObject(id))) return id;
    this.pendingObjects.add(id);
    this.ops.push({ type: 'put', key: K.object + id, value: encoded });
    return id;
  }

  putSnapshot(encoded: string): string {
    const id = objectId(encoded);
    decodeSnapshot(encoded);
    this.ops.push({ type: 'put', key: K.snapshot + id, value: encoded });
    return id;
  }

  setRef(name: string, snapshotId: string): void {
    if (!isRefName(name)) throw new Error(`bad ref name '${name}': use letters, digits, . _ - and / separators`);
    if (!isHashHex(snapshotId)) throw new Error(`bad snapshot id '${snapshotId}'`);
    this.ops.push({ type: 'put', key: K.ref + name, value: snapshotId });
  }

  deleteRef(name: string): void { this.ops.push({ type: 'del', key: K.ref + name }); }

  /** Raw key for records other modules own (stat cache, conflicts). */
  put(key: string, value: string): void { this.ops.push({ type: 'put', key, value }); }
  del(key: string): void { this.ops.push({ type: 'del', key }); }

  /** Makes everything so far durable now (large writes call this as they go). */
  async flush(): Promise<void> { await this.store._commit(this); }

  _reset(): void { this.pendingChunks.clear(); this.ops.length = 0; this.pendingObjects.clear(); this.pendingBytes = 0; }
}

export interface VerifyDamage {
  kind: 'chunk' | 'object' | 'snapshot' | 'ref';
  hash: string;
  where: string;
  problem: string;
  /** Files hit by this damage, as "<snapshot id>:<path>". */
  affects: string[];
}
export interface VerifyReport { ok: boolean; chunks: number; objects: number; snapshots: number; bytes: number; damage: VerifyDamage[] }
export interface GcReport { chunksRemoved: number; chunksMoved: number; bytesReclaimed: number; objectsRemoved: number; packsRemoved: number }
export interface StoreOptions { /** Commit automatically once this many chunk bytes are pending (default 64 MiB). */ flushBytes?: number }

export class Store {
  readonly db: Level<string, string>;
  readonly flushBytes: number;
  private writer: PackWriter | null = null;
  private nextPack = 1;
  private committedSize = new Map<number, number>();
  private readHandles = new Map<number, Promise<FileHandle>>();
  private retiredHandles: Array<Promise<FileHandle>> = [];
  private writeLock: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(readonly dir: string, opts: StoreOptions) {
    this.db = new Level<string, string>(join(dir, 'index'), { keyEncoding: 'utf8', valueEncoding: 'utf8' });
    this.flushBytes = opts.flushBytes ?? 64 * 1024 * 1024;
  }

  /** Opens (creating if needed) the store in `dir`, repairing a torn pack tail. */
  static async open(dir: string, opts: StoreOptions = {}): Promise<Store> {
    dir = resolve(dir);
    await mkdir(join(dir, 'packs'), { recursive: true });
    const s = new Store(dir, opts);
    try {
      await s.db.open();
    } catch (e) {
      const cause = (e as { cause?: Error }).cause;
      throw new Error(`cannot open the store index in ${dir}: ${cause?.message ?? (e as Error).message} (is another roam process using this store?)`);
    }
    await s.recoverPacks();
    return s;
  }

  /** Pack files past their committed length are truncated; uncommitted packs removed. */
  private async recoverPacks(): Promise<void> {
    for await (const [key, value] of this.db.iterator({ gte: K.pack, lt: prefixEnd(K.pack) })) {
      this.committedSize.set(Number(key.slice(K.pack.length)), Number(value));
    }
    const next = await this.db.get(K.meta + 'nextpack');
    let maxSeen = next ? Number(next) - 1 : 0;
    for (const name of await readdir(join(this.dir, 'packs'))) {
      const num = parsePackFileName(name);
      if (num === null) continue;
      maxSeen = Math.max(maxSeen, num);
      const committed = this.committedSize.get(num);
      const path = packPath(this.dir, num);
      if (committed === undefined) { await rm(path, { force: true }); continue; }
      const st = await stat(path);
      if (st.size > committed) {
        const fh = await open(path, 'r+');
        try { await fh.truncate(committed); await fh.sync(); } finally { await fh.close(); }
      }
    }
    for (const num of this.committedSize.keys()) maxSeen = Math.max(maxSeen, num);
    this.nextPack = maxSeen + 1;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.writeLock.catch(() => undefined);
    if (this.writer) await this.writer.close();
    for (const h of [...this.readHandles.values(), ...this.retiredHandles]) await (await h.catch(() => null))?.close();
    await this.db.close();
  }

  /**
   * Runs fn with exclusive write access and commits its transaction when it returns.
   * If fn throws, whatever it had not flushed is dropped (pack bytes included).
   */
  write<T>(fn: (txn: WriteTxn) => Promise<T>): Promise<T> {
    const run = async (): Promise<T> => {
      const txn = new WriteTxn(this);
      try {
        const result = await fn(txn);
        await this._commit(txn);
        return result;
      } catch (e) {
        await this.dropUncommitted();
        throw e;
      }
    };
    const p = this.writeLock.then(run, run);
    this.writeLock = p.catch(() => undefined);
    return p;
  }

  private async dropUncommitted(): Promise<void> {
    if (!this.writer) return;
    await this.writer.close();
    this.writer = null; // reopened at its committed length on next append
  }

  async _appendChunk(txn: WriteTxn, hash: Buffer, bytes: Uint8Array): Promise<ChunkLocation> {
    if (!this.writer || this.writer.size >= PACK_ROLL_BYTES) {
      if (this.writer) { await this._commit(txn); await this.writer.close(); }
      // After open (or a dropped transaction) keep filling the newest pack if it has room.
      const newest = this.nextPack - 1;
      const newestSize = this.committedSize.get(newest);
      const num = this.writer === null && newestSize !== undefined && newestSize < PACK_ROLL_BYTES ? newest : this.nextPack++;
      this.writer = await PackWriter.open(this.dir, num, this.committedSize.get(num) ?? 0);
    }
    const offset = await this.writer.append(hash, bytes);
    return { pack: this.writer.num, offset, length: bytes.length };
  }

  async _commit(txn: WriteTxn): Promise<void> {
    if (txn.pendingChunks.size === 0 && txn.ops.length === 0) return;
    const ops: LevelOp[] = [];
    if (txn.pendingChunks.size > 0 && this.writer) {
      await this.writer.sync();
      this.committedSize.set(this.writer.num, this.writer.size);
      ops.push({ type: 'put', key: K.pack + String(this.writer.num).padStart(6, '0'), value: String(this.writer.size) });
      ops.push({ type: 'put', key: K.meta + 'nextpack', value: String(this.nextPack) });
    }
    for (const [hash, loc] of txn.pendingChunks) ops.push({ type: 'put', key: K.chunk + hash, value: encodeLoc(loc) });
    ops.push(...txn.ops);
    // sync: the batch must be on disk before anything that relies on it (gc deletes packs next).
    await this.db.batch(ops, { sync: true });
    txn._reset();
  }

  async hasChunk(hash: string): Promise<boolean> { return (await this.db.get(K.chunk + hash)) !== undefined; }
  async chunkLocation(hash: string): Promise<ChunkLocation | undefined> {
    const v = await this.db.get(K.chunk + hash);
    return v === undefined ? undefined : decodeLoc(v);
  }

  private handle(pack: number): Promise<FileHandle> {
    let h = this.readHandles.get(pack);
    if (!h) {
      h = open(packPath(this.dir, pack), 'r');
      h.catch(() => this.readHandles.delete(pack));
      this.readHandles.set(pack, h);
    }
    return h;
  }

  private async readAt(loc: ChunkLocation): Promise<Buffer> {
    const fh = await this.handle(loc.pack);
    const buf = Buffer.allocUnsafe(loc.length);
    const { bytesRead } = await fh.read(buf, 0, loc.length, loc.offset);
    if (bytesRead !== loc.length) throw new Error(`short read (${bytesRead} of ${loc.length} bytes)`);
    return buf;
  }

  /**
   * Reads a chunk and checks its hash. A reader racing gc may hold a location in
   * a pack gc just removed: on any failure it looks the chunk up again and retries
   * if the chunk moved.
   */
  async getChunk(hash: string): Promise<Buffer> {
    let loc = await this.chunkLocation(hash);
    for (let attempt = 0; ; attempt++) {
      if (!loc) throw new ChunkMissingError(hash);
      let why: string;
      try {
        const buf = await this.readAt(loc);
        if (hashHex(buf) === hash) return buf;
        why = 'content does not match its hash';
      } catch (e) {
        why = (e as Error).message;
      }
      const again = await this.chunkLocation(hash);
      if (attempt >= 3 || !again || encodeLoc(again) === encodeLoc(loc)) throw new ChunkDamagedError(hash, loc, why);
      loc = again;
    }
  }

  async hasObject(id: string): Promise<boolean> { return (await this.db.get(K.object + id)) !== undefined; }
  async getObject(id: string): Promise<string | undefined> { return this.db.get(K.object + id); }
  async needObject(id: string): Promise<string> {
    const v = await this.getObject(id);
    if (v === undefined) throw new Error(`object ${id} is missing from the store`);
    return v;
  }

  async getSnapshot(id: string): Promise<SnapshotRecord | undefined> {
    const v = await this.db.get(K.snapshot + id);
    return v === undefined ? undefined : decodeSnapshot(v);
  }
  async getRef(name: string): Promise<string | undefined> { return this.db.get(K.ref + name); }
  async listRefs(): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for await (const [k, v] of this.db.iterator({ gte: K.ref, lt: prefixEnd(K.ref) })) out.set(k.slice(K.ref.length), v);
    return out;
  }
  async listSnapshots(): Promise<Array<{ id: string } & SnapshotRecord>> {
    const out: Array<{ id: string } & SnapshotRecord> = [];
    for await (const [k, v] of this.db.iterator({ gte: K.snapshot, lt: prefixEnd(K.snapshot) })) {
      out.push({ id: k.slice(K.snapshot.length), ...decodeSnapshot(v) });
    }
    return out.sort((a, b) => a.time - b.time);
  }

  /** Removes a snapshot record (its data goes at the next gc). Refused while a ref names it. */
  async forgetSnapshot(id: string): Promise<void> {
    for (const [name, target] of await this.listRefs()) {
      if (target === id) throw new Error(`snapshot ${id} is still named by ref '${name}'`);
    }
    await this.write(async (txn) => { txn.del(K.snapshot + id); });
  }

  /**
   * Walks the objects reachable from every snapshot. visit gets each object once
   * with the path it was first reached by; missing objects are reported, not thrown.
   */
  async walkReachable(visit: {
    object?: (id: string, encoded: string) => void;
    chunk?: (hash: string, file: string) => void;
    missing?: (id: string, file: string) => void;
  }): Promise<void> {
    const seen = new Set<string>();
    const stack: Array<{ id: string; path: string }> = [];
    for (const s of await this.listSnapshots()) stack.push({ id: s.root, path: `${s.id}:` });
    while (stack.length) {
      const { id, path } = stack.pop()!;
      if (seen.has(id)) continue;
      seen.add(id);
      const encoded = await this.getObject(id);
      if (encoded === undefined) { visit.missing?.(id, path); continue; }
      visit.object?.(id, encoded);
      let kids;
      try { kids = childObjects(encoded); } catch (e) { if (e instanceof ObjectFormatError) { visit.missing?.(id, path); continue; } throw e; }
      if (kids.trees.length || kids.manifests.length) {
        for (const e of decodeTree(encoded).entries) {
          if (e.kind !== 'link') stack.push({ id: e.hash, path: `${path}${path.endsWith(':') ? '' : '/'}${e.name}` });
        }
      }
      for (const c of kids.chunks) visit.chunk?.(c, path);
    }
  }

  /** Rehashes every chunk and object and says what any damage affects. */
  async verify(onProgress?: (done: number, total: number) => void): Promise<VerifyReport> {
    const damage: VerifyDamage[] = [];
    let chunks = 0; let bytes = 0; let objects = 0;
    const entries: Array<[string, ChunkLocation]> = [];
    for await (const [k, v] of this.db.iterator({ gte: K.chunk, lt: prefixEnd(K.chunk) })) entries.push([k.slice(K.chunk.length), decodeLoc(v)]);
    const badChunks = new Map<string, VerifyDamage>();
    for (const [hash, loc] of entries) {
      chunks++;
      let problem = '';
      try {
        const buf = await this.readAt(loc);
        bytes += buf.length;
        if (hashHex(buf) !== hash) problem = 'content does not match its hash';
        else {
          const header = Buffer.alloc(RECORD_HEADER);
          const fh = await this.handle(loc.pack);
          await fh.read(header, 0, RECORD_HEADER, loc.offset - RECORD_HEADER);
          if (header.subarray(8).toString('hex') !== hash || header.readUInt32BE(4) !== loc.length) problem = 'pack record header does not match the index';
        }
      } catch (e) { problem = (e as Error).message; }
      if (problem) {
        const d: VerifyDamage = { kind: 'chunk', hash, where: `pack ${loc.pack} offset ${loc.offset}`, problem, affects: [] };
        badChunks.set(hash, d);
        damage.push(d);
      }
      if (onProgress && chunks % 256 === 0) onProgress(chunks, entries.length);
    }
    for await (const [k, v] of this.db.iterator({ gte: K.object, lt: prefixEnd(K.object) })) {
      objects++;
      const id = k.slice(K.object.length);
      if (objectId(v) !== id) damage.push({ kind: 'object', hash: id, where: 'index', problem: 'content does not match its hash', affects: [] });
    }
    let snapshots = 0;
    for await (const [k, v] of this.db.iterator({ gte: K.snapshot, lt: prefixEnd(K.snapshot) })) {
      snapshots++;
      const id = k.slice(K.snapshot.length);
      if (objectId(v) !== id) damage.push({ kind: 'snapshot', hash: id, where: 'index', problem: 'record does not match its id', affects: [] });
    }
    for (const [name, id] of await this.listRefs()) {
      if (!(await this.getSnapshot(id))) damage.push({ kind: 'ref', hash: id, where: `ref ${name}`, problem: 'names a snapshot the store does not have', affects: [] });
    }
    const missingChunks = new Map<string, VerifyDamage>();
    await this.walkReachable({
      chunk: (hash, file) => {
        const bad = badChunks.get(hash);
        if (bad) { bad.affects.push(file); return; }
        if (!missingChunks.has(hash)) missingChunks.set(hash, { kind: 'chunk', hash, where: 'index', problem: 'missing', affects: [] });
      },
      missing: (id, file) => damage.push({ kind: 'object', hash: id, where: 'index', problem: 'missing or malformed', affects: [file] }),
    });
    // Chunks that are referenced but absent from the index: check presence in bulk.
    const ids = [...missingChunks.keys()];
    const present = ids.length ? await this.db.getMany(ids.map((h) => K.chunk + h)) : [];
    ids.forEach((h, i) => { if (present[i] === undefined) damage.push(missingChunks.get(h)!); });
    // affects of missing chunks was not collected above (we only knew after): collect now.
    if (damage.some((d) => d.kind === 'chunk' && d.problem === 'missing')) {
      const missing = new Map(damage.filter((d) => d.kind === 'chunk' && d.problem === 'missing').map((d) => [d.hash, d]));
      await this.walkReachable({ chunk: (hash, file) => { const d = missing.get(hash); if (d && !d.affects.includes(file)) d.affects.push(file); } });
    }
    return { ok: damage.length === 0, chunks, objects, snapshots, bytes, damage };
  }

  /**
   * Reclaims chunks and objects no snapshot reaches. Live chunks of packs holding
   * garbage are copied into new packs, the index is switched in one batch, and only
   * then are the old packs deleted; concurrent readers retry through the index.
   */
  async gc(onProgress?: (done: number, total: number) => void): Promise<GcReport> {
    return this.write(async (txn) => {
      await this._commit(txn);
      const liveObjects = new Set<string>();
      const liveChunks = new Set<string>();
      await this.walkReachable({ object: (id) => liveObjects.add(id), chunk: (h) => liveChunks.add(h) });
      const byPack = new Map<number, Array<[string, ChunkLocation]>>();
      const dead: string[] = [];
      let bytesReclaimed = 0;
      const dirtyPacks = new Set<number>();
      for await (const [k, v] of this.db.iterator({ gte: K.chunk, lt: prefixEnd(K.chunk) })) {
        const hash = k.slice(K.chunk.length);
        const loc = decodeLoc(v);
        if (!liveChunks.has(hash)) { dead.push(hash); bytesReclaimed += loc.length + RECORD_HEADER; dirtyPacks.add(loc.pack); continue; }
        let list = byPack.get(loc.pack);
        if (!list) byPack.set(loc.pack, list = []);
        list.push([hash, loc]);
      }
      // Packs with no index entry at all (fully orphaned records) are garbage too.
      for (const num of this.committedSize.keys()) if (!byPack.has(num)) dirtyPacks.add(num);
      const deadObjects: string[] = [];
      for await (const k of this.db.keys({ gte: K.object, lt: prefixEnd(K.object) })) {
        const id = k.slice(K.object.length);
        if (!liveObjects.has(id)) deadObjects.push(id);
      }
      // Start a fresh pack so nothing live is rewritten into a pack being removed.
      if (this.writer) { await this.writer.close(); this.writer = null; }
      const moving = [...dirtyPacks].flatMap((n) => byPack.get(n) ?? []);
      const oldWriterNums = new Set(dirtyPacks);
      let moved = 0;
      for (const [hash, loc] of moving) {
        const bytes = await this.readAt(loc);
        if (hashHex(bytes) !== hash) throw new ChunkDamagedError(hash, loc, 'content does not match its hash (gc stopped; run verify)');
        if (!this.writer || this.writer.size >= PACK_ROLL_BYTES) {
          if (this.writer) { await this.writer.sync(); this.committedSize.set(this.writer.num, this.writer.size); txn.put(K.pack + String(this.writer.num).padStart(6, '0'), String(this.writer.size)); await this.writer.close(); }
          this.writer = await PackWriter.open(this.dir, this.nextPack++, 0);
        }
        const offset = await this.writer.append(Buffer.from(hash, 'hex'), bytes);
        txn.put(K.chunk + hash, encodeLoc({ pack: this.writer.num, offset, length: loc.length }));
        if (++moved % 256 === 0) onProgress?.(moved, moving.length);
      }
      if (this.writer) {
        await this.writer.sync();
        this.committedSize.set(this.writer.num, this.writer.size);
        txn.put(K.pack + String(this.writer.num).padStart(6, '0'), String(this.writer.size));
      }
      txn.put(K.meta + 'nextpack', String(this.nextPack));
      for (const h of dead) txn.del(K.chunk + h);
      for (const id of deadObjects) txn.del(K.object + id);
      for (const n of oldWriterNums) { txn.del(K.pack + String(n).padStart(6, '0')); this.committedSize.delete(n); }
      await this._commit(txn); // the switch: one batch
      for (const n of oldWriterNums) {
        await rm(packPath(this.dir, n), { force: true });
        const h = this.readHandles.get(n);
        this.readHandles.delete(n);
        // Closed at close(), not now: a reader may be mid-read on this handle (the
        // unlinked file stays readable through it until then).
        if (h) this.retiredHandles.push(h);
      }
      return { chunksRemoved: dead.length, chunksMoved: moved, bytesReclaimed, objectsRemoved: deadObjects.length, packsRemoved: oldWriterNums.size };
    });
  }
}
