// Where a session goes when the lid closes: the configured home server first,
// else the household member on AC power with room for the VM and a CPU that
// offers everything this one does. Pure: it reads the peer directory's
// entries and returns a choice with the reason, so the log and `roam status`
// can say why a machine was (or no machine could be) chosen.
import type { MachineRecord, PeerEntry } from '../../discovery/index.js';

/** Free memory a target must keep beyond the VM itself (its own roamd, page cache). */
export const ROOM_MARGIN_BYTES = 256 * 2 ** 20;

export interface TargetNeeds {
  memBytes: number;
  cpu: MachineRecord['cpu'];
  /** The member to prefer (lid.handoffTo, else home.server); undefined: the member whose role is server. */
  preferred?: string | undefined;
}

export type TargetChoice =
  | { ok: true; peerId: string; name: string; why: string }
  | { ok: false; why: string };

/** Why `e` cannot take the VM now, or undefined when it can. */
export function unfit(e: PeerEntry, needs: TargetNeeds): string | undefined {
  if (e.trust !== 'member') return 'not a household member';
  if (e.presence !== 'online') return `${e.presence}`;
  const r = e.record;
  if (!r) return 'its record is not known yet';
  if (r.lid === 'closed') return 'its lid is closed';
  if (r.memory.freeBytes < needs.memBytes + ROOM_MARGIN_BYTES) return `too little free memory (${Math.floor(r.memory.freeBytes / 2 ** 20)} MiB)`;
  if (r.cpu.vendor !== needs.cpu.vendor) return `another CPU vendor (${r.cpu.vendor}, this machine has ${needs.cpu.vendor})`;
  const theirs = new Set(r.cpu.flags);
  const missing = needs.cpu.flags.filter((f) => !theirs.has(f));
  if (missing.length) return `its CPU lacks ${missing.slice(0, 4).join(', ')}${missing.length > 4 ? ` and ${missing.length - 4} more` : ''}`;
  return undefined;
}

export function chooseTarget(entries: readonly PeerEntry[], needs: TargetNeeds): TargetChoice {
  const rejected: string[] = [];
  const fits: PeerEntry[] = [];
  for (const e of entries) {
    const label = e.name ?? e.peerId;
    const why = unfit(e, needs);
    if (why) { if (e.trust === 'member') rejected.push(`${label}: ${why}`); continue; }
    fits.push(e);
  }
  const isServer = (e: PeerEntry) => (needs.preferred ? e.name === needs.preferred : e.record!.role === 'server');
  const server = fits.find(isServer);
  if (server) {
    const name = server.name ?? server.peerId;
    return { ok: true, peerId: server.peerId, name, why: `${name} is the household's ${needs.preferred ? 'configured hand-off target' : 'server'}` };
  }
  const onAc = fits.filter((e) => e.record!.power.source === 'ac')
    .sort((a, b) => b.record!.memory.freeBytes - a.record!.memory.freeBytes);
  const best = onAc[0];
  if (best) {
    const name = best.name ?? best.peerId;
    const serverNote = needs.preferred ? ` (${needs.preferred} cannot take it)` : '';
    return { ok: true, peerId: best.peerId, name, why: `${name} is on AC power with room and a compatible CPU${serverNote}` };
  }
  const onBattery = fits.map((e) => `${e.name ?? e.peerId}: on battery`);
  const all = [...rejected, ...onBattery];
  return { ok: false, why: all.length ? `no member can take it (${all.join('; ')})` : 'no other household member is known' };
}
