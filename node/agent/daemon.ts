// roamd: one libp2p node (TCP + Noise + Yamux + identify + mDNS), household
// trust on every roam protocol, the peer directory, the VMs it supervises and
// the control socket. Nothing a peer or a client sends can take it down: each
// handler's failure ends only that stream or request.
import '../common/polyfill.js';
import { mkdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Server } from 'node:net';
import { createLibp2p, type Libp2p } from 'libp2p';
import { tcp } from '@libp2p/tcp';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { identify } from '@libp2p/identify';
import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import type { Connection, PeerId, Stream } from '@libp2p/interface';
import { PeerDirectory, collectRecord, mdnsDiscovery, recordChanged, type DirectoryTiming, type MachineRecord, type Role } from '../../discovery/index.js';
import { agentPaths, type AgentPaths } from './paths.js';
import { loadConfig, type AgentConfig, type HomeConfig } from './config.js';
import { HomeService, HOME_DEFAULT_DEBOUNCE_MS } from './home-service.js';
import { loadOrCreateIdentity } from './identity.js';
import { Household, checkName } from './household.js';
import { encodeInvite, decodeInvite } from './invite-code.js';
import { HOME_PROTOCOL, JOIN_PROTOCOL, MIGRATE_PROTOCOL, NEWS_PROTOCOL, PEER_PROTOCOL, SCREEN_PROTOCOL, SEND_PROTOCOL, STORE_PROTOCOL_ID } from './protocols.js';
import { answerPull } from './home-protocol.js';
import { answerExchange, startExchange, NotAMember, type ExchangeContext } from './peer-exchange.js';
import { answerJoin, requestJoin } from './join-exchange.js';
import { VmSupervisor } from './vm-supervisor.js';
import { startControlServer } from './control-server.js';
import { controlHandler } from './control-ops.js';
import { HandoffRunner } from './handoff-runner.js';
import { LidWatch, type LidStatus } from './lid-watch.js';
import { HouseholdScreens, type MemberView } from '../screen/index.js';
import { MigrationBoard } from '../web/migration-board.js';
import { answerSendRequest, openWeb, startNews } from '../web/roamd-web.js';
import { NewsInbox } from '../web/news-inbox.js';
import type { NewsPublisher } from '../web/news-publisher.js';
import { advertOf, parseAdvert, type WebAdvert } from '../web/member-web.js';
import type { WebServer } from '../web/server.js';
import type { MigrationService } from './migration.js';
import { closeSharedCompressPool } from '../../migrate/index.js';

export interface RoamdOptions {
  stateDir?: string;
  name?: string;
  role?: Role;
  listen?: string[];
  /** Record refresh period (push on change happens at once regardless). */
  refreshMs?: number;
  timing?: DirectoryTiming;
  mdnsIntervalMs?: number;
  /** The home store's settings (`roam daemon --home DIR …`); saved in the config like the other flags. */
  home?: HomeConfig;
  /** Where the web page listens (`roam daemon --web HOST:PORT|off`; saved in the config). */
  web?: string;
  log?: (line: string) => void;
}

const EXCHANGE_TIMEOUT_MS = 8_000;
/** A stranger that refused us is asked again no more often than this. */
const UNTRUSTED_RETRY_MS = 30_000;

