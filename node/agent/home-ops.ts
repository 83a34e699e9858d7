// The control-socket ops of the home store (`roam home …` while roamd runs).
// Every argument is checked here: anything that can open the socket may send anything.
import { resolve } from 'node:path';
import type { ControlPeer, ControlRequest } from './control-server.js';
import type { Roamd } from './daemon.js';
import type { HomeService } from './home-service.js';

export const HOME_OPS = ['home-status', 'home-snapshot', 'home-verify', 'home-gc', 'home-restore', 'home-sync', 'home-follow'] as const;

export function isHomeOp(op: string): boolean { return (HOME_OPS as readonly string[]).includes(op); }

function optPath(req: ControlRequest, key: string): string | undefined {
  const v = req[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || !v.startsWith('/') || v.length > 4096) throw new Error(`'${key}' must be an absolute path of at most 4096 characters`);
  return resolve(v);
}

/** Progress events at most every 100 ms, except that a new phase always goes out. */
function throttled(peer: ControlPeer): (ev: Record<string, unknown>) => void {
  let last = 0;
  let phase: unknown;
  return (ev) => {
    const now = Date.now();
    if (now - last < 100 && ev.phase === phase) return;
    last = now; phase = ev.phase;
    peer.send({ event: 'progress', ...ev });
  };
}

export async function homeOp(r: Roamd, req: ControlRequest, peer: ControlPeer): Promise<unknown> {
  const home: HomeService | undefined = r.home;
  if (!home) throw new Error(r.homeProblem);
  // A client that names a home tree must mean this roamd's: never act on the wrong tree.
  const dir = optPath(req, 'dir');
  if (dir !== undefined && dir !== home.dir) {
    throw new Error(`this roamd's home is ${home.dir}, not ${dir}; drop --dir, or talk to the roamd that keeps ${dir} (--state)`);
  }
  const progress = throttled(peer);
  switch (req.op) {
    case 'home-status':
      return await home.status();
    case 'home-snapshot': {
      const s = await home.snapshot((st) => progress({ ...st }));
      return { id: s.id, record: s.record, stats: s.stats, dir: home.dir };
    }
    case 'home-verify':
      return await home.verify((done, total) => progress({ done, total }));
    case 'home-gc': {
      const keep = req.keep;
      if (keep !== undefined && (typeof keep !== 'number' || !Number.isSafeInteger(keep) || keep < 1)) throw new Error('keep must be a whole number of snapshots ≥ 1');
      return await home.gc(keep as number | undefined, (done, total) => progress({ done, total }));
    }
    case 'home-restore': {
      const snap = req.snapshot;
      if (snap !== undefined && (typeof snap !== 'string' || snap.length > 200)) throw new Error('snapshot must be a snapshot id');
      if (req.delete !== undefined && typeof req.delete !== 'boolean') throw new Error('delete must be true or false');
      return await home.restore(snap as string | undefined, optPath(req, 'to'), req.delete === true, (s) => progress({ ...s, skipped: s.skipped.length }));
    }
    case 'home-sync': {
      const target = req.peer;
      if (typeof target !== 'string' || target.length === 0 || target.length > 200) throw new Error("'peer' must be a machine name or peer id");
      return await home.bringPeerUpToDate(target, (p) => progress({ ...p }));
    }
    case 'home-follow': {
      if (typeof req.on !== 'boolean') throw new Error("'on' must be true or false");
      return { follow: await home.setFollow(req.on), server: home.serverName() };
    }
    default:
      throw new Error(`unknown home op '${String(req.op).slice(0, 64)}'`);
  }
}
