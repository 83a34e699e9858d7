// `roam status`: this machine's roamd at a glance.
import type { Command } from '../command.js';
import { COMMON_USAGE, ask, parseCommand, printJson } from '../../agent/cli-support.js';
import { formatSize } from '../../common/units.js';

export const status: Command = {
  name: 'status',
  summary: 'show this machine\'s roamd: name, household, addresses, VMs',
  usage: `usage: roam status [--json] [--state DIR]\n\n${COMMON_USAGE}`,
  async run(argv) {
    const { json, state } = parseCommand(argv, {}, { min: 0, max: 0, what: '' });
    const s = await ask(state, 'status') as {
      name: string; role: string; peerId: string; pid: number; household: { name: string; members: number } | null;
      addrs: string[]; vms: number; migration: string; record: { memory: { freeBytes: number }; power: { source: string } };
    };
    if (json) { printJson(s); return 0; }
    console.log(`roamd '${s.name}' (${s.role}), pid ${s.pid}, peer ${s.peerId}`);
    console.log(s.household ? `household '${s.household.name}', ${s.household.members} other member(s) known` : 'no household yet: `roam init --name <household>` or `roam join <code>`');
    console.log(`VMs: ${s.vms}; free memory ${formatSize(s.record.memory.freeBytes)}; power ${s.record.power.source}; live migration ${s.migration}`);
    for (const a of s.addrs) console.log(`  listening ${a}`);
    return 0;
  },
};