export class Roamd {
  readonly startedAt = Date.now();
  migration: MigrationService | undefined;
  /** The home store (undefined when this roamd keeps no home tree; homeProblem says why). */
  home: HomeService | undefined;
  homeProblem = 'no home tree is configured (start roamd with --home DIR, or set home.dir in its config)';
  /** Every migration in the household (sent or asked for here, or reported by the member sending it), for the web page's chart. */
  readonly migrations = new MigrationBoard();
  /** Members' notifications about the migrations they send (/roam/migrations/1.0.0). */
  private readonly newsInbox = new NewsInbox(this.migrations);
  /** Tells the other members about the migrations this roamd sends. */
  private news: NewsPublisher | undefined;
  /** The web page (undefined when off or it could not listen; webProblem says why). */
  web: WebServer | undefined;
  webProblem = 'the web page has not started yet';
  /** Whether the web page has been opened (or failed to): only then does this machine tell members where it listens. */
  private webSettled = false;
  /** Where each member's web page listens, as it said in the last membership exchange (absent: not said). */
  readonly memberWeb = new Map<string, WebAdvert>();
  /** The lid-close hand-off (policy, budget, VMs saved to disk) and the lid source that triggers it. */
  readonly handoff: HandoffRunner;
  /** VMs' screens wherever in the household they run (the web page's viewer); serves /roam/screen/1.0.0. */
  readonly screens: HouseholdScreens;
  private lidWatch: LidWatch | undefined;
  private record: MachineRecord;
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly lastTry = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private control: Server | undefined;
  private stopping = false;

  private constructor(
    readonly paths: AgentPaths,
    readonly config: AgentConfig,
    readonly node: Libp2p,
    readonly household: Household,
    readonly directory: PeerDirectory,
    readonly vms: VmSupervisor,
    private readonly opts: RoamdOptions,
  ) {
    this.record = this.collect();
    this.handoff = new HandoffRunner(this, join(paths.state, 'parked'));
    this.screens = new HouseholdScreens({
      name: config.name, vms,
      members: () => this.screenMembers(),
      dial: (peerId) => this.dialPeer(peerId, SCREEN_PROTOCOL),
      log: (l) => this.log(l),
    });
  }

  static async start(opts: RoamdOptions = {}): Promise<Roamd> {
    const paths = agentPaths(opts.stateDir);
    mkdirSync(paths.state, { recursive: true, mode: 0o700 });
    const config = loadConfig(paths.config, {
      ...(opts.name ? { name: opts.name } : {}), ...(opts.role ? { role: opts.role } : {}), ...(opts.listen ? { listen: opts.listen } : {}),
      ...(opts.home ? { home: opts.home } : {}), ...(opts.web ? { web: { listen: opts.web } } : {}),
    });
    const household = new Household(paths);
    const privateKey = await loadOrCreateIdentity(paths.identityKey);
    const node = await createLibp2p({
      privateKey,
      addresses: { listen: config.listen },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      // libp2p pings every connection and by default drops one whose ping times out; a migration
      // that keeps a loaded machine busy for seconds must not lose its connection that way.
      connectionMonitor: { abortConnectionOnPingFailure: false },
      peerDiscovery: [await mdnsDiscovery(opts.mdnsIntervalMs)],
      services: { identify: identify() },
    });
    const directory = new PeerDirectory(opts.timing);
    for (const m of household.memberList()) directory.addMember(m.peerId, m.name, m.addrs);
    const roamd = new Roamd(paths, config, node as unknown as Libp2p, household, directory, new VmSupervisor(paths.vms), opts);
    try {
      await roamd.wire();
      // VMs a previous roamd left running (their processes outlive it) are supervised again.
      await roamd.vms.reattach((l) => roamd.log(l));
      await roamd.openHome();
      roamd.control = await startControlServer(paths.socket, controlHandler(roamd));
      ({ web: roamd.web, problem: roamd.webProblem } = await openWeb(roamd, config.web?.listen));
      roamd.webSettled = true;
      roamd.log(roamd.web ? `web page on ${roamd.web.url}/ (\`roam view\` prints a sign-in link)` : `web: ${roamd.webProblem}`);
      roamd.lidWatch = await LidWatch.start(roamd);
    } catch (e) {
      await roamd.web?.close();
      await roamd.vms.detachAll();
      await node.stop();
      await roamd.home?.stop();
      throw e;
    }
    writeFileSync(paths.pidFile, `${process.pid}\n`, { mode: 0o644 });
    roamd.log(`roamd '${config.name}' (${config.role}) up: peer ${roamd.peerId}, ${household.joined ? `household '${household.name}'` : 'no household yet'}, control ${paths.socket}`);
    return roamd;
  }

