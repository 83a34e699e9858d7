// A member's record: what other household machines need to know to choose
// where a session should go. Read from this machine (/proc, /sys) and checked
// field by field when it comes from the network.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { freemem, totalmem } from 'node:os';
import { join } from 'node:path';

export type Role = 'server' | 'desktop' | 'laptop';
export const ROLES: readonly Role[] = ['server', 'desktop', 'laptop'];

export interface RecordVm { name: string; state: string; memBytes: number }

export interface MachineRecord {
  name: string;
  role: Role;
  cpu: { vendor: string; flags: string[] };
  memory: { freeBytes: number; totalBytes: number };
  power: { source: 'ac' | 'battery'; batteryPercent: number | null };
  lid: 'open' | 'closed' | null;
  vms: RecordVm[];
  /** Milliseconds since the epoch on the publishing machine. */
  updatedAt: number;
}

/** CPU vendor and feature flags of the first processor in /proc/cpuinfo. */
export function readCpu(cpuinfo = '/proc/cpuinfo'): { vendor: string; flags: string[] } {
  let text = '';
  try { text = readFileSync(cpuinfo, 'utf8'); } catch { return { vendor: 'unknown', flags: [] }; }
  const first = text.split(/\n\s*\n/)[0] ?? '';
  const field = (k: string) => new RegExp(`^${k}\\s*:\\s*(.*)$`, 'm').exec(first)?.[1]?.trim();
  return { vendor: field('vendor_id') ?? 'unknown', flags: (field('flags') ?? '').split(/\s+/).filter(Boolean) };
}

/** MemAvailable (what a new VM could get), falling back to os.freemem(). */
export function readMemory(meminfo = '/proc/meminfo'): { freeBytes: number; totalBytes: number } {
  try {
    const m = /^MemAvailable:\s+(\d+) kB$/m.exec(readFileSync(meminfo, 'utf8'));
    if (m) return { freeBytes: Number(m[1]) * 1024, totalBytes: totalmem() };
  } catch { /* fall through */ }
  return { freeBytes: freemem(), totalBytes: totalmem() };
}

const readTrim = (p: string) => { try { return readFileSync(p, 'utf8').trim(); } catch { return undefined; } };

/** AC or battery from /sys/class/power_supply; a machine with no battery (or a desktop/server) is on AC. */
export function readPower(role: Role, dir = '/sys/class/power_supply'): MachineRecord['power'] {
  if (role !== 'laptop' || !existsSync(dir)) return { source: 'ac', batteryPercent: null };
  let mainsOnline = false; let battery: number | null = null; let sawMains = false; let discharging = false;
  for (const s of readdirSync(dir)) {
    const type = readTrim(join(dir, s, 'type'));
    if (type === 'Mains' || type === 'USB') { sawMains = true; if (readTrim(join(dir, s, 'online')) === '1') mainsOnline = true; }
    if (type === 'Battery') {
      const c = Number(readTrim(join(dir, s, 'capacity')));
      if (Number.isFinite(c)) battery = c;
      if (readTrim(join(dir, s, 'status')) === 'Discharging') discharging = true;
    }
  }
  if (battery === null) return { source: 'ac', batteryPercent: null };
  const onAc = sawMains ? mainsOnline : !discharging;
  return { source: onAc ? 'ac' : 'battery', batteryPercent: battery };
}

/** Lid state from /proc/acpi/button/lid/<x>/state ("state:      open"), null when there is no lid. */
export function readLid(dir = '/proc/acpi/button/lid'): 'open' | 'closed' | null {
  try {
    for (const l of readdirSync(dir)) {
      const m = /state:\s*(open|closed)/.exec(readTrim(join(dir, l, 'state')) ?? '');
      if (m) return m[1] as 'open' | 'closed';
    }
  } catch { /* no lid */ }
  return null;
}

export function collectRecord(name: string, role: Role, vms: RecordVm[]): MachineRecord {
  return {
    name, role, cpu: readCpu(), memory: readMemory(), power: readPower(role), lid: readLid(), vms, updatedAt: Date.now(),
  };
}

/** A record received from a peer, checked and bounded; throws naming the bad field. */
export function parseRecord(v: unknown): MachineRecord {
  const o = v as Record<string, unknown>;
  const fail = (f: string) => { throw new Error(`peer record: bad or missing '${f}'`); };
  if (!o || typeof o !== 'object') fail('record');
  const s = (x: unknown, max: number): x is string => typeof x === 'string' && x.length <= max;
  const n = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x) && x >= 0;
  if (!s(o.name, 64) || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(o.name)) fail('name');
  if (!ROLES.includes(o.role as Role)) fail('role');
  const cpu = o.cpu as Record<string, unknown>;
  if (!cpu || !s(cpu.vendor, 64) || !Array.isArray(cpu.flags) || cpu.flags.length > 512 || !cpu.flags.every((f) => s(f, 64))) fail('cpu');
  const mem = o.memory as Record<string, unknown>;
  if (!mem || !n(mem.freeBytes) || !n(mem.totalBytes)) fail('memory');
  const p = o.power as Record<string, unknown>;
  if (!p || (p.source !== 'ac' && p.source !== 'battery') || !(p.batteryPercent === null || n(p.batteryPercent))) fail('power');
  if (!(o.lid === null || o.lid === 'open' || o.lid === 'closed')) fail('lid');
  if (!Array.isArray(o.vms) || o.vms.length > 256) fail('vms');
  const vms = (o.vms as unknown[]).map((x) => {
    const vm = x as Record<string, unknown>;
    if (!vm || !s(vm.name, 64) || !s(vm.state, 32) || !n(vm.memBytes)) fail('vms');
    return { name: vm.name as string, state: vm.state as string, memBytes: vm.memBytes as number };
  });
  if (!n(o.updatedAt)) fail('updatedAt');
  return {
    name: o.name as string, role: o.role as Role,
    cpu: { vendor: cpu.vendor as string, flags: [...(cpu.flags as string[])] },
    memory: { freeBytes: mem.freeBytes as number, totalBytes: mem.totalBytes as number },
    power: { source: p.source as 'ac' | 'battery', batteryPercent: p.batteryPercent as number | null },
    lid: o.lid as MachineRecord['lid'], vms, updatedAt: o.updatedAt as number,
  };
}

/** Whether two records differ in anything but their timestamp and momentary free memory jitter. */
export function recordChanged(a: MachineRecord | undefined, b: MachineRecord): boolean {
  if (!a) return true;
  const strip = (r: MachineRecord) => JSON.stringify({ ...r, updatedAt: 0, memory: { ...r.memory, freeBytes: Math.round(r.memory.freeBytes / (64 << 20)) } });
  return strip(a) !== strip(b);
}
