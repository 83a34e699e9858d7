// `roam send <vm> <peer>`: live-migrate a running VM to another household machine.
import type { Command } from '../command.js';
import { COMMON_USAGE, ask, parseCommand, printJson } from '../../agent/cli-support.js';
import { ProgressDisplay } from '../progress.js';
import { formatSize } from '../../common/units.js';

interface SendResult {
  vm: string; to: string; totalMs: number; downtimeMs: number; rounds: number; wireBytes: number;
  memoryBytes: number; zeroBytesSaved: number; compressionRatio: number; maxThrottle: number; returnTrip: boolean;
  returnTripPagesReused: number;
}

export function describeSend(r: SendResult): string {
  const parts = [
    `sent VM '${r.vm}' to '${r.to}' in ${(r.totalMs / 1000).toFixed(1)} s`,
    `paused ${r.downtimeMs} ms`,
    `${formatSize(r.wireBytes)} on the wire for ${formatSize(r.memoryBytes)} of memory in ${r.rounds} rounds`,
  ];
  const saved = [];
  if (r.zeroBytesSaved > 0) saved.push(`${formatSize(r.zeroBytesSaved)} of zero pages`);
  if (r.compressionRatio > 1.05) saved.push(`compression ${r.compressionRatio.toFixed(1)}x`);
  if (r.returnTrip) saved.push(`${r.returnTripPagesReused} pages reused from its last visit`);
  if (r.maxThrottle > 0) saved.push(`vCPUs throttled up to ${Math.round(r.maxThrottle * 100)}%`);
  return `${parts.join(', ')}${saved.length ? ` (saved: ${saved.join(', ')})` : ''}`;
}

export const send: Command = {
  name: 'send',
  summary: 'move a running VM to another household machine (live migration)',
  usage: `usage: roam send <vm> <peer> [--json] [--state DIR]

Moves a running VM to another machine of the household while it runs: its
memory is copied in rounds while the guest keeps running, then the VM pauses
for the last pages and its CPU state and resumes on <peer>. If anything fails
before the destination runs it, the VM keeps running here.

<vm> is a VM from \`roam ps\`; <peer> a machine name from \`roam peers\`.
Ctrl-C cancels the send while it copies; the VM keeps running here.
Progress (percent, MB/s, ETA, round) shows on stderr as a bar on a terminal and
as plain lines otherwise. With --json, stdout holds only the result (one JSON
object: times, downtime, bytes, rounds) and each progress event goes to stderr
as one JSON line.

${COMMON_USAGE}`,
  async run(argv) {
    const { positionals, json, state } = parseCommand(argv, {}, { min: 2, max: 2, what: 'the VM and the machine to send it to: `roam send <vm> <peer>`' });
    const display = new ProgressDisplay(process.stderr);
    let r: SendResult;
    try {
      r = await ask(state, 'send', { vm: positionals[0], peer: positionals[1] }, (ev) => {
        if (json) { process.stderr.write(`${JSON.stringify(ev)}\n`); return; }
        if (ev.event !== 'progress') return;
        display.update({
          phase: String(ev.phase), round: Number(ev.round), percent: Number(ev.percent), bytesPerSec: Number(ev.bytesPerSec),
          etaMs: Number(ev.etaMs), note: ev.phase === 'precopy' ? `downtime ~${Math.round(Number(ev.predictedDowntimeMs))} ms` : undefined,
        });
      }) as SendResult;
    } finally {
      display.finish();
    }
    if (json) printJson(r); else console.log(describeSend(r));
    return 0;
  },
};