  get peerId(): string { return this.node.peerId.toString(); }

  log(line: string): void { (this.opts.log ?? ((l: string) => console.error(l)))(`${new Date().toISOString()} ${line}`); }

  /** Addresses worth giving to another machine: LAN ones first, loopback last. */
  shareableAddrs(): string[] {
    const all = this.node.getMultiaddrs().map((a) => a.toString());
    const lo = (a: string) => a.includes('/ip4/127.') || a.includes('/ip6/::1/');
    return [...all.filter((a) => !lo(a)), ...all.filter(lo)].slice(0, 16);
  }

  currentRecord(): MachineRecord { return this.record; }

  isMember(peerId: string): boolean { return this.household.isMember(peerId); }

  /** Installs the migration service; every send it makes shows on the web page's migration chart. */
  setMigrationService(svc: MigrationService): void { this.migration = this.migrations.observe(svc, () => this.config.name); }

  /** Whether `vm` runs here or on a member (for `roam view`). */
  webKnowsVm(vm: string): boolean { return this.vms.get(vm) !== undefined || this.directory.list().some((e) => e.trust === 'member' && e.presence !== 'offline' && (e.record?.vms ?? []).some((v) => v.name === vm)); }

  /** For `roam status`: the lid source, the last hand-off and the VMs saved to disk. */
  lidStatus(): LidStatus | null { return this.lidWatch?.status() ?? null; }

  /** Opens the home store: home.dir, else $HOME when this is the user's default roamd (no --state). */
  private async openHome(): Promise<void> {
    const h = this.config.home ?? {};
    const dir = h.dir ?? (this.opts.stateDir ? undefined : process.env.HOME || homedir());
    if (!dir) return;
    try {
      this.home = await HomeService.open(this, {
        dir, storeDir: join(this.paths.state, 'store'), privatePaths: [this.paths.state, dirname(this.paths.config)],
        ...(h.server ? { server: h.server } : {}), follow: h.follow ?? true, debounceMs: h.debounceMs ?? HOME_DEFAULT_DEBOUNCE_MS,
      });
      this.log(`home: ${dir} (store ${join(this.paths.state, 'store')}, follower ${h.follow === false ? 'off' : 'on'})`);
    } catch (e) {
      this.homeProblem = `roamd could not open the home ${dir}: ${(e as Error).message}`;
      this.log(`home: ${this.homeProblem}`);
    }
  }

  private collect(): MachineRecord {
    return collectRecord(this.config.name, this.config.role,
      this.vms.list().map((v) => ({ name: v.name, state: v.state, memBytes: v.memBytes })));
  }

  private exchangeContext(): ExchangeContext | undefined {
    const secret = this.household.secret; const id = this.household.id;
    if (!secret || !id) return undefined;
    return {
      self: this.peerId, householdId: id, secret, record: () => this.record,
      web: {
        mine: () => (this.webSettled ? advertOf(this.web ? { host: this.web.host, port: this.web.port } : null) : undefined),
        heard: (peerId, raw) => {
          if (raw === undefined) { this.memberWeb.delete(peerId); return; }
          try { this.memberWeb.set(peerId, parseAdvert(raw)); } catch (e) {
            this.memberWeb.delete(peerId);
            this.log(`peer ${peerId}: ignored where it says its web page listens (${(e as Error).message})`);
          }
        },
      },
    };
  }

