// The peer directory: every machine this roamd knows of, keyed by peer id and
// findable by the name people gave it. Members are listed even when away
// (offline); discovered machines that are not members show as untrusted and
// are dropped once they vanish. Freshness: a peer not heard from for staleMs
// is 'stale', after awayMs it is away.
import type { MachineRecord } from './record.js';

export type Trust = 'member' | 'untrusted' | 'unverified';
export type Presence = 'online' | 'stale' | 'offline';

export interface PeerEntry {
  peerId: string;
  name: string | null;
  trust: Trust;
  presence: Presence;
  record: MachineRecord | null;
  addrs: string[];
  /** Last time (ms) the peer was heard from: a record exchange, or an mDNS answer. */
  lastSeen: number | null;
  /** Why a peer is untrusted, or why the last exchange failed. */
  note: string | null;
}

export interface DirectoryTiming { staleMs: number; awayMs: number }
export const DEFAULT_TIMING: DirectoryTiming = { staleMs: 15_000, awayMs: 45_000 };

const MAX_UNTRUSTED = 256;

export class PeerDirectory {
  private readonly peers = new Map<string, PeerEntry>();

  constructor(private readonly timing: DirectoryTiming = DEFAULT_TIMING, private readonly now: () => number = Date.now) {}

  /** A household member known from the member list (present or not). */
  addMember(peerId: string, name: string, addrs: string[]): void {
    const e = this.peers.get(peerId);
    if (e) { e.trust = 'member'; e.name = e.record?.name ?? name; if (addrs.length) e.addrs = addrs; e.note = null; return; }
    this.peers.set(peerId, { peerId, name, trust: 'member', presence: 'offline', record: null, addrs, lastSeen: null, note: null });
  }

  /** mDNS (or a dial) saw this peer: it is there, but not verified yet. */
  sighted(peerId: string, addrs: string[]): PeerEntry {
    let e = this.peers.get(peerId);
    if (!e) {
      if (this.peers.size >= MAX_UNTRUSTED + this.memberCount()) this.dropOldestStranger();
      e = { peerId, name: null, trust: 'unverified', presence: 'online', record: null, addrs, lastSeen: this.now(), note: null };
      this.peers.set(peerId, e);
      return e;
    }
    if (addrs.length) e.addrs = addrs;
    if (e.trust !== 'member') { e.lastSeen = this.now(); e.presence = 'online'; }
    return e;
  }

  /** A member proved itself and sent its record. */
  verified(peerId: string, record: MachineRecord, addrs?: string[]): void {
    const e = this.peers.get(peerId) ?? this.sighted(peerId, addrs ?? []);
    e.trust = 'member'; e.record = record; e.name = record.name; e.presence = 'online'; e.lastSeen = this.now(); e.note = null;
    if (addrs?.length) e.addrs = addrs;
  }

  untrusted(peerId: string, note: string): void {
    const e = this.peers.get(peerId) ?? this.sighted(peerId, []);
    if (e.trust === 'member') { e.note = note; return; }
    e.trust = 'untrusted'; e.note = note; e.lastSeen = this.now(); e.presence = 'online';
  }

  /** The last connection to a member closed: it is offline now, not merely stale. */
  disconnected(peerId: string): void {
    const e = this.peers.get(peerId);
    if (e?.trust === 'member') e.presence = 'offline';
  }

  forget(peerId: string): void {
    const e = this.peers.get(peerId);
    if (e) { e.trust = 'untrusted'; e.note = 'forgotten: no longer a household member'; }
  }

  /** Ages entries: online → stale → away (members: offline; others: removed). */
  sweep(): void {
    const now = this.now();
    for (const [id, e] of this.peers) {
      if (e.lastSeen === null) continue;
      const age = now - e.lastSeen;
      if (age > this.timing.awayMs) {
        if (e.trust === 'member') e.presence = 'offline'; else this.peers.delete(id);
      } else if (age > this.timing.staleMs && e.presence === 'online') {
        e.presence = 'stale';
      }
    }
  }

  get(peerId: string): PeerEntry | undefined { return this.peers.get(peerId); }

  list(): PeerEntry[] {
    this.sweep();
    return [...this.peers.values()].sort((a, b) => (a.name ?? '~' + a.peerId).localeCompare(b.name ?? '~' + b.peerId));
  }

  /** Finds a peer by its machine name or its peer id; members win over strangers with the same name. */
  find(nameOrId: string): PeerEntry | undefined {
    const byId = this.peers.get(nameOrId);
    if (byId) return byId;
    const named = [...this.peers.values()].filter((e) => e.name === nameOrId);
    return named.find((e) => e.trust === 'member') ?? named[0];
  }

  memberNames(): string[] {
    return [...this.peers.values()].filter((e) => e.trust === 'member').map((e) => e.name ?? e.peerId).sort();
  }

  private memberCount(): number { return [...this.peers.values()].filter((e) => e.trust === 'member').length; }

  private dropOldestStranger(): void {
    let oldest: PeerEntry | undefined;
    for (const e of this.peers.values()) if (e.trust !== 'member' && (!oldest || (e.lastSeen ?? 0) < (oldest.lastSeen ?? 0))) oldest = e;
    if (oldest) this.peers.delete(oldest.peerId);
  }
}
