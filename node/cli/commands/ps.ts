// `roam ps`: the VMs this machine's roamd runs (and ones that crashed).
import type { Command } from '../command.js';
import { COMMON_USAGE, ask, parseCommand, printJson, table } from '../../agent/cli-support.js';
import { formatSize } from '../../common/units.js';

interface VmView { name: string; state: string; pid: number; memBytes: number; guest: string; message: string | null; lastHeartbeat: { seq: number; ok: boolean } | null }

export const ps: Command = {
  name: 'ps',
  summary: 'list the VMs roamd runs on this machine',
  usage: `usage: roam ps [--json] [--state DIR]\n\n${COMMON_USAGE}`,
  async run(argv) {
    const { json, state } = parseCommand(argv, {}, { min: 0, max: 0, what: '' });
    const list = await ask(state, 'ps') as VmView[];
    if (json) { printJson(list); return 0; }
    if (list.length === 0) { console.log('no VMs on this machine (start one with `roam run probe`)'); return 0; }
    const rows = [['NAME', 'STATE', 'PID', 'MEM', 'HEARTBEAT', 'GUEST']];
    for (const v of list) {
      const hb = v.lastHeartbeat ? `#${v.lastHeartbeat.seq} ${v.lastHeartbeat.ok ? 'ok' : 'CORRUPT'}` : '-';
      rows.push([v.name, v.state, String(v.pid), formatSize(v.memBytes), hb, v.message ? `${v.guest} (${v.message})` : v.guest]);
    }
    console.log(table(rows));
    return 0;
  },
};