  private async wire(): Promise<void> {
    const node = this.node;
    await node.handle(PEER_PROTOCOL, (stream: Stream, conn: Connection) => this.onPeerStream(stream, conn));
    await node.handle(MIGRATE_PROTOCOL, (stream: Stream, conn: Connection) => this.onMigrateStream(stream, conn));
    await node.handle(STORE_PROTOCOL_ID, (stream: Stream, conn: Connection) => this.onStoreStream(stream, conn));
    await node.handle(JOIN_PROTOCOL, (stream: Stream, conn: Connection) => this.onJoinStream(stream, conn));
    await node.handle(HOME_PROTOCOL, (stream: Stream, conn: Connection) => this.onHomeStream(stream, conn));
    await node.handle(SEND_PROTOCOL, (stream: Stream, conn: Connection) => this.onSendStream(stream, conn));
    await node.handle(SCREEN_PROTOCOL, (stream: Stream, conn: Connection) => this.onScreenStream(stream, conn));
    await node.handle(NEWS_PROTOCOL, (stream: Stream, conn: Connection) => this.onNewsStream(stream, conn));
    this.news = startNews(this);
    node.addEventListener('peer:discovery', (evt) => {
      const id = evt.detail.id.toString();
      if (id === this.peerId) return;
      const entry = this.directory.sighted(id, evt.detail.multiaddrs.map((a: Multiaddr) => a.toString()));
      if (entry.trust === 'unverified' || entry.presence !== 'online' || entry.trust === 'untrusted') this.exchangeSoon(id);
    });
    node.addEventListener('peer:disconnect', (evt) => {
      const id = evt.detail.toString();
      if (node.getConnections(evt.detail).length === 0) this.directory.disconnected(id);
    });
    this.vms.on('change', () => this.refreshRecord(true));
    const every = this.opts.refreshMs ?? 3_000;
    this.timer = setInterval(() => this.tick(), every);
    this.timer.unref();
  }

  private tick(): void {
    this.refreshRecord(false);
    for (const e of this.directory.list()) {
      if (e.trust === 'member' && (e.presence !== 'offline' || this.node.getConnections(peerIdFromString(e.peerId)).length > 0)) this.exchangeSoon(e.peerId);
    }
  }

  /** Rebuilds this machine's record; a change is pushed to every online member at once. */
  private refreshRecord(force: boolean): void {
    const next = this.collect();
    const changed = recordChanged(this.record, next);
    this.record = next;
    if (changed || force) {
      for (const e of this.directory.list()) if (e.trust === 'member' && e.presence !== 'offline') this.exchangeSoon(e.peerId, true);
    }
  }

  /** Runs the membership exchange with a peer, at most one at a time per peer, not too often. */
  exchangeSoon(peerId: string, force = false): Promise<void> {
    if (this.stopping || !this.household.joined || this.household.isForgotten(peerId)) return Promise.resolve();
    const running = this.inFlight.get(peerId);
    if (running) return running;
    const now = Date.now();
    const entry = this.directory.get(peerId);
    const minGap = entry?.trust === 'untrusted' ? UNTRUSTED_RETRY_MS : 1_000;
    if (!force && now - (this.lastTry.get(peerId) ?? 0) < minGap) return Promise.resolve();
    this.lastTry.set(peerId, now);
    const p = this.exchange(peerId).finally(() => this.inFlight.delete(peerId));
    this.inFlight.set(peerId, p);
    return p;
  }

  private async exchange(peerId: string): Promise<void> {
    const ctx = this.exchangeContext();
    if (!ctx) return;
    let stream: Stream;
    try {
      stream = await this.dialPeer(peerId, PEER_PROTOCOL);
    } catch (e) {
      const entry = this.directory.get(peerId);
      if (entry) entry.note = `cannot reach it: ${(e as Error).message}`;
      return;
    }
    try {
      const record = await startExchange(stream, peerId, ctx);
      this.trusted(peerId, record, stream);
    } catch (e) {
      stream.abort(e as Error);
      if (e instanceof NotAMember) {
        this.directory.untrusted(peerId, `not a member of this household: ${e.message}`);
        this.log(`peer ${peerId}: untrusted (${e.message})`);
      } else {
        const entry = this.directory.get(peerId);
        if (entry) entry.note = `membership exchange failed: ${(e as Error).message}`;
      }
    }
  }

