// The session in a real browser: three namespaced household machines, each with roamd; the probe guest
// runs on basement; Debian's Chromium runs *on laptop* (inside laptop's namespace, so its localhost is
// laptop's roamd) and opens the link `roam view` prints there. The page must show the guest's screen,
// carry typed keys to the guest, follow the session across migrations on its own, and move it from the
// dashboard. The guest's heartbeat seq is read off the canvas (the probe draws it as a strip of
// black/white cells, guest/README.md), so "the counters advance" is checked from pixels, not from logs.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { Household, ROAM_ENTRY, stopProcess, until } from '../node/demo/household.js';
import { launchChromium, requireChromium } from './support/browser.js';
import { requireKvm } from './support/kvm.js';
import { requireNetns } from './support/netns.js';
import { decodeSeqStrip, SEQ_STRIP, SEQ_STRIP_HEIGHT, SEQ_STRIP_WIDTH } from './support/seq-strip.js';

const VM = 'session';
/** The probe's typed-text panel (guest/src/desktop.c KB_PANEL_Y, KB_PANEL_H): typed keys change it. */
const TEXT_PANEL = { x: 0, y: 232, w: 1024, h: 120 };

type VmView = { name: string; state: string };

/** RGBA pixels of a rectangle of the page's screen canvas (its own 1024x768 resolution). */
async function canvasPixels(page: Page, r: { x: number; y: number; w: number; h: number }): Promise<Uint8Array> {
  // Runs in the page (this project's TypeScript has no DOM library, so the page-side code is a string).
  const bytes = await page.evaluate<number[]>(`(() => {
    const c = document.querySelector('canvas#screen');
    if (!c) throw new Error('no canvas#screen');
    return Array.from(c.getContext('2d').getImageData(${r.x}, ${r.y}, ${r.w}, ${r.h}).data);
  })()`);
  return Uint8Array.from(bytes);
}

/** The guest's heartbeat seq as the canvas shows it, or null while the strip is not (yet) there. */
async function seqOnScreen(page: Page): Promise<number | null> {
  const px = await canvasPixels(page, { x: SEQ_STRIP.x, y: SEQ_STRIP.y, w: SEQ_STRIP_WIDTH, h: SEQ_STRIP_HEIGHT });
  return decodeSeqStrip(px, SEQ_STRIP_WIDTH, 0, 0, 4, 'rgba');
}

/** The seq the screen shows once it is larger than `after` (the page is live and the guest is running). */
const seqAbove = (page: Page, after: number, what: string) =>
  until(what, 60_000, async () => { const s = await seqOnScreen(page); return s !== null && s > after ? s : null; });

