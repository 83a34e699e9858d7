// roamd's home store: roamd is the one opener of the store's level DB, so every
// home operation (the CLI's through the control socket, a peer's pull, the
// follower) goes through this service. It serves /roam/store/1.0.0 to members,
// answers /roam/home/1.0.0 pull requests, and runs the HomeFollower that keeps
// the household's server up to date.
//
// For other parts of roamd (e.g. `roam send`, which must not report success
// before the home has reached the destination):
//
//   bringPeerUpToDate(roamd, 'laptop', { onProgress }) → Promise<HomeSyncReport>
//
// snapshots this machine's home, asks the peer to pull it, and resolves only
// when the peer reports it holds every chunk of that snapshot and has
// materialised it; it rejects with a user-facing message otherwise.
import { lstat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Connection, Libp2p, Stream } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import {
  Store, HomeFollower, snapshotTree, syncFrom, serveStore, homeStatus, materialise, flattenTree, isHashHex,
  type SyncProgress, type SnapshotResult, type SnapshotOptions, type HomeStatus, type VerifyReport, type GcReport, type MaterialiseStats,
} from '../../storage/index.js';
import type { PeerEntry } from '../../discovery/index.js';
import { HOME_PROTOCOL, answerPull, askToPull, type PullOutcome } from './home-protocol.js';
import { ensurePrivateIgnored } from './home-ignore.js';
import type { Roamd } from './daemon.js';

export interface HomeSettings {
  dir: string;
  storeDir: string;
  /** roamd's own files (state dir, config dir): never part of the home, even when they lie inside it. */
  privatePaths: string[];
  server?: string;
  follow: boolean;
  debounceMs: number;
}

/** Progress of bringing a peer up to date, as the asker sees it. */
export interface HomeSyncProgress extends SyncProgress { peer: string; elapsedMs: number }

export interface HomeSyncReport {
  peer: string;
  peerId: string;
  snapshot: string;
  files: number;
  bytes: number;
  elapsedMs: number;
  outcome: PullOutcome;
}

export interface PendingPush { to: string | null; snapshot: string; since: string; lastError: string | null }

export interface HomeServiceStatus extends HomeStatus {
  dir: string;
  follow: boolean;
  server: string | null;
  pending: { push: PendingPush | null; interruptedSyncs: Array<{ peer: string; snapshot: string }> };
}

const RETRY_PUSH_MS = 10_000;
export const HOME_DEFAULT_DEBOUNCE_MS = 2_000;

export class HomeError extends Error {}

export class HomeService {
  private lock: Promise<unknown> = Promise.resolve();
  private follower: HomeFollower | null = null;
  private storeHandler: ((stream: Stream, conn: Connection) => void | Promise<void>) | undefined;
  private pendingPush: PendingPush | null = null;
  private pushing: Promise<void> | null = null;
  private retry: NodeJS.Timeout | undefined;
  private stopped = false;

  private constructor(private readonly roamd: Roamd, readonly store: Store, readonly settings: HomeSettings) {}

  static async open(roamd: Roamd, settings: HomeSettings): Promise<HomeService> {
    const st = await lstat(settings.dir).catch(() => null);
    if (!st?.isDirectory()) throw new HomeError(`the home tree ${settings.dir} is not a directory; create it or start roamd with --home DIR`);
    const added = await ensurePrivateIgnored(settings.dir, settings.privatePaths);
    if (added.length) roamd.log(`home: roamd's own files lie inside the home tree; added ${added.map((a) => `'${a}'`).join(', ')} to ${settings.dir}/.roamignore`);
    const store = await Store.open(settings.storeDir);
    const svc = new HomeService(roamd, store, settings);
    try {
      // serveStore registers its stream handler through this registrar; roamd's own
      // /roam/store handler checks membership and then hands member streams to it.
      const registrar = {
        handle: async (_p: string, h: (s: Stream, c: Connection) => void | Promise<void>) => { svc.storeHandler = h; },
        unhandle: async () => { svc.storeHandler = undefined; },
      };
      await serveStore(registrar as unknown as Libp2p, store, {
        isMember: (p) => roamd.isMember(p),
        onError: (e, peer) => roamd.log(`home: serving the store to ${roamd.directory.get(peer)?.name ?? peer} failed: ${e.message}`),
      });
      // The follower's first snapshot of a large home can take a while: roamd answers meanwhile.
      if (settings.follow) void svc.setFollow(true).catch((e: Error) => roamd.log(`home follower could not start: ${e.message}`));
      svc.retry = setInterval(() => { if (svc.pendingPush) void svc.pushToServer(svc.pendingPush.snapshot); }, RETRY_PUSH_MS);
      svc.retry.unref();
    } catch (e) {
      await store.close();
      throw e;
    }
    return svc;
  }