  /** One membership exchange, reported rather than recorded: 'open' or 'refused (why)'. */
  async tryExchange(peerId: string): Promise<string> {
    const ctx = this.exchangeContext();
    if (!ctx) return 'refused (this machine is not in a household, so it has nothing to prove)';
    let stream: Stream;
    try { stream = await this.dialPeer(peerId, PEER_PROTOCOL); } catch (e) { return `refused (${(e as Error).message})`; }
    try {
      await startExchange(stream, peerId, ctx);
      return 'open';
    } catch (e) {
      stream.abort(e as Error);
      return `refused (${(e as Error).message})`;
    }
  }

  async dialPeer(peerId: string, protocol: string): Promise<Stream> {
    const id = peerIdFromString(peerId);
    const signal = AbortSignal.timeout(EXCHANGE_TIMEOUT_MS);
    try {
      return await this.node.dialProtocol(id, protocol, { signal });
    } catch (first) {
      const addrs = (this.directory.get(peerId)?.addrs ?? []).map((a) => withPeer(a, peerId)).filter((a): a is Multiaddr => a !== undefined);
      if (addrs.length === 0) throw first;
      return await this.node.dialProtocol(addrs, protocol, { signal: AbortSignal.timeout(EXCHANGE_TIMEOUT_MS) });
    }
  }

  private trusted(peerId: string, record: MachineRecord, stream: Stream | undefined, conn?: Connection): void {
    const known = this.household.member(peerId);
    const addrs = conn ? [conn.remoteAddr.toString()] : this.node.getConnections(peerIdFromString(peerId)).map((c) => c.remoteAddr.toString());
    void stream;
    this.household.addMember({ peerId, name: record.name, addrs: addrs.length ? addrs : known?.addrs ?? [] });
    const before = this.directory.get(peerId);
    const wasMember = before?.trust === 'member' && before.presence === 'online' && before.record !== null;
    this.directory.verified(peerId, record, addrs);
    if (!wasMember) this.log(`peer '${record.name}' (${peerId}): verified household member`);
  }

  private refuse(stream: Stream, remote: string, protocol: string, why: string): void {
    stream.abort(new Error(why));
    if (!this.household.isMember(remote)) this.directory.untrusted(remote, `opened ${protocol} without being a household member (refused)`);
  }

  private async onPeerStream(stream: Stream, conn: Connection): Promise<void> {
    const remote = conn.remotePeer.toString();
    const ctx = this.exchangeContext();
    if (!ctx) return this.refuse(stream, remote, PEER_PROTOCOL, 'this machine is not in a household');
    if (this.household.isForgotten(remote)) return this.refuse(stream, remote, PEER_PROTOCOL, 'this machine was removed from the household');
    try {
      const record = await answerExchange(stream, remote, ctx);
      this.trusted(remote, record, stream, conn);
    } catch (e) {
      stream.abort(e as Error);
      if (e instanceof NotAMember) {
        this.directory.untrusted(remote, `failed the membership proof on ${PEER_PROTOCOL} (refused)`);
        this.log(`peer ${remote}: refused on ${PEER_PROTOCOL} (${e.message})`);
      }
    }
  }

  private async onMigrateStream(stream: Stream, conn: Connection): Promise<void> {
    const remote = conn.remotePeer.toString();
    if (!this.household.isMember(remote)) return this.refuse(stream, remote, MIGRATE_PROTOCOL, 'not a member of this household');
    if (!this.migration) { stream.abort(new Error('live migration is not wired into roamd yet')); return; }
    const entry = this.directory.get(remote)!;
    try {
      await this.migration.receive(stream, { peerId: remote, name: entry.name ?? remote, entry });
    } catch (e) {
      this.log(`incoming migration from ${entry.name ?? remote} failed: ${(e as Error).message}`);
      stream.abort(e as Error);
    }
  }

  private async onStoreStream(stream: Stream, conn: Connection): Promise<void> {
    const remote = conn.remotePeer.toString();
    if (!this.household.isMember(remote)) return this.refuse(stream, remote, STORE_PROTOCOL_ID, 'not a member of this household');
    if (!this.home) { stream.abort(new Error(this.homeProblem)); return; }
    await this.home.serveStoreStream(stream, conn);
  }