describe('the session in Chromium (three namespaced machines, the browser on laptop)', function () {
  this.timeout(240_000);
  let root = '';
  let house: Household | undefined;
  let browser: Browser | undefined;
  let page: Page;
  const consoles: ChildProcess[] = [];

  /** Follows a machine's console of the VM; resolves the text so far on demand. */
  function followConsole(machine: string): () => string {
    const con = spawn(process.execPath, [ROAM_ENTRY, 'console', VM, '--state', house!.stateDir(machine)], { stdio: ['ignore', 'pipe', 'ignore'] });
    consoles.push(con);
    let out = '';
    con.stdout!.on('data', (d) => { out += d; });
    return () => out;
  }

  const where = (): string | undefined => ['basement', 'imac', 'laptop'].find((m) =>
    house!.roamJson<VmView[]>(m, 'ps').some((v) => v.name === VM && v.state === 'running'));

  before(async function () {
    requireKvm(this);
    requireNetns(this);
    requireChromium(this);
    root = mkdtempSync(join(tmpdir(), 'roam-web-browser-'));
    house = new Household(root, [
      { name: 'basement', role: 'server' }, { name: 'imac', role: 'desktop' }, { name: 'laptop', role: 'laptop' },
    ], { net: 86, prefix: 'roam-wb-' });
    await house.start();
    house.formHousehold('web');
    await house.waitUntilAllSeeEachOther();
    const r = house.roam('basement', 'run', 'probe', '--name', VM, '--mem', '128M', '--ws', '4M', '--rate', '4M');
    assert.equal(r.code, 0, r.err);
    browser = await launchChromium(root, house.lan.ns('laptop'));
    page = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
  });

  after(async () => {
    for (const c of consoles) await stopProcess(c);
    await browser?.close().catch(() => undefined);
    await house?.stop();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('a browser without the sign-in link gets nothing, not the page, the screen or the household', async () => {
    const url = new URL(house!.roamJson<{ url: string }>('laptop', 'view', VM, '--no-open').url);
    const stranger = await browser!.newContext();
    try {
      const p = await stranger.newPage();
      // Everything is asked for from inside the browser (it sits on laptop; this process cannot reach laptop's localhost).
      for (const path of ['/', `/view/${VM}`, '/api/household', '/api/events']) {
        const res = await p.goto(new URL(path, url.origin).href);
        assert.equal(res?.status(), 401, `${path} without a session`);
        assert.doesNotMatch(await res!.text(), /basement|imac|session/, `${path} leaks nothing`);
      }
      // A forged token does not sign in either.
      const forged = new URL(url.href);
      forged.searchParams.set('token', `${url.searchParams.get('token')!.slice(0, -4)}AAAA`);
      const res = await p.goto(forged.href);
      assert.equal(res?.status(), 401);
      // The screen's WebSocket, from a page of the server's own origin but without a session: refused, no data.
      await p.goto(url.origin);
      const ws = await p.evaluate<{ opened: boolean; messages: number }>(`new Promise((resolve) => {
        const sock = new WebSocket(${JSON.stringify(`ws://${url.host}/ws/screen/${VM}`)});
        let opened = false, messages = 0;
        sock.onopen = () => { opened = true; };
        sock.onmessage = () => { messages++; };
        sock.onclose = () => resolve({ opened, messages });
      })`);
      assert.deepEqual(ws, { opened: false, messages: 0 });
    } finally {
      await stranger.close();
    }
  });

  it('shows the probe\'s screen and its counters; keys typed into the page reach the guest\'s screen and serial', async () => {
    const { url } = house!.roamJson<{ url: string }>('laptop', 'view', VM, '--no-open');
    await page.goto(url);
    await until('the page to say the session is live on basement', 60_000, async () =>
      /live on basement/.test(await page.locator('#screen-state').innerText()));
    const first = await seqAbove(page, 0, 'the heartbeat strip on the canvas');
    await seqAbove(page, first, 'the counters on the canvas to advance');

    const serial = followConsole('basement');
    const before = await canvasPixels(page, TEXT_PANEL);
    await page.locator('canvas#screen').click();
    await page.keyboard.type('roam');
    // In order, with heartbeat lines possibly between them (the guest reads input once a frame).
    await until('KEY lines for "roam" on the guest\'s serial', 30_000, async () =>
      /^KEY r\r?$[^]*^KEY o\r?$[^]*^KEY a\r?$[^]*^KEY m\r?$/m.test(serial()))
      .catch((e: Error) => { throw new Error(`${e.message}; serial so far ends with:\n${serial().slice(-600)}`); });
    await until('the typed text to appear on the canvas', 30_000, async () => {
      const now = await canvasPixels(page, TEXT_PANEL);
      return Buffer.compare(Buffer.from(now), Buffer.from(before)) !== 0;
    });
    writeFileSync(join(root, 'typed.png'), await page.locator('canvas#screen').screenshot());
  });

  it('follows the session across two migrations in a row and the screen resumes with the counters advancing', async () => {
    const start = where();
    assert.ok(start, 'the session runs somewhere');
    const [second, third] = ['basement', 'imac', 'laptop'].filter((m) => m !== start);
    const legs: [string, string][] = [[start, second!], [second!, third!]];
    let seq = await seqAbove(page, 0, 'the screen before the first migration');
    for (const [from, to] of legs) {
      const sent = house!.roam(from, 'send', VM, to);
      assert.equal(sent.code, 0, `roam send ${VM} ${to} on ${from}: ${sent.err}`);
      await until(`the viewer to follow the session to ${to}`, 60_000, async () =>
        new RegExp(`live on ${to}`).test(await page.locator('#screen-state').innerText()));
      const after = await seqAbove(page, seq, `the counters to advance on the screen after the move to ${to}`);
      assert.ok(after > seq);
      writeFileSync(join(root, `after-${to}.png`), await page.locator('canvas#screen').screenshot());
      seq = after;
    }
  });

  it('the dashboard lists the three machines and where the session runs, and "send to imac" moves it', async () => {
    const here = where();
    assert.ok(here, 'the session runs somewhere');
    for (const m of ['basement', 'imac', 'laptop']) {
      await page.locator(`[data-machine="${m}"]`).waitFor({ timeout: 30_000 });
      assert.match(await page.locator(`[data-machine="${m}"]`).innerText(), m === 'basement' ? /server/ : m === 'imac' ? /desktop/ : /laptop/);
    }
    const row = page.locator(`[data-session="${VM}"]`);
    await until(`the dashboard to place the session on ${here}`, 30_000, async () =>
      (await row.getAttribute('data-host')) === here);
    const target = here === 'imac' ? 'basement' : 'imac';
    const seq = await seqAbove(page, 0, 'the screen before the click');
    await row.locator(`button[data-send-to="${target}"]`).click();
    await until(`the session to run on ${target}`, 90_000, async () => where() === target);
    await until(`the dashboard to place the session on ${target}`, 30_000, async () =>
      (await row.getAttribute('data-host')) === target);
    await until(`the viewer to follow to ${target}`, 60_000, async () =>
      new RegExp(`live on ${target}`).test(await page.locator('#screen-state').innerText()));
    await seqAbove(page, seq, 'the counters to advance after the dashboard\'s send');
  });
});