  get dir(): string { return this.settings.dir; }

  /** Runs fn with the home to itself: snapshots, incoming syncs, restore, gc, verify never overlap. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  // ---- serving ----

  /** A member's /roam/store stream (roamd checked membership already). */
  async serveStoreStream(stream: Stream, conn: Connection): Promise<void> {
    if (!this.storeHandler) { stream.abort(new Error('the home store is shutting down')); return; }
    await this.storeHandler(stream, conn);
  }

  /** A member's /roam/home stream: pull from it now and report (roamd checked membership; checked again here). */
  async onPullRequest(stream: Stream, conn: Connection): Promise<void> {
    const remote = conn.remotePeer.toString();
    if (!this.roamd.isMember(remote)) {
      stream.abort(new Error('not a member of this household'));
      this.roamd.directory.untrusted(remote, `opened ${HOME_PROTOCOL} without being a household member (refused)`);
      return;
    }
    try {
      await answerPull(stream, (_snapshot, onProgress) => this.pullFrom(remote, onProgress));
    } catch (e) {
      stream.abort(e as Error);
    }
  }

  /** Pulls a member's head into this home (three-way merge), and says whether it now holds all of it. */
  async pullFrom(peerId: string, onProgress?: (p: SyncProgress) => void): Promise<PullOutcome> {
    if (!this.roamd.isMember(peerId)) throw new HomeError(`peer ${peerId} is not a member of this household: refusing to sync from it`);
    return this.exclusive(async () => {
      this.follower?.pause();
      try {
        const r = await syncFrom(this.roamd.node, peerIdFromString(peerId), this.store, {
          dir: this.dir, machine: this.roamd.config.name, isMember: (p) => this.roamd.isMember(p), ...(onProgress ? { onProgress } : {}),
        });
        const holds = r.remoteSnapshot ? await this.holds(r.remoteSnapshot) : true;
        const problems = [
          ...(r.refusedChunks.length ? [`${r.refusedChunks.length} chunk(s) arrived damaged and were refused`] : []),
          ...(r.unavailable.length ? [`${r.unavailable.length} file(s) left as they were: content unavailable (${r.unavailable.slice(0, 3).join(', ')})`] : []),
          ...(r.materialise?.skipped.length ? [`${r.materialise.skipped.length} path(s) edited here during the sync were left alone (${r.materialise.skipped.slice(0, 3).map((s) => s.path).join(', ')})`] : []),
          ...(holds ? [] : ['this machine does not hold every chunk of the snapshot']),
        ];
        const head = await this.store.getSnapshot(r.headSnapshot);
        this.roamd.log(`home: pulled ${r.remoteSnapshot?.slice(0, 12) ?? 'nothing'} from ${this.roamd.directory.get(peerId)?.name ?? peerId}: ` +
          `${r.chunksFetched} chunks, ${r.conflicts.length} conflict(s)${problems.length ? `; ${problems.join('; ')}` : ''}`);
        return {
          remoteSnapshot: r.remoteSnapshot, headSnapshot: r.headSnapshot, holds, complete: problems.length === 0,
          chunksFetched: r.chunksFetched, bytesFetched: r.bytesFetched, files: head?.files ?? 0,
          conflicts: r.conflicts.map((c) => ({ path: c.path, kind: c.kind, keptAs: c.keptAs ?? null })),
          conflictCount: r.conflicts.length, problems,
        };
      } finally {
        this.follower?.resume();
      }
    });
  }

  /** Whether the store holds every object and chunk of a snapshot. */
  async holds(snapshotId: string): Promise<boolean> {
    const snap = await this.store.getSnapshot(snapshotId);
    if (!snap) return false;
    let flat;
    try { flat = await flattenTree((id) => this.store.needObject(id), snap.root); } catch { return false; }
    const manifests = new Set<string>();
    for (const e of flat.files.values()) if (e.kind === 'file') manifests.add(e.hash);
    const chunks = new Set<string>();
    for (const id of manifests) {
      const text = await this.store.getObject(id);
      if (text === undefined) return false;
      for (const c of (JSON.parse(text) as { chunks: string[] }).chunks) chunks.add(c);
    }
    const list = [...chunks];
    for (let i = 0; i < list.length; i += 256) {
      const have = await Promise.all(list.slice(i, i + 256).map((c) => this.store.hasChunk(c)));
      if (have.includes(false)) return false;
    }
    return true;
  }

  // ---- pushing ----