  /** A member's viewer follows a VM that runs here: its screen and input (node/screen). */
  private async onScreenStream(stream: Stream, conn: Connection): Promise<void> {
    const remote = conn.remotePeer.toString();
    if (!this.household.isMember(remote)) return this.refuse(stream, remote, SCREEN_PROTOCOL, 'not a member of this household');
    await this.screens.serve(stream);
  }

  /** The other members and the VMs their latest records list, for the screen service to find a VM. */
  private screenMembers(): MemberView[] {
    return this.directory.list().filter((e) => e.trust === 'member' && e.record !== null && !this.household.isForgotten(e.peerId)).map((e) => ({
      peerId: e.peerId, name: e.record!.name, online: e.presence !== 'offline', updatedAt: e.record!.updatedAt,
      vms: e.record!.vms.map((v) => ({ name: v.name, state: v.state })),
    }));
  }

  /** A member asks this machine to send one of its VMs (a click on that member's dashboard). */
  private async onSendStream(stream: Stream, conn: Connection): Promise<void> {
    const remote = conn.remotePeer.toString();
    if (!this.household.isMember(remote)) return this.refuse(stream, remote, SEND_PROTOCOL, 'not a member of this household');
    const from = this.directory.get(remote)?.name ?? remote;
    await answerSendRequest(this, stream, from).catch((e: Error) => { this.log(`send request from ${from}: ${e.message}`); stream.abort(e); });
  }

  /** A member tells how a migration it sends goes (for this machine's page). */
  private async onNewsStream(stream: Stream, conn: Connection): Promise<void> {
    const remote = conn.remotePeer.toString();
    if (!this.household.isMember(remote)) return this.refuse(stream, remote, NEWS_PROTOCOL, 'not a member of this household');
    const from = this.directory.get(remote)?.record?.name ?? this.household.member(remote)?.name ?? remote;
    await this.newsInbox.accept(stream as never, remote, from).catch((e: Error) => this.log(`migration notification from ${from} refused: ${e.message}`));
  }

  /** A member asks this machine to pull its home now (`roam home sync`, its follower). */
  private async onHomeStream(stream: Stream, conn: Connection): Promise<void> {
    const remote = conn.remotePeer.toString();
    if (!this.household.isMember(remote)) return this.refuse(stream, remote, HOME_PROTOCOL, 'not a member of this household');
    if (this.home) return this.home.onPullRequest(stream, conn);
    const why = this.homeProblem;
    await answerPull(stream, async () => { throw new Error(why); }).catch((e: Error) => stream.abort(e));
  }

  private async onJoinStream(stream: Stream, conn: Connection): Promise<void> {
    const remote = conn.remotePeer.toString();
    const addr = conn.remoteAddr.toString();
    try {
      await answerJoin(stream, (token, name) => {
        const info = this.household.infoForJoiner;
        if (!info) throw new Error('the inviting machine is no longer in a household');
        checkName(name, 'machine name');
        if (name === this.config.name || this.household.memberList().some((m) => m.name === name && m.peerId !== remote)) {
          throw new Error(`a household member is already named '${name}'; start roamd on the joining machine with another --name`);
        }
        this.household.redeemInvite(token, remote);
        this.household.addMember({ peerId: remote, name, addrs: [addr] });
        this.directory.addMember(remote, name, [addr]);
        this.log(`machine '${name}' (${remote}) joined the household`);
        const self = { peerId: this.peerId, name: this.config.name, addrs: this.shareableAddrs(), since: info.createdAt };
        return { household: info, members: [self, ...this.household.memberList().filter((m) => m.peerId !== remote)] };
      });
      void this.exchangeSoon(remote, true);
    } catch (e) {
      stream.abort(e as Error);
    }
  }

  // ---- household operations (called from the control socket) ----

  initHousehold(name: string): { id: string; name: string } {
    const info = this.household.create(name);
    this.log(`created household '${info.name}'`);
    for (const e of this.directory.list()) void this.exchangeSoon(e.peerId, true);
    return { id: info.id, name: info.name };
  }

