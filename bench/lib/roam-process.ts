// The probe guest in a roam VM process (node/vm-host): the path the agent
// uses, with the IPC boundary that the figures for boot and images include.
import { probeGuestPath } from '../../guest/index.js';
import { VmProcess } from '../../node/vm-host/index.js';
import { GuestOutput } from './guest-output.js';

export interface ProcessProbe { proc: VmProcess; out: GuestOutput }

/** Spawns a VM process and relays its serial output and death into a GuestOutput. */
export async function spawnProcess(name: string): Promise<ProcessProbe> {
  const proc = await VmProcess.spawn();
  const out = new GuestOutput(name);
  proc.on('serial', (d: Buffer) => out.push(d));
  proc.on('vm-error', (m: string) => out.die(`VM error: ${m}`));
  proc.on('shutdown', () => out.die('VM shutdown'));
  proc.on('exit', (x: { message: string }) => out.die(x.message));
  return { proc, out };
}

/** Spawns a VM process and boots the probe guest in it (does not wait for a heartbeat). */
export async function bootProcess(memBytes: number, cmdline: string, name: string): Promise<ProcessProbe> {
  const p = await spawnProcess(name);
  try {
    await p.proc.request({ op: 'create', memBytes, vcpus: 1, display: false });  // QEMU side: -nodefaults, no VGA
    await p.proc.request({ op: 'loadMultiboot', kernelPath: probeGuestPath(), cmdline });
    await p.proc.request({ op: 'start' });
  } catch (e) {
    await p.proc.kill();
    throw e;
  }
  return p;
}
