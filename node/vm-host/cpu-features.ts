// The CPU features a migrating VM's spec names: the instruction-set flags of this host's
// /proc/cpuinfo that a guest can use. Only ISA flags count: a host-only flag (bug
// mitigations, "hypervisor", TSC quirks) differing between two machines must not make
// the destination refuse a VM it can run.
import { readFileSync } from 'node:fs';

/** Instruction-set extensions as /proc/cpuinfo names them (the guest-visible ones that matter for code). */
export const ISA_FLAGS: readonly string[] = [
  'fpu', 'tsc', 'cx8', 'cmov', 'mmx', 'fxsr', 'sse', 'sse2', 'syscall', 'nx', 'lm', 'pdpe1gb', 'rdtscp',
  'pni', 'pclmulqdq', 'ssse3', 'fma', 'cx16', 'sse4_1', 'sse4_2', 'movbe', 'popcnt', 'aes', 'xsave', 'avx',
  'f16c', 'rdrand', 'lahf_lm', 'abm', 'fsgsbase', 'bmi1', 'avx2', 'bmi2', 'erms', 'invpcid', 'avx512f',
  'avx512dq', 'rdseed', 'adx', 'smap', 'smep', 'clflushopt', 'clwb', 'avx512cd', 'avx512bw', 'avx512vl',
  'xsaveopt', 'xsavec', 'xsaves', 'sha_ni', 'avx512_vnni', 'pku', 'umip', 'vaes', 'vpclmulqdq', 'gfni',
];

/** The ISA flags present in a /proc/cpuinfo text (those of the first processor). */
export function isaFlagsOf(cpuinfo: string): string[] {
  const line = /^flags\s*:\s*(.*)$/m.exec(cpuinfo);
  if (!line) return [];
  const have = new Set(line[1]!.trim().split(/\s+/));
  return ISA_FLAGS.filter((f) => have.has(f));
}

let cached: string[] | undefined;
/** This host's ISA flags (read once). */
export function hostCpuFeatures(): string[] {
  if (!cached) {
    try { cached = isaFlagsOf(readFileSync('/proc/cpuinfo', 'utf8')); } catch { cached = []; }
  }
  return [...cached];
}
