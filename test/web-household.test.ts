// Every member's page in a real household (roamd in network namespaces):
// `roam view --on imac` on laptop signs laptop's browser in to imac's page over
// the LAN (imac's roamd is bound to its LAN address), and says why not for a
// loopback-only or offline member; `roam send` on basement shows, live, on the
// page of imac (which neither sends nor receives) and of laptop (which
// receives), under one migration id everywhere, also when a page asked for the
// move; a stranger's notification is refused and changes nothing.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Household, stopProcess, until } from '../node/demo/household.js';
import { requireNetns } from './support/netns.js';
import { requireKvm } from './support/kvm.js';
import type { HouseholdView } from '../node/web/household-view.js';
import type { MigrationView } from '../node/web/migration-board.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const NS_FETCH = join(HERE, 'support', 'ns-fetch.js');
const STRANGER = join(HERE, 'support', 'news-stranger.js');
const NET = 91;
const MACHINES = [{ name: 'basement', role: 'server' }, { name: 'imac', role: 'desktop' }, { name: 'laptop', role: 'laptop' }] as const;
/** NetnsLan gives the i-th machine 10.<net>.0.<i+10>: imac's LAN address, known before its roamd starts. */
const IMAC_ADDR = `10.${NET}.0.11`;
const IMAC_WEB = `http://${IMAC_ADDR}:7420`;
/** The pages bound to loopback (the default) are reached from inside their own namespace. */
const LOCAL_WEB = 'http://127.0.0.1:7420';

interface Fetched { status: number; location: string | null; cookie: string | null; body: string; error?: string }
interface PeerView { name: string | null; peerId: string; trusted: boolean; trust: string; presence: string; note: string | null; web: { port: number | null; lan: boolean; host: string | null } | null }
interface ViewResult { url: string; base: string; on: string }

