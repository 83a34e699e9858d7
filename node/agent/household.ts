// The household this machine belongs to: its id, name and secret
// (household.json, 0600), the members this machine knows (members.json),
// members it was told to forget (refused from then on), and one-time invite
// tokens (invites.json, kept as hashes). Every change is written atomically.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readJson, writeJsonAtomic } from './files.js';
import type { AgentPaths } from './paths.js';

export interface HouseholdInfo { id: string; name: string; secret: string; createdAt: string }
export interface Member { peerId: string; name: string; addrs: string[]; since: string }
interface MembersFile { members: Member[]; forgotten: string[] }
interface InviteRecord { tokenHash: string; expiresAt: number; usedAt?: number; usedBy?: string }

export const INVITE_TTL_MS = 60 * 60 * 1000;
const MAX_NAME = 64;

export class HouseholdError extends Error {}

export function checkName(name: unknown, what: string): string {
  if (typeof name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name)) {
    throw new HouseholdError(`${what} '${String(name).slice(0, MAX_NAME)}' is not a valid name: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit`);
  }
  return name;
}

function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export class Household {
  private info: HouseholdInfo | undefined;
  private members = new Map<string, Member>();
  private forgotten = new Set<string>();
  private invites: InviteRecord[] = [];

  constructor(private readonly paths: AgentPaths) {
    this.info = readJson<HouseholdInfo | undefined>(paths.household, undefined);
    const m = readJson<MembersFile>(paths.members, { members: [], forgotten: [] });
    for (const x of m.members ?? []) this.members.set(x.peerId, x);
    for (const f of m.forgotten ?? []) this.forgotten.add(f);
    this.invites = readJson<InviteRecord[]>(paths.invites, []);
  }

  get joined(): boolean { return this.info !== undefined; }
  get id(): string | undefined { return this.info?.id; }
  get name(): string | undefined { return this.info?.name; }
  get secret(): Buffer | undefined { return this.info ? Buffer.from(this.info.secret, 'base64') : undefined; }
  /** The household as handed to a joining machine (includes the secret). */
  get infoForJoiner(): HouseholdInfo | undefined { return this.info; }

  create(name: string): HouseholdInfo {
    if (this.info) throw new HouseholdError(`this machine already belongs to household '${this.info.name}'`);
    checkName(name, 'household name');
    this.info = { id: randomBytes(16).toString('hex'), name, secret: randomBytes(32).toString('base64'), createdAt: new Date().toISOString() };
    writeJsonAtomic(this.paths.household, this.info);
    return this.info;
  }

  /** Adopts the household an inviter handed over. */
  adopt(info: HouseholdInfo, members: Member[], self: string): void {
    if (this.info) throw new HouseholdError(`this machine already belongs to household '${this.info.name}'`);
    this.info = { id: info.id, name: info.name, secret: info.secret, createdAt: info.createdAt };
    for (const m of members) if (m.peerId !== self) this.members.set(m.peerId, m);
    writeJsonAtomic(this.paths.household, this.info);
    this.saveMembers();
  }

  isMember(peerId: string): boolean {
    return this.info !== undefined && this.members.has(peerId) && !this.forgotten.has(peerId);
  }
  isForgotten(peerId: string): boolean { return this.forgotten.has(peerId); }
  member(peerId: string): Member | undefined { return this.members.get(peerId); }
  memberList(): Member[] { return [...this.members.values()]; }

  /** Records (or refreshes) a member that proved itself or joined through us. */
  addMember(m: { peerId: string; name: string; addrs: string[] }): void {
    if (this.forgotten.has(m.peerId)) return;
    const old = this.members.get(m.peerId);
    if (old && old.name === m.name && old.addrs.join() === m.addrs.join()) return;
    this.members.set(m.peerId, { ...m, since: old?.since ?? new Date().toISOString() });
    this.saveMembers();
  }

  forget(peerId: string): void {
    this.members.delete(peerId);
    this.forgotten.add(peerId);
    this.saveMembers();
  }

  newInviteToken(now = Date.now()): { token: string; expiresAt: number } {
    if (!this.info) throw new HouseholdError('this machine is not in a household yet; run `roam init --name <household>` first');
    const token = randomBytes(24).toString('base64url');
    const expiresAt = now + INVITE_TTL_MS;
    this.invites = this.invites.filter((i) => i.expiresAt > now - 24 * 3600_000); // prune old records
    this.invites.push({ tokenHash: hashToken(token), expiresAt });
    writeJsonAtomic(this.paths.invites, this.invites);
    return { token, expiresAt };
  }

  /** Spends a one-time token; throws a HouseholdError saying why it cannot be used. */
  redeemInvite(token: string, by: string, now = Date.now()): void {
    const h = Buffer.from(hashToken(token), 'hex');
    const rec = this.invites.find((i) => { const b = Buffer.from(i.tokenHash, 'hex'); return b.length === h.length && timingSafeEqual(b, h); });
    if (!rec) throw new HouseholdError('the invite code is wrong: this household never issued it; ask for a new one with `roam invite`');
    if (rec.usedAt !== undefined) throw new HouseholdError('the invite code was already used; each code works once, ask for a new one with `roam invite`');
    if (rec.expiresAt <= now) throw new HouseholdError('the invite code has expired; ask for a new one with `roam invite`');
    rec.usedAt = now; rec.usedBy = by;
    writeJsonAtomic(this.paths.invites, this.invites); // spent before anything is handed over
  }

  private saveMembers(): void {
    writeJsonAtomic(this.paths.members, { members: [...this.members.values()], forgotten: [...this.forgotten] } satisfies MembersFile);
  }
}
