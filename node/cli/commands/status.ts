// `roam status`: this machine's roamd at a glance.
import type { Command } from '../command.js';
import { COMMON_USAGE, ask, parseCommand, printJson } from '../../agent/cli-support.js';
import { formatSize } from '../../common/units.js';

interface LidView {
  source: 'logind' | 'acpi' | 'none'; bus?: string; dir?: string; why?: string; lid?: string; inhibitor?: string; lastSleep?: string | null;
  budgetMs: number; handoffRunning: boolean;
  handoff: { trigger: string; summary: string; vms: { vm: string; outcome: string; to: string | null; why: string }[] } | null;
  parked: { vm: string; savedAt: string; why: string }[];
}

/** The lid lines: where lid events come from (logind, the ACPI fallback, or nothing and why), the last hand-off, VMs on disk. */
export function describeLid(l: LidView | null): string[] {
  if (!l) return [];
  const out: string[] = [];
  const budget = `hand-off budget ${l.budgetMs / 1000} s`;
  if (l.source === 'logind') out.push(`lid: logind on ${l.bus}, lid ${l.lid}, inhibitor ${l.inhibitor}; ${budget}`);
  else if (l.source === 'acpi') out.push(`lid: ACPI fallback (${l.dir}), lid ${l.lid}; ${l.inhibitor}; ${budget}`);
  else out.push(`lid: not watched (${l.why})`);
  if (l.handoffRunning) out.push('hand-off: running now');
  if (l.handoff) {
    out.push(`last hand-off (${l.handoff.trigger}): ${l.handoff.summary}${l.lastSleep ? `; then ${l.lastSleep}` : ''}`);
    for (const v of l.handoff.vms) out.push(`  VM '${v.vm}': ${v.outcome}${v.to ? ` to ${v.to}` : ''} (${v.why})`);
  }
  for (const p of l.parked) out.push(`saved to disk: VM '${p.vm}' since ${p.savedAt} (${p.why}); it resumes when the lid opens or roamd starts`);
  return out;
}

export const status: Command = {
  name: 'status',
  summary: 'show this machine\'s roamd: name, household, addresses, VMs',
  usage: `usage: roam status [--json] [--state DIR]\n\n${COMMON_USAGE}`,
  async run(argv) {
    const { json, state } = parseCommand(argv, {}, { min: 0, max: 0, what: '' });
    const s = await ask(state, 'status') as {
      name: string; role: string; peerId: string; pid: number; household: { name: string; members: number } | null;
      addrs: string[]; vms: number; migration: string; record: { memory: { freeBytes: number }; power: { source: string } };
      lid?: LidView | null; web?: { url: string | null; port?: number; problem?: string };
    };
    if (json) { printJson(s); return 0; }
    console.log(`roamd '${s.name}' (${s.role}), pid ${s.pid}, peer ${s.peerId}`);
    console.log(s.household ? `household '${s.household.name}', ${s.household.members} other member(s) known` : 'no household yet: `roam init --name <household>` or `roam join <code>`');
    console.log(`VMs: ${s.vms}; free memory ${formatSize(s.record.memory.freeBytes)}; power ${s.record.power.source}; live migration ${s.migration}`);
    for (const line of describeLid(s.lid ?? null)) console.log(line);
    if (s.web) console.log(s.web.url ? `web page: ${s.web.url}/ (\`roam view\` prints a sign-in link)` : `web page: none (${s.web.problem})`);
    for (const a of s.addrs) console.log(`  listening ${a}`);
    return 0;
  },
};