  /** Checks a peer can receive the home: a known, online household member other than this machine. */
  private target(nameOrId: string): PeerEntry {
    const r = this.roamd;
    const names = r.directory.memberNames();
    const hint = names.length ? `household members: ${names.join(', ')}` : 'this machine knows no other household member yet (see `roam peers`)';
    if (nameOrId === r.config.name || nameOrId === r.peerId) throw new HomeError(`'${nameOrId}' is this machine; name another member (${hint})`);
    const e = r.directory.find(nameOrId);
    if (!e) throw new HomeError(`no peer named '${nameOrId}'; ${hint}`);
    const label = e.name ?? e.peerId;
    if (e.trust !== 'member') throw new HomeError(`peer '${label}' is not a household member (${e.trust}); ${hint}`);
    if (e.presence !== 'online') {
      const seen = e.lastSeen ? `last seen ${new Date(e.lastSeen).toISOString()}` : 'never seen online';
      throw new HomeError(`peer '${label}' is ${e.presence} (${seen}); it must be online to receive the home`);
    }
    return e;
  }

  /** Takes a snapshot of the home (serialised with every other home operation). */
  snapshot(onProgress?: SnapshotOptions['onProgress']): Promise<SnapshotResult> {
    return this.exclusive(() => snapshotTree(this.store, this.dir, { machine: this.roamd.config.name, ...(onProgress ? { onProgress } : {}) }));
  }

  /** See the file comment: the peer holds and has materialised our current snapshot when this resolves. */
  async bringPeerUpToDate(peer: string, onProgress?: (p: HomeSyncProgress) => void, known?: SnapshotResult): Promise<HomeSyncReport> {
    const target = this.target(peer);
    const label = target.name ?? target.peerId;
    const t0 = Date.now();
    const snap = known ?? (await this.snapshot());
    let stream: Stream;
    try { stream = await this.roamd.dialPeer(target.peerId, HOME_PROTOCOL); } catch (e) {
      throw new HomeError(`cannot reach '${label}' to hand it the home: ${(e as Error).message}`);
    }
    let outcome: PullOutcome;
    try {
      outcome = await askToPull(stream, snap.id, (p) => onProgress?.({ ...p, peer: label, elapsedMs: Date.now() - t0 }));
    } catch (e) {
      stream.abort(e as Error);
      throw new HomeError(`'${label}' did not take the home: ${(e as Error).message}`);
    }
    if (!outcome.remoteSnapshot) throw new HomeError(`'${label}' found no snapshot to pull from this machine`);
    if (outcome.remoteSnapshot !== snap.id) {
      // The follower may have snapshotted a newer tree meanwhile; that one serves as well, if it is ours and newer.
      const got = await this.store.getSnapshot(outcome.remoteSnapshot);
      if (!got || got.time < snap.record.time) throw new HomeError(`'${label}' pulled snapshot ${outcome.remoteSnapshot}, not this machine's current ${snap.id}`);
    }
    if (!outcome.holds || !outcome.complete) {
      throw new HomeError(`'${label}' did not take all of the home: ${outcome.problems.join('; ') || 'it does not hold every chunk'}`);
    }
    return { peer: label, peerId: target.peerId, snapshot: outcome.remoteSnapshot, files: snap.record.files, bytes: snap.record.bytes, elapsedMs: Date.now() - t0, outcome };
  }

  /** The member the follower pushes to: home.server if set, else the member whose role is 'server'; null when this machine is it. */
  serverName(): string | null {
    const r = this.roamd;
    if (this.settings.server) return this.settings.server === r.config.name ? null : this.settings.server;
    if (r.config.role === 'server') return null;
    const servers = r.directory.list().filter((e) => e.trust === 'member' && e.record?.role === 'server');
    const online = servers.find((e) => e.presence === 'online') ?? servers[0];
    return online ? online.name ?? online.peerId : null;
  }

  /** One push at a time; a push asked for while one runs is served by the retry (or the next change). */
  private pushToServer(snapshot: string): Promise<void> {
    if (this.pushing) {
      if (this.pendingPush) this.pendingPush.snapshot = snapshot;
      else this.pendingPush = { to: this.serverName(), snapshot, since: new Date().toISOString(), lastError: null };
      return this.pushing;
    }
    this.pushing = this.pushOnce(snapshot).finally(() => {
      this.pushing = null;
      // A change that came in during the push goes out now, not at the next retry.
      const next = this.pendingPush;
      if (next && next.snapshot !== snapshot && !next.lastError && !this.stopped) void this.pushToServer(next.snapshot);
    });
    return this.pushing;
  }

