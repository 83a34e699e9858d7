// The web page inside a real roamd: `roam view` prints a link that signs a
// browser in (roamd in a temp XDG dir, like a user's), `roam status` reports
// the port; and /roam/send/1.0.0, the member-only request behind "send to …"
// on any machine's dashboard: a stranger is refused, and a click on laptop's
// page moves a real VM from basement to laptop, its rounds on laptop's chart.
import '../node/common/polyfill.js';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLibp2p } from 'libp2p';
import { tcp } from '@libp2p/tcp';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { multiaddr } from '@multiformats/multiaddr';
import { ROAM_ENTRY, stopProcess, until } from './support/cli.js';
import { requireKvm } from './support/kvm.js';
import { http, signIn } from './web-support.js';
import { askToSend } from '../node/web/remote-send.js';
import type { HouseholdView } from '../node/web/household-view.js';

interface Status { peerId: string; addrs: string[]; web: { url: string | null; port?: number; problem?: string } }

describe('web: roamd serves the page; roam view; member-only /roam/send', function () {
  this.timeout(120_000);
  let root: string;
  const env = (m: string) => ({
    ...process.env, HOME: join(root, m, 'home'), XDG_DATA_HOME: join(root, m, 'data'), XDG_CONFIG_HOME: join(root, m, 'config'),
    DISPLAY: '', WAYLAND_DISPLAY: '',
  });
  const daemons = new Map<string, ChildProcess>();
  const logs = new Map<string, string>();
  const roam = (m: string, ...args: string[]) => {
    const r = spawnSync(process.execPath, [ROAM_ENTRY, ...args], { encoding: 'utf8', timeout: 60_000, env: env(m) });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };
  const roamJson = <T>(m: string, ...args: string[]): T => {
    const r = roam(m, ...args, '--json');
    assert.equal(r.code, 0, `roam ${args.join(' ')} on ${m}: ${r.err}`);
    return JSON.parse(r.out) as T;
  };

  async function start(m: string, role: string): Promise<Status> {
    const child = spawn(process.execPath, [ROAM_ENTRY, 'daemon', '--name', m, '--role', role, '--listen', '/ip4/127.0.0.1/tcp/0', '--web', '127.0.0.1:0'],
      { stdio: ['ignore', 'ignore', 'pipe'], env: env(m) });
    logs.set(m, '');
    child.stderr!.on('data', (d) => logs.set(m, (logs.get(m)! + d.toString()).slice(-20_000)));
    daemons.set(m, child);
    return await until(`roamd ${m} to answer`, 20_000, () => { const r = roam(m, 'status', '--json'); return r.code === 0 && JSON.parse(r.out) as Status; })
      .catch((e: Error) => { throw new Error(`${e.message}\n${logs.get(m)}`); });
  }

  before(() => { root = mkdtempSync(join(tmpdir(), 'roam-webd-')); });
  after(async function () {
    this.timeout(30_000);
    for (const m of daemons.keys()) {
      try { for (const vm of roamJson<{ name: string }[]>(m, 'ps')) roam(m, 'stop', vm.name); } catch { /* not answering */ }
    }
    await Promise.all([...daemons.values()].map((c) => stopProcess(c)));
    if (root) rmSync(root, { recursive: true, force: true });
  });
  afterEach(function () {
    if (this.currentTest?.state === 'failed') for (const [m, l] of logs) console.error(`--- roamd ${m} ---\n${l.slice(-4000)}`);
  });

  let basement: Status;
  let laptop: Status;

  it('`roam view` prints a sign-in link that works once; `roam status` shows the port', async () => {
    basement = await start('basement', 'server');
    assert.ok(basement.web.url && basement.web.port! > 0, JSON.stringify(basement.web));
    const human = roam('basement', 'status');
    assert.match(human.out, new RegExp(`web page: http://127\\.0\\.0\\.1:${basement.web.port}/`));
    const v = roam('basement', 'view');
    assert.equal(v.code, 0, v.err);
    const url = v.out.trim();
    assert.match(url, new RegExp(`^http://127\\.0\\.0\\.1:${basement.web.port}/login\\?token=[^&]+&next=%2F$`));
    assert.match(v.err, /open it in a browser/, 'no desktop here: not opened');
    assert.equal((await http(`${basement.web.url}/`)).status, 401, 'nothing without signing in');
    const s = await signIn(url);
    assert.equal(s.status, 303);
    const page = await http(`${basement.web.url}/`, { headers: { Cookie: s.cookie! } });
    assert.equal(page.status, 200);
    assert.match(page.body, /<canvas id="screen"/);
    const hh = JSON.parse((await http(`${basement.web.url}/api/household`, { headers: { Cookie: s.cookie! } })).body) as HouseholdView;
    assert.deepEqual(hh.machines.map((m) => [m.name, m.role, m.online]), [['basement', 'server', true]]);
    assert.equal((await signIn(url)).status, 401, 'the link works once');
    const ghost = roam('basement', 'view', 'ghost');
    assert.equal(ghost.code, 1);
    assert.match(ghost.err, /no VM named 'ghost'/);
  });

  it('answers /roam/send only to household members', async () => {
    laptop = await start('laptop', 'laptop');
    roamJson('basement', 'init', '--name', 'web-home');
    const { code } = roamJson<{ code: string }>('basement', 'invite');
    roamJson('laptop', 'join', code);
    await until('basement and laptop to see each other', 30_000, () => {
      const p = roamJson<{ name: string | null; trusted: boolean; presence: string }[]>('laptop', 'peers');
      return p.some((x) => x.name === 'basement' && x.trusted && x.presence === 'online');
    });
    // A stranger on the network: its request is cut off unanswered.
    const stranger = await createLibp2p({ addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] }, transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()] });
    try {
      const addr = multiaddr(basement.addrs.find((a) => a.includes('/ip4/127.0.0.1/'))!);
      const stream = await stranger.dialProtocol(addr, '/roam/send/1.0.0');
      await assert.rejects(askToSend(stream as never, 'desk', 'laptop'), /closed|stopped answering|reset|abort/i);
      const peers = roamJson<{ peerId: string; trust: string }[]>('basement', 'peers');
      assert.equal(peers.find((p) => p.peerId === stranger.peerId.toString())?.trust, 'untrusted');
    } finally { await stranger.stop(); }
  });

  it('"send to laptop" clicked on laptop\'s page moves a VM running on basement (asked over /roam/send)', async function () {
    requireKvm(this);
    const run = roam('basement', 'run', 'probe', '--name', 'desk', '--mem', '64M', '--ws', '4M', '--rate', '1M');
    assert.equal(run.code, 0, run.err);
    await until('laptop to see desk on basement', 30_000, () => {
      const p = roamJson<{ name: string | null; record: { vms: { name: string }[] } | null }[]>('laptop', 'peers');
      return p.find((x) => x.name === 'basement')?.record?.vms.some((v) => v.name === 'desk');
    });
    const s = await signIn(roam('laptop', 'view', 'desk').out.trim());
    assert.equal(s.location, '/view/desk');
    const headers = { Cookie: s.cookie!, Origin: laptop.web.url!, 'Content-Type': 'application/json' };
    const hh = JSON.parse((await http(`${laptop.web.url}/api/household`, { headers })).body) as HouseholdView;
    assert.deepEqual(hh.sessions.map((x) => [x.vm, x.host]), [['desk', 'basement']]);
    const r = await http(`${laptop.web.url}/api/send`, { method: 'POST', headers, body: JSON.stringify({ vm: 'desk', to: 'laptop' }) });
    assert.equal(r.status, 202, r.body);
    let done: HouseholdView['migrations'][number] | undefined;
    for (const end = Date.now() + 90_000; !done?.outcome; await new Promise((res) => setTimeout(res, 300))) {
      assert.ok(Date.now() < end, `the migration to finish on laptop's board: ${JSON.stringify(done)}`);
      const v = JSON.parse((await http(`${laptop.web.url}/api/household`, { headers })).body) as HouseholdView;
      done = v.migrations.find((x) => x.vm === 'desk');
    }
    assert.ok(done.outcome?.ok, JSON.stringify(done.outcome));
    assert.deepEqual([done.from, done.to, done.via], ['basement', 'laptop', 'laptop']);
    assert.ok(done.rounds.length >= 2, `rounds charted: ${JSON.stringify(done.rounds)}`);
    assert.ok(done.rounds[0]!.bytes > 0);
    assert.ok(done.rounds.at(-1)!.final);
    await until('desk to run on laptop', 30_000, () => roamJson<{ name: string; state: string }[]>('laptop', 'ps').some((v) => v.name === 'desk' && v.state === 'running'));
    assert.ok(!roamJson<{ name: string }[]>('basement', 'ps').some((v) => v.name === 'desk'));
  });
});