describe('web: every member\'s page sees every migration; a member\'s browser elsewhere signs in', function () {
  this.timeout(180_000);
  let house: Household | undefined;
  let root: string;
  const watchers: ChildProcess[] = [];

  const ns = (m: string) => house!.lan.ns(m);
  /** One GET from inside `from`'s namespace. */
  const fetchIn = (from: string, url: string, cookie?: string): Fetched => {
    const r = spawnSync('ip', ['netns', 'exec', ns(from), process.execPath, NS_FETCH, url, ...(cookie ? [cookie] : [])], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as Fetched;
  };
  /** A POST as the page makes it (its own Origin, JSON), from inside `from`'s namespace. */
  const postIn = (from: string, url: string, cookie: string, body: object): Fetched => {
    const r = spawnSync('ip', ['netns', 'exec', ns(from), process.execPath, NS_FETCH, '--post', url, cookie, JSON.stringify(body)], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as Fetched;
  };
  /** Signs a browser in `from`'s namespace in to the page `roam view` gave; returns its cookie. */
  const signInFrom = (from: string, url: string): string => {
    const s = fetchIn(from, url);
    assert.equal(s.status, 303, `${url}: ${JSON.stringify(s)}`);
    assert.ok(s.cookie);
    return s.cookie;
  };
  const household = (from: string, base: string, cookie: string): HouseholdView => {
    const r = fetchIn(from, `${base}/api/household`, cookie);
    assert.equal(r.status, 200, r.body);
    return JSON.parse(r.body) as HouseholdView;
  };
  /** The page's live feed (/api/events), followed from inside `from`'s namespace: every event as it came. */
  const watch = (from: string, base: string, cookie: string) => {
    const child = spawn('ip', ['netns', 'exec', ns(from), process.execPath, NS_FETCH, '--events', `${base}/api/events`, cookie], { stdio: ['ignore', 'pipe', 'inherit'] });
    watchers.push(child);
    const seen: { event: string; data: unknown }[] = [];
    let buf = '';
    child.stdout!.on('data', (d) => {
      buf += d.toString();
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) { seen.push(JSON.parse(buf.slice(0, nl)) as { event: string; data: unknown }); buf = buf.slice(nl + 1); }
    });
    /** The migrations the feed reported, in order (from `migration` events and each `household` event's list). */
    return () => seen.flatMap((e) => (e.event === 'migration' ? [e.data as MigrationView] : (e.data as HouseholdView).migrations));
  };

  before(async function () {
    requireNetns(this);
    root = mkdtempSync(join(tmpdir(), 'roam-wh-'));
    house = new Household(root, [...MACHINES], { net: NET, prefix: 'roam-wh-' });
    // imac's page listens on its LAN address (what `roam daemon --web 10.91.0.11:7420` saves).
    mkdirSync(house.stateDir('imac'), { recursive: true, mode: 0o700 });
    writeFileSync(join(house.stateDir('imac'), 'config.json'), JSON.stringify({ web: { listen: `${IMAC_ADDR}:7420` } }));
    await house.start();
    assert.equal(house.lan.hosts.get('imac')?.addr, IMAC_ADDR);
    house.formHousehold('web-home');
    await house.waitUntilAllSeeEachOther();
  });

  after(async function () {
    this.timeout(30_000);
    await Promise.all(watchers.map((w) => stopProcess(w)));
    await house?.stop();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  afterEach(function () {
    if (this.currentTest?.state === 'failed' && house) for (const m of house.machines) console.error(`--- roamd ${m.name} ---\n${house.log(m.name).slice(-3000)}`);
  });

  it('`roam view --on imac` on laptop signs a browser in to imac\'s page over the LAN; --help says so', async () => {
    const web = await until('laptop to learn where imac\'s page listens', 20_000, () =>
      house!.roamJson<PeerView[]>('laptop', 'peers').find((p) => p.name === 'imac')?.web);
    assert.deepEqual(web, { port: 7420, lan: true, host: IMAC_ADDR });
    const v = house!.roam('laptop', 'view', '--on', 'imac');
    assert.equal(v.code, 0, v.err);
    const url = v.out.trim();
    assert.match(url, new RegExp(`^${IMAC_WEB.replace(/\./g, '\\.')}/login\\?token=[^&]+&next=%2F$`));
    assert.match(v.err, /open it in a browser on any machine that reaches imac/);
    // laptop's browser, over the LAN: the token laptop minted is good on imac (the household's key).
    assert.equal(fetchIn('laptop', `${IMAC_WEB}/`).status, 401, 'nothing without signing in');
    const cookie = signInFrom('laptop', url);
    const page = fetchIn('laptop', `${IMAC_WEB}/`, cookie);
    assert.equal(page.status, 200);
    assert.match(page.body, /<canvas id="screen"/);
    assert.equal(household('laptop', IMAC_WEB, cookie).self, 'imac');
    assert.equal(fetchIn('laptop', url).status, 401, 'the link works once');
    const json = house!.roamJson<ViewResult>('laptop', 'view', '--on', 'imac');
    assert.equal(json.base, IMAC_WEB);
    assert.equal(json.on, 'imac');

    const help = house!.roam('laptop', 'view', '--help');
    assert.match(help.out + help.err, /--on MEMBER/);
    assert.match(help.out + help.err, /--web 0\.0\.0\.0:7420/);
  });

  it('says why not for a member whose page is loopback-only, for a stranger\'s name and for an unknown VM', async () => {
    await until('imac to learn where basement\'s page listens', 20_000, () =>
      house!.roamJson<PeerView[]>('imac', 'peers').find((p) => p.name === 'basement')?.web);
    const lo = house!.roam('imac', 'view', '--on', 'basement');
    assert.equal(lo.code, 1);
    assert.match(lo.err, /basement's web page listens on its loopback address only/);
    assert.match(lo.err, /--web 0\.0\.0\.0:7420/);
    const nobody = house!.roam('imac', 'view', '--on', 'moon');
    assert.equal(nobody.code, 1);
    assert.match(nobody.err, /no peer named 'moon'/);
    const ghost = house!.roam('laptop', 'view', 'ghost', '--on', 'imac');
    assert.equal(ghost.code, 1);
    assert.match(ghost.err, /no VM named 'ghost'/);
  });

  it('`roam send` on basement: imac\'s page charts it live, laptop\'s (receiving) too, one id everywhere', async function () {
    requireKvm(this);
    const imacCookie = signInFrom('imac', house!.roamJson<ViewResult>('imac', 'view').url);
    const laptopCookie = signInFrom('laptop', house!.roamJson<ViewResult>('laptop', 'view').url);
    const basementCookie = signInFrom('basement', house!.roamJson<ViewResult>('basement', 'view').url);
    const imacFeed = watch('imac', IMAC_WEB, imacCookie);
    assert.equal(house!.roam('basement', 'run', 'probe', '--name', 'desk', '--mem', '64M', '--ws', '16M', '--rate', '16M').code, 0);
    await until('desk to run on basement', 30_000, () => house!.roamJson<{ name: string; state: string }[]>('basement', 'ps').some((x) => x.name === 'desk' && x.state === 'running'));

    const sent = house!.roamJson<{ to: string; rounds: number }>('basement', 'send', 'desk', 'laptop');
    assert.equal(sent.to, 'laptop');
    const done = await until('imac\'s feed to report the outcome', 30_000, () => imacFeed().find((m) => m.vm === 'desk' && m.outcome));
    const events = imacFeed().filter((m) => m.id === done.id);
    assert.deepEqual([done.from, done.to, done.via], ['basement', 'laptop', null]);
    assert.ok(done.outcome?.ok, JSON.stringify(done.outcome));
    assert.equal(done.outcome.rounds, sent.rounds);
    assert.ok(done.rounds.length >= 1 && done.rounds[0]!.bytes > 0, `rounds charted on imac: ${JSON.stringify(done.rounds)}`);
    const live = events.filter((m) => m.outcome === null);
    assert.ok(live.length >= 1, 'imac saw it under way before it ended');
    const liveWithRounds = live.filter((m) => m.rounds.length >= 1).length;
    console.log(`      imac's feed: ${events.length} events for the migration, ${live.length} while under way (${liveWithRounds} with round points), ${done.rounds.length} rounds`);
    assert.ok(liveWithRounds >= 1, 'imac charted a round while it was under way');
    assert.equal(new Set(imacFeed().filter((m) => m.vm === 'desk').map((m) => m.id)).size, 1, 'one migration id on imac');
    // The receiving machine's page and the sender's: the same migration under the same id, once.
    const onLaptop = await until('laptop\'s board to have the outcome', 20_000, () =>
      household('laptop', LOCAL_WEB, laptopCookie).migrations.find((m) => m.id === done.id && m.outcome));
    assert.ok(onLaptop.outcome?.ok);
    assert.ok(onLaptop.rounds.length >= 1);
    assert.equal(household('laptop', LOCAL_WEB, laptopCookie).migrations.filter((m) => m.vm === 'desk').length, 1);
    assert.deepEqual(household('basement', LOCAL_WEB, basementCookie).migrations.filter((m) => m.vm === 'desk').map((m) => m.id), [done.id]);

    // imac's page asks laptop to send desk back to basement: imac keeps its own track; laptop's news adds no second entry.
    const r = postIn('imac', `${IMAC_WEB}/api/send`, imacCookie, { vm: 'desk', to: 'basement' });
    assert.equal(r.status, 202, r.body);
    const back = await until('the move back to finish on imac\'s board', 60_000, () =>
      household('imac', IMAC_WEB, imacCookie).migrations.find((m) => m.vm === 'desk' && m.from === 'laptop' && m.outcome));
    assert.ok(back.outcome?.ok, JSON.stringify(back.outcome));
    assert.equal(back.via, 'imac');
    assert.equal(household('imac', IMAC_WEB, imacCookie).migrations.filter((m) => m.vm === 'desk').length, 2, 'there and back: two migrations, no duplicate');
    const onBasement = await until('basement\'s board to have the move back', 20_000, () =>
      household('basement', LOCAL_WEB, basementCookie).migrations.find((m) => m.id === back.id && m.outcome));
    assert.deepEqual([onBasement.from, onBasement.to, onBasement.via, onBasement.outcome?.ok], ['laptop', 'basement', 'imac', true]);
  });

  it('refuses a stranger\'s notification: nothing reaches the board, and the stranger is marked untrusted', async () => {
    const imacAddr = house!.roamJson<{ addrs: string[] }>('imac', 'status').addrs.find((a) => a.includes(`/ip4/${IMAC_ADDR}/`))!;
    const r = spawnSync('ip', ['netns', 'exec', ns('basement'), process.execPath, STRANGER, imacAddr], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, r.stderr);
    const stranger = JSON.parse(r.stdout) as { peerId: string; posted: string };
    const peer = await until('imac to mark the stranger', 10_000, () => house!.roamJson<PeerView[]>('imac', 'peers').find((p) => p.peerId === stranger.peerId));
    assert.equal(peer.trust, 'untrusted', 'refused on /roam/migrations/1.0.0 (it speaks no other roam protocol)');
    const cookie = signInFrom('imac', house!.roamJson<ViewResult>('imac', 'view').url);
    assert.ok(!household('imac', IMAC_WEB, cookie).migrations.some((m) => m.vm === 'intruder' || m.id === 'feedfeedfeed'));
  });

  it('says so when the member is offline', async () => {
    assert.equal(await house!.stopDaemon('imac'), 'exited');
    await until('laptop to see imac gone', 30_000, () => house!.roamJson<PeerView[]>('laptop', 'peers').find((p) => p.name === 'imac')?.presence !== 'online');
    const off = house!.roam('laptop', 'view', '--on', 'imac');
    assert.equal(off.code, 1);
    assert.match(off.err, /imac is (offline|stale) \(last seen [^)]+\); its web page cannot be reached now/);
  });
});