  private async pushOnce(snapshot: string): Promise<void> {
    if (this.stopped) return;
    const to = this.serverName();
    const since = this.pendingPush?.since ?? new Date().toISOString();
    if (!to) {
      this.pendingPush = this.roamd.config.role === 'server' || this.settings.server === this.roamd.config.name
        ? null : { to: null, snapshot, since, lastError: 'no household member has the role server (set home.server)' };
      return;
    }
    this.pendingPush = { to, snapshot, since, lastError: null };
    try {
      const rep = await this.bringPeerUpToDate(to);
      if (this.pendingPush?.snapshot === snapshot) this.pendingPush = null;
      this.roamd.log(`home: '${to}' holds snapshot ${rep.snapshot.slice(0, 12)} (${rep.files} files)`);
    } catch (e) {
      if (this.pendingPush) this.pendingPush.lastError = (e as Error).message;
      this.roamd.log(`home: pushing to '${to}' failed (will retry): ${(e as Error).message}`);
    }
  }

  // ---- the follower ----

  async setFollow(on: boolean): Promise<boolean> {
    if (on && !this.follower) {
      const f = new HomeFollower(this.store, this.dir, {
        machine: this.roamd.config.name,
        debounceMs: this.settings.debounceMs,
        // Not awaited: a slow or absent server must not hold up the next snapshot (or shutting down).
        push: async (snap) => { void this.pushToServer(snap.id); },
        onError: (e) => this.roamd.log(`home follower: ${e.message}`),
      });
      this.follower = f;
      await f.start();
    } else if (!on && this.follower) {
      const f = this.follower;
      this.follower = null;
      await f.stop();
    }
    this.settings.follow = on;
    return on;
  }

  // ---- what the CLI asks for ----

  async status(): Promise<HomeServiceStatus> {
    const s = await homeStatus(this.store, this.dir);
    const interrupted = Object.entries(s.refs).flatMap(([name, id]) => {
      const m = /^peer\/([^/]+)\/pending\//.exec(name);
      return m ? [{ peer: this.roamd.directory.get(m[1]!)?.name ?? m[1]!, snapshot: id }] : [];
    });
    return { ...s, dir: this.dir, follow: this.follower !== null, server: this.serverName(), pending: { push: this.pendingPush, interruptedSyncs: interrupted } };
  }

  verify(onProgress?: (done: number, total: number) => void): Promise<VerifyReport> {
    return this.exclusive(() => this.store.verify(onProgress));
  }

  gc(keep: number | undefined, onProgress?: (done: number, total: number) => void): Promise<GcReport & { forgotten: number }> {
    return this.exclusive(async () => {
      let forgotten = 0;
      if (keep !== undefined) {
        const named = new Set((await this.store.listRefs()).values());
        const snaps = (await this.store.listSnapshots()).filter((s) => !named.has(s.id));
        for (const s of snaps.slice(0, Math.max(0, snaps.length - keep))) { await this.store.forgetSnapshot(s.id); forgotten++; }
      }
      return { forgotten, ...(await this.store.gc(onProgress)) };
    });
  }

  restore(id: string | undefined, to: string | undefined, deleteExtra: boolean,
    onProgress?: (s: MaterialiseStats) => void): Promise<MaterialiseStats & { id: string; target: string }> {
    return this.exclusive(async () => {
      const snapId = id ?? (await this.store.getRef('head'));
      if (!snapId) throw new HomeError('the store has no snapshot yet: run `roam home snapshot` first');
      if (!isHashHex(snapId)) throw new HomeError(`'${snapId}' is not a snapshot id (64 hex digits; see \`roam home status\`)`);
      const snap = await this.store.getSnapshot(snapId);
      if (!snap) throw new HomeError(`the store has no snapshot ${snapId}`);
      const target = to ? resolve(to) : this.dir;
      const intoHome = target === this.dir;
      if (intoHome) this.follower?.pause();
      try {
        const m = await materialise(this.store, snap.root, target, { deleteExtra, ...(onProgress ? { onProgress } : {}) });
        return { id: snapId, target, ...m };
      } finally {
        if (intoHome) this.follower?.resume();
      }
    });
  }

  /** First half of shutting down (before the libp2p node stops): no more snapshots or pushes. */
  async stopFollowing(): Promise<void> {
    this.stopped = true;
    if (this.retry) clearInterval(this.retry);
    await this.setFollow(false).catch(() => undefined);
  }

  /** Second half (after the node stopped, so no stream still reads the store): waits for running work, closes the store. */
  async stop(): Promise<void> {
    await this.stopFollowing();
    await this.exclusive(async () => undefined);
    await this.store.close();
  }
}

/** Brings a household member's home up to date with this machine's (see the file comment). */
export async function bringPeerUpToDate(roamd: Roamd, peer: string, opts: { onProgress?: (p: HomeSyncProgress) => void } = {}): Promise<HomeSyncReport> {
  if (!roamd.home) throw new HomeError(roamd.homeProblem);
  return roamd.home.bringPeerUpToDate(peer, opts.onProgress);
}
