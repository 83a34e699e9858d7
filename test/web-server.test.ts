// roamd's web server (node/web/server.ts) against a fake household and a fake
// screen service: sign-in by viewer token and nothing without it (every route
// and the WebSocket upgrade), tokens across servers of one household, screen
// updates out and input in, a malformed or oversized message closing only its
// own connection, "send to …", and the live feed.
import assert from 'node:assert/strict';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'node:http';
import { WebServer, type WebBackend } from '../node/web/server.js';
import { MigrationBoard } from '../node/web/migration-board.js';
import { householdViewerKey, mintToken } from '../node/web/viewer-token.js';
import { decodeUpdate } from '../node/web/screen-wire.js';
import { encodeFrame, OP_BINARY } from '../node/web/ws-frames.js';
import type { ScreenInput, ScreenService, ScreenState, ScreenUpdate } from '../node/web/screen-port.js';
import type { HouseholdView } from '../node/web/household-view.js';
import { http, openWs, signIn, TestWs } from './web-support.js';
import { until } from './support/cli.js';

/** A screen service whose updates the test pushes; every input it receives is recorded. */
class FakeScreens implements ScreenService {
  readonly inputs: { vm: string; e: ScreenInput }[] = [];
  readonly subs = new Set<{ vm: string; push: (u: ScreenUpdate) => void; closed: boolean }>();
  watch(vm: string, onState: (s: ScreenState) => void) {
    const queue: ScreenUpdate[] = [];
    let wake: (() => void) | null = null;
    const sub = { vm, closed: false, push: (u: ScreenUpdate) => { queue.push(u); wake?.(); } };
    this.subs.add(sub);
    queueMicrotask(() => onState({ state: 'live', host: 'basement' }));
    return {
      next: async () => {
        for (;;) {
          if (sub.closed) throw new Error('closed');
          const u = queue.shift();
          if (u) return u;
          await new Promise<void>((r) => { wake = r; });
        }
      },
      input: (e: ScreenInput) => { this.inputs.push({ vm, e }); },
      close: () => { sub.closed = true; this.subs.delete(sub); wake?.(); },
    };
  }
  push(vm: string, u: ScreenUpdate): void { for (const s of this.subs) if (s.vm === vm) s.push(u); }
  async close(): Promise<void> { /* nothing */ }
}

function solidRect(x: number, y: number, w: number, h: number, bgrx: number[]): ScreenUpdate['rects'][number] {
  const raw = Buffer.alloc(w * h * 4);
  for (let i = 0; i < raw.length; i += 4) raw.set(bgrx, i);
  return { x, y, w, h, data: deflateRawSync(raw) };
}

const household: HouseholdView = {
  self: 'basement', household: 'home',
  machines: [{ name: 'basement', self: true, role: 'server', power: 'ac', batteryPercent: null, lid: null, presence: 'online', online: true }],
  sessions: [{ vm: 'desk', host: 'basement', state: 'running', memBytes: 1 << 28 }], migrations: [],
};

