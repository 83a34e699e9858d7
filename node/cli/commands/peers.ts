// `roam peers`: the machines this roamd knows: household members (with their
// records) and untrusted machines it discovered.
import type { Command } from '../command.js';
import { COMMON_USAGE, ago, ask, parseCommand, printJson, table } from '../../agent/cli-support.js';
import { formatSize } from '../../common/units.js';

interface PeerView {
  name: string | null; peerId: string; trust: string; presence: string; lastSeen: string | null; note: string | null;
  record: { role: string; power: { source: string; batteryPercent: number | null }; memory: { freeBytes: number }; vms: { name: string }[]; lid: string | null } | null;
}

export const peers: Command = {
  name: 'peers',
  summary: 'list household members and other machines roamd discovered',
  usage: `usage: roam peers [--json] [--state DIR]\n\nTRUST is 'member' (proved household membership), 'untrusted' (refused) or\n'unverified' (seen by mDNS, not checked yet). PRESENCE is online, stale or offline.\n\n${COMMON_USAGE}`,
  async run(argv) {
    const { json, state } = parseCommand(argv, {}, { min: 0, max: 0, what: '' });
    const list = await ask(state, 'peers') as PeerView[];
    if (json) { printJson(list); return 0; }
    if (list.length === 0) { console.log('no peers known yet (mDNS finds machines on this LAN within seconds)'); return 0; }
    const rows = [['NAME', 'TRUST', 'PRESENCE', 'ROLE', 'POWER', 'FREE MEM', 'VMS', 'SEEN', 'PEER ID']];
    for (const p of list) {
      const r = p.record;
      rows.push([
        p.name ?? '-', p.trust, p.presence, r?.role ?? '-',
        r ? (r.power.source === 'battery' ? `battery ${r.power.batteryPercent ?? '?'}%` : 'AC') : '-',
        r ? formatSize(r.memory.freeBytes) : '-', r ? String(r.vms.length) : '-', ago(p.lastSeen), p.peerId,
      ]);
    }
    console.log(table(rows));
    return 0;
  },
};
