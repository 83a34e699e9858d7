// The household as the dashboard shows it: every member machine with its role,
// power, lid and whether it is online, and every session (VM) with the member
// it runs on. Built from this machine's own record and VMs plus the peer
// directory (members' records arrive by the membership exchange).
import type { MachineRecord, PeerEntry } from '../../discovery/index.js';
import type { MigrationView } from './migration-board.js';

export interface MachineView {
  name: string;
  self: boolean;
  role: string;
  power: 'ac' | 'battery' | 'unknown';
  batteryPercent: number | null;
  lid: 'open' | 'closed' | null;
  presence: 'online' | 'stale' | 'offline';
  online: boolean;
}

export interface SessionView { vm: string; host: string; state: string; memBytes: number }

export interface HouseholdView {
  self: string;
  household: string | null;
  machines: MachineView[];
  sessions: SessionView[];
  migrations: MigrationView[];
}

export interface LocalVm { name: string; state: string; memBytes: number }

function machine(name: string, self: boolean, record: MachineRecord | null, presence: MachineView['presence']): MachineView {
  return {
    name, self, role: record?.role ?? 'unknown', power: record?.power.source ?? 'unknown', batteryPercent: record?.power.batteryPercent ?? null,
    lid: record?.lid ?? null, presence, online: presence === 'online',
  };
}

/** A VM that is listed twice (on its way from one member to another) counts where it runs. */
const RANK: Record<string, number> = { running: 3, paused: 2, starting: 1 };

export function householdView(self: MachineRecord, household: string | null, localVms: LocalVm[], peers: PeerEntry[],
  migrations: MigrationView[]): HouseholdView {
  const machines = [machine(self.name, true, self, 'online')];
  const sessions = new Map<string, SessionView>();
  const add = (s: SessionView) => {
    const had = sessions.get(s.vm);
    if (!had || (RANK[s.state] ?? 0) > (RANK[had.state] ?? 0)) sessions.set(s.vm, s);
  };
  for (const v of localVms) add({ vm: v.name, host: self.name, state: v.state, memBytes: v.memBytes });
  for (const p of peers) {
    if (p.trust !== 'member') continue;
    const name = p.record?.name ?? p.name ?? p.peerId;
    machines.push(machine(name, false, p.record, p.presence));
    // An offline member's last record may list VMs that have since moved: only what online members say counts.
    if (p.presence === 'offline') continue;
    for (const v of p.record?.vms ?? []) add({ vm: v.name, host: name, state: v.state, memBytes: v.memBytes });
  }
  machines.sort((a, b) => (a.self === b.self ? a.name.localeCompare(b.name) : a.self ? -1 : 1));
  return { self: self.name, household, machines, sessions: [...sessions.values()].sort((a, b) => a.vm.localeCompare(b.vm)), migrations };
}
