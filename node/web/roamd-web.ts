// The web server inside roamd: where it listens (config `web.listen`, flag
// `roam daemon --web`), the household and screens it shows, and "send to …":
// a VM running here goes by the same path as `roam send`; a VM running on
// another member is sent by that member, asked over /roam/send/1.0.0.
import type { Stream } from '@libp2p/interface';
import type { Roamd } from '../agent/daemon.js';
import { checkSend, runSend } from '../agent/control-ops.js';
import { NEWS_PROTOCOL, SEND_PROTOCOL } from '../agent/protocols.js';
import { NewsPublisher } from './news-publisher.js';
import { householdViewerKey, localViewerKey } from './viewer-token.js';
import { householdView, type HouseholdView } from './household-view.js';
import { WebServer, type WebBackend } from './server.js';
import { answerSend, askToSend } from './remote-send.js';
import { join } from 'node:path';
import { DEFAULT_WEB_LISTEN, parseWebListen } from './listen.js';

function viewerKey(r: Roamd): Buffer {
  const secret = r.household.secret, id = r.household.id;
  return secret && id ? householdViewerKey(secret, id) : localViewerKey(join(r.paths.state, 'viewer.key'));
}

export function roamdHousehold(r: Roamd): HouseholdView {
  return householdView(r.currentRecord(), r.household.name ?? null, r.vms.list(), r.directory.list(), r.migrations.list());
}

/** Starts "send `vm` to `to`" from the page; resolves once it is under way (progress and outcome go to the board). */
async function sendFromPage(r: Roamd, vm: string, to: string): Promise<void> {
  const self = r.config.name;
  if (r.migrations.activeFor(vm)) throw new Error(`'${vm}' is already moving`);
  if (r.vms.get(vm)) {
    if (to === self) throw new Error(`'${vm}' already runs on ${self}`);
    const checked = checkSend(r, vm, to);
    // Runs on: the board shows its progress and how it ended.
    void runSend(r, checked).catch((e: Error) => r.log(`web: sending '${vm}' to ${to} failed: ${e.message}`));
    return;
  }
  const where = roamdHousehold(r).sessions.find((s) => s.vm === vm);
  if (!where) throw new Error(`no VM named '${vm}' runs in the household`);
  if (where.host === to) throw new Error(`'${vm}' already runs on ${to}`);
  const host = r.directory.list().find((e) => e.trust === 'member' && (e.record?.name ?? e.name) === where.host);
  if (!host || host.presence === 'offline') throw new Error(`${where.host}, where '${vm}' runs, is not reachable`);
  const track = r.migrations.begin(vm, where.host, to, self);
  void (async () => {
    try {
      const stream = await r.dialPeer(host.peerId, SEND_PROTOCOL);
      const out = await askToSend(stream as never, vm, to, (p) => track.progress(p), track.view.id);
      track.done({ ...out });
    } catch (e) {
      track.failed(e);
      r.log(`web: asking ${where.host} to send '${vm}' to ${to} failed: ${(e as Error).message}`);
    }
  })();
}

/** Serves a member's /roam/send request (roamd checked membership first): the same path as `roam send` here. */
export async function answerSendRequest(r: Roamd, stream: Stream, from: string): Promise<void> {
  await answerSend(stream as never, async (vm, to, onProgress, id) => {
    r.log(`${from} asks to send VM '${vm}' to ${to}`);
    if (to === r.config.name) throw new Error(`'${vm}' already runs on ${to}`);
    return await runSend(r, checkSend(r, vm, to), { onProgress, track: { via: from, ...(id ? { id } : {}) } });
  });
}

export function roamdBackend(r: Roamd): WebBackend {
  return {
    viewerKey: () => viewerKey(r),
    household: () => roamdHousehold(r),
    screens: () => r.screens,
    send: (vm, to) => sendFromPage(r, vm, to),
    board: r.migrations,
    log: (l) => r.log(l),
  };
}

/** Starts the web server as configured; a server that cannot start leaves roamd running and says why. */
export async function openWeb(r: Roamd, listen: string | undefined): Promise<{ web: WebServer | undefined; problem: string }> {
  let addr;
  try { addr = parseWebListen(listen ?? DEFAULT_WEB_LISTEN); } catch (e) { return { web: undefined, problem: (e as Error).message }; }
  if (!addr) return { web: undefined, problem: 'the web page is off (web.listen is "off")' };
  try {
    const web = await WebServer.start(roamdBackend(r), addr);
    return { web, problem: '' };
  } catch (e) {
    return { web: undefined, problem: `could not listen on ${addr.host}:${addr.port} (${(e as Error).message})` };
  }
}

/** Starts telling the other online members about every migration this roamd sends (/roam/migrations/1.0.0). */
export function startNews(r: Roamd): NewsPublisher {
  return new NewsPublisher(r.migrations, {
    self: () => r.config.name,
    members: () => r.directory.list()
      .filter((e) => e.trust === 'member' && e.presence !== 'offline' && r.isMember(e.peerId)).map((e) => e.peerId),
    dial: async (peerId) => (await r.dialPeer(peerId, NEWS_PROTOCOL)) as never,
  });
}