describe('web: roamd web server (fake household and screens)', function () {
  this.timeout(30_000);
  const key = householdViewerKey(randomBytes(32), 'abc');
  const screens = new FakeScreens();
  const board = new MigrationBoard();
  const sends: { vm: string; to: string }[] = [];
  let web: WebServer;
  let other: WebServer;
  let cookie: string;
  let dir: string;
  const backend = (k: Buffer): WebBackend => ({
    viewerKey: () => k, household: () => ({ ...household, migrations: board.list() }), screens: () => screens, board, log: () => undefined,
    send: async (vm, to) => {
      if (to === 'nowhere') throw new Error("no member named 'nowhere'");
      sends.push({ vm, to });
      const t = board.begin(vm, 'basement', to);
      t.progress({ phase: 'hello', round: 0, percent: 0, bytesSent: 100, bytesPerSec: 0, etaMs: 0, predictedDowntimeMs: null, throttle: 0 });
    },
  });
  const base = () => web.url;
  const origin = () => web.url;
  const authed = () => ({ Cookie: cookie, Origin: origin() });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'roam-web-'));
    mkdirSync(join(dir, 'web'));
    writeFileSync(join(dir, 'web', 'index.html'), '<!doctype html><canvas id="screen"></canvas>');
    writeFileSync(join(dir, 'web', 'main.js'), 'console.log(1)');
    web = await WebServer.start(backend(key), { host: '127.0.0.1', port: 0, staticDir: join(dir, 'web'), pollMs: 50 });
    other = await WebServer.start(backend(Buffer.from(key)), { host: '127.0.0.1', port: 0, staticDir: join(dir, 'web') });
  });
  after(async () => {
    await web?.close(); await other?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('serves nothing without a session: 401 on every route and on the WebSocket upgrade', async () => {
    for (const path of ['/', '/view/desk', '/static/main.js', '/api/household', '/api/events', '/nonexistent']) {
      const r = await http(base() + path);
      assert.equal(r.status, 401, path);
      assert.doesNotMatch(r.body, /desk|basement|canvas/, `${path} leaks nothing`);
    }
    const post = await http(`${base()}/api/send`, { method: 'POST', headers: { 'Content-Type': 'application/json', Origin: origin() }, body: '{"vm":"desk","to":"laptop"}' });
    assert.equal(post.status, 401);
    const ws = await openWs(`${base()}/ws/screen/desk`, { Origin: origin() });
    assert.ok(!(ws instanceof TestWs) && ws.refused === 401, 'upgrade refused with 401');
    // A made-up cookie is no session either.
    const fake = await http(base() + '/', { headers: { Cookie: `roam_session_${web.port}=${randomBytes(32).toString('base64url')}` } });
    assert.equal(fake.status, 401);
    assert.equal(sends.length, 0);
  });

  it('refuses malformed, forged, expired and spent tokens', async () => {
    const login = (t: string) => signIn(`${base()}/login?token=${encodeURIComponent(t)}&next=/`);
    for (const t of ['', 'nonsense', 'a.b.c']) assert.equal((await login(t)).status, 401, `token '${t}'`);
    const forged = mintToken(randomBytes(32)).token;
    const f = await login(forged);
    assert.equal(f.status, 401);
    assert.match(f.body, /not issued by this household/);
    assert.equal(f.cookie, null);
    const expired = mintToken(key, Date.now() - 11 * 60_000).token;
    assert.match((await login(expired)).body, /expired/);
    // A valid token with its MAC altered in one character.
    const good = mintToken(key).token;
    const flipped = good.slice(0, -2) + (good.at(-2) === 'A' ? 'B' : 'A') + good.at(-1);
    assert.equal((await login(flipped)).status, 401);
    const first = await login(good);
    assert.equal(first.status, 303);
    assert.ok(first.cookie);
    const again = await login(good);
    assert.equal(again.status, 401, 'a token works once per server');
    assert.match(again.body, /already used/);
  });

  it('signs in with a token, sets an HttpOnly SameSite=Strict cookie, and redirects only to its own pages', async () => {
    const { url } = web.loginUrl('/view/desk');
    const r = await http(url);
    assert.equal(r.status, 303);
    assert.equal(r.headers.location, '/view/desk');
    const set = r.headers['set-cookie']![0]!;
    assert.match(set, /HttpOnly/);
    assert.match(set, /SameSite=Strict/);
    cookie = set.split(';')[0]!;
    const page = await http(base() + '/view/desk', { headers: { Cookie: cookie } });
    assert.equal(page.status, 200);
    assert.match(page.body, /canvas id="screen"/);
    assert.match(String(page.headers['content-security-policy']), /default-src 'self'/);
    assert.equal((await http(base() + '/static/main.js', { headers: { Cookie: cookie } })).status, 200);
    assert.equal((await http(base() + '/static/..%2Fsecret', { headers: { Cookie: cookie } })).status, 404);
    const hh = JSON.parse((await http(base() + '/api/household', { headers: { Cookie: cookie } })).body) as HouseholdView;
    assert.equal(hh.sessions[0]!.vm, 'desk');
    // An outside `next` is not followed.
    const evil = await signIn(`${base()}/login?token=${encodeURIComponent(mintToken(key).token)}&next=//evil.example/`);
    assert.equal(evil.location, '/');
    // Another Host name (DNS rebinding) gets nothing, even with the cookie.
    const rebound = await http(base() + '/api/household', { headers: { Cookie: cookie, Host: `evil.example:${web.port}` } });
    assert.equal(rebound.status, 403);
  });

  it('accepts a token another member of the household minted (same household key), on its own server', async () => {
    const minted = web.loginUrl('/').url.replace(web.url, other.url);
    const r = await signIn(minted);
    assert.equal(r.status, 303);
    assert.ok(r.cookie?.startsWith(`roam_session_${other.port}=`));
    // The session belongs to the server that issued it.
    assert.equal((await http(web.url + '/', { headers: { Cookie: r.cookie!.replace(`_${other.port}=`, `_${web.port}=`) } })).status, 401);
  });

  it('refuses a WebSocket from another origin, and a bad handshake', async () => {
    const cross = await openWs(`${base()}/ws/screen/desk`, { Cookie: cookie, Origin: 'http://evil.example' });
    assert.ok(!(cross instanceof TestWs) && cross.refused === 403);
    const noOrigin = await openWs(`${base()}/ws/screen/desk`, { Cookie: cookie });
    assert.ok(!(noOrigin instanceof TestWs) && noOrigin.refused === 403);
    const oldVersion = await openWs(`${base()}/ws/screen/desk`, { ...authed(), 'Sec-WebSocket-Version': '8' });
    assert.ok(!(oldVersion instanceof TestWs) && oldVersion.refused === 426);
    const badKey = await openWs(`${base()}/ws/screen/desk`, { ...authed(), 'Sec-WebSocket-Key': 'short' });
    assert.ok(!(badKey instanceof TestWs) && badKey.refused === 400);
  });

  it('streams screen updates to the page and forwards its keyboard and mouse to the guest', async () => {
    const ws = await openWs(`${base()}/ws/screen/desk`, authed()) as TestWs;
    assert.ok(ws instanceof TestWs);
    const state = await ws.until('a state message', () => ws.messages.find((m) => m.kind === 'text'));
    assert.deepEqual(JSON.parse((state as { text: string }).text), { type: 'state', state: 'live', host: 'basement' });
    await until('the subscription', 5000, () => screens.subs.size > 0);
    screens.push('desk', { width: 1024, height: 768, full: false, rects: [solidRect(8, 16, 4, 2, [1, 2, 3, 0])] });
    const bin = await ws.until('an update', () => ws.messages.find((m) => m.kind === 'binary')) as { data: Buffer };
    const u = decodeUpdate(bin.data);
    assert.equal(u.rects.length, 1);
    assert.deepEqual({ x: u.rects[0]!.x, y: u.rects[0]!.y, w: u.rects[0]!.w, h: u.rects[0]!.h }, { x: 8, y: 16, w: 4, h: 2 });
    assert.deepEqual([...inflateRawSync(u.rects[0]!.data).subarray(0, 4)], [1, 2, 3, 0]);
    ws.sendText(JSON.stringify({ type: 'key', code: 'KeyA', down: true }));
    ws.sendText(JSON.stringify({ type: 'pointer', dx: 5, dy: -3, buttons: 1 }));
    await until('input at the guest', 5000, () => screens.inputs.length >= 2);
    assert.deepEqual(screens.inputs.map((i) => i.e), [{ type: 'key', code: 'KeyA', down: true }, { type: 'pointer', dx: 5, dy: -3, buttons: 1 }]);
    ws.close();
  });

  it('closes only the connection that sends a malformed or oversized message; another keeps its updates', async () => {
    const good = await openWs(`${base()}/ws/screen/desk`, authed()) as TestWs;
    const cases: { send: (w: TestWs) => void; code: number }[] = [
      { send: (w) => w.sendText('{not json'), code: 1007 },
      { send: (w) => w.sendText(JSON.stringify({ type: 'key', code: 'x'.repeat(100), down: true })), code: 1008 },
      { send: (w) => w.sendText(JSON.stringify({ type: 'pointer', dx: 1e9, dy: 0, buttons: 0 })), code: 1008 },
      { send: (w) => w.sendText(JSON.stringify({ type: 'reboot' })), code: 1008 },
      { send: (w) => w.sendText('x'.repeat(5000)), code: 1009 },
      { send: (w) => w.sendRaw(encodeFrame(OP_BINARY, Buffer.from([1, 2]), { mask: randomBytes(4) })), code: 1003 },
      { send: (w) => w.sendRaw(encodeFrame(OP_BINARY, Buffer.from([1, 2]))), code: 1002 }, // unmasked
      { send: (w) => w.sendRaw(Buffer.from([0x81, 0xff, 0, 0, 0, 1, 0, 0, 0, 0])), code: 1009 }, // claims 4 GiB
    ];
    for (const c of cases) {
      const bad = await openWs(`${base()}/ws/screen/desk`, authed()) as TestWs;
      await bad.until('its state', () => bad.messages.length > 0);
      c.send(bad);
      await bad.until(`close ${c.code}`, () => bad.closed);
      assert.equal(bad.closed!.code, c.code);
    }
    const before = screens.inputs.length;
    await until('the subscription', 5000, () => screens.subs.size > 0);
    screens.push('desk', { width: 1024, height: 768, full: true, rects: [solidRect(0, 0, 1024, 768, [9, 9, 9, 0])] });
    const upd = await good.until('an update after the others were closed', () => good.messages.find((m) => m.kind === 'binary')) as { data: Buffer };
    assert.equal(decodeUpdate(upd.data).full, true);
    assert.equal(good.closed, null);
    good.sendText(JSON.stringify({ type: 'key', code: 'Enter', down: false }));
    await until('its input', 5000, () => screens.inputs.length > before);
    assert.deepEqual(screens.inputs.at(-1)!.e, { type: 'key', code: 'Enter', down: false });
    // The server itself is fine.
    assert.equal((await http(base() + '/api/household', { headers: { Cookie: cookie } })).status, 200);
    good.close();
  });

  it('"send to …" needs the session and its own origin; the migration appears on the live feed', async () => {
    const body = JSON.stringify({ vm: 'desk', to: 'laptop' });
    const cross = await http(`${base()}/api/send`, { method: 'POST', headers: { Cookie: cookie, Origin: 'http://evil.example', 'Content-Type': 'application/json' }, body });
    assert.equal(cross.status, 403);
    const bad = await http(`${base()}/api/send`, { method: 'POST', headers: { ...authed(), 'Content-Type': 'application/json' }, body: '{"vm":"../x","to":"laptop"}' });
    assert.equal(bad.status, 400);
    const big = await http(`${base()}/api/send`, { method: 'POST', headers: { ...authed(), 'Content-Type': 'application/json' }, body: 'x'.repeat(10_000) });
    assert.equal(big.status, 413);
    const refused = await http(`${base()}/api/send`, { method: 'POST', headers: { ...authed(), 'Content-Type': 'application/json' }, body: '{"vm":"desk","to":"nowhere"}' });
    assert.equal(refused.status, 409);
    assert.match(refused.body, /no member named 'nowhere'/);
    assert.equal(sends.length, 0);

    // The live feed: the household first, then the migration as it starts.
    const events = await new Promise<string>((resolve, reject) => {
      const req = request(`${base()}/api/events`, { headers: { Cookie: cookie } }, (res) => {
        assert.equal(res.headers['content-type'], 'text/event-stream; charset=utf-8');
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (d) => {
          buf += d;
          if (buf.includes('event: household') && !buf.includes('event: migration') && sends.length === 0) {
            void http(`${base()}/api/send`, { method: 'POST', headers: { ...authed(), 'Content-Type': 'application/json' }, body }).then((r) => assert.equal(r.status, 202));
          }
          if (buf.includes('event: migration')) { req.destroy(); resolve(buf); }
        });
      });
      req.on('error', reject);
      req.end();
    });
    assert.deepEqual(sends, [{ vm: 'desk', to: 'laptop' }]);
    const line = events.split('\n').find((l, i, all) => all[i - 1] === 'event: migration' && l.startsWith('data: '))!;
    const m = JSON.parse(line.slice(6)) as { vm: string; to: string; phase: string };
    assert.equal(m.vm, 'desk');
    assert.equal(m.to, 'laptop');
  });
});