  invite(): { code: string; expiresAt: string; addrs: string[] } {
    const { token, expiresAt } = this.household.newInviteToken();
    const addrs = this.shareableAddrs();
    if (addrs.length === 0) throw new Error('this roamd listens on no address another machine could dial; check --listen');
    return { code: encodeInvite({ householdId: this.household.id!, inviter: this.peerId, addrs, token }), expiresAt: new Date(expiresAt).toISOString(), addrs };
  }

  async join(code: string): Promise<{ household: string; members: string[] }> {
    const invite = decodeInvite(code);
    if (this.household.joined) {
      throw new Error(this.household.id === invite.householdId
        ? `this machine is already in household '${this.household.name}'`
        : `this machine already belongs to household '${this.household.name}'; a machine is in one household at a time`);
    }
    if (invite.inviter === this.peerId) throw new Error('this invite code was made by this very machine; use it on the machine that should join');
    let inviter: PeerId;
    try { inviter = peerIdFromString(invite.inviter); } catch { throw new Error('the invite code names an invalid inviter; ask for a new code'); }
    const addrs = invite.addrs.map((a) => withPeer(a, invite.inviter)).filter((a): a is Multiaddr => a !== undefined);
    if (addrs.length === 0) throw new Error('the invite code holds no usable address; ask for a new code');
    let stream: Stream;
    try {
      stream = await this.node.dialProtocol(addrs, JOIN_PROTOCOL, { signal: AbortSignal.timeout(EXCHANGE_TIMEOUT_MS) });
    } catch (e) {
      throw new Error(`cannot reach the inviting machine at ${invite.addrs.join(', ')}: ${(e as Error).message}`);
    }
    if (stream && inviter.toString() !== invite.inviter) throw new Error('unexpected inviter');
    const grant = await requestJoin(stream, invite.token, this.config.name);
    if (grant.household.id !== invite.householdId) throw new Error('the inviting machine answered for another household than the code names; not joining');
    this.household.adopt(grant.household, grant.members, this.peerId);
    for (const m of grant.members) if (m.peerId !== this.peerId) this.directory.addMember(m.peerId, m.name, m.addrs);
    this.log(`joined household '${grant.household.name}' through ${invite.inviter}`);
    await Promise.all(grant.members.map((m) => this.exchangeSoon(m.peerId, true)));
    return { household: grant.household.name, members: grant.members.map((m) => m.name) };
  }

  async forget(peerId: string): Promise<void> {
    this.household.forget(peerId);
    this.directory.forget(peerId);
    this.memberWeb.delete(peerId);
    try { await this.node.hangUp(peerIdFromString(peerId)); } catch { /* not connected */ }
    this.log(`forgot member ${peerId}`);
  }

  /**
   * Stops roamd. Its VMs keep running (their processes are detached and a restarted roamd
   * re-attaches to them) unless `stopVms` asks for them to be closed too.
   */
  async stop(opts: { stopVms?: boolean } = {}): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    await this.lidWatch?.stop();
    if (this.timer) clearInterval(this.timer);
    this.news?.stop();
    await new Promise<void>((r) => (this.control ? this.control.close(() => r()) : r()));
    try { unlinkSync(this.paths.socket); } catch { /* already gone */ }
    if (opts.stopVms) await this.vms.stopAll();
    else { const left = await this.vms.detachAll(); if (left) this.log(`leaving ${left} VM(s) running for the next roamd`); }
    await this.web?.close();
    await this.screens.close();
    await this.home?.stopFollowing();
    await this.node.stop();
    await this.home?.stop();
    await closeSharedCompressPool();
    try { unlinkSync(this.paths.pidFile); } catch { /* already gone */ }
    this.log('roamd stopped');
  }
}

function withPeer(addr: string, peerId: string): Multiaddr | undefined {
  try {
    const ma = multiaddr(addr);
    return addr.includes('/p2p/') ? ma : ma.encapsulate(`/p2p/${peerId}`);
  } catch { return undefined; }
}
