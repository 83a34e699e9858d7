// `roam stop <vm>`: stop a VM roamd runs (or clear one that crashed).
import type { Command } from '../command.js';
import { COMMON_USAGE, ask, parseCommand, printJson } from '../../agent/cli-support.js';

export const stop: Command = {
  name: 'stop',
  summary: 'stop a VM (or clear a crashed one)',
  usage: `usage: roam stop <vm> [--json] [--state DIR]\n\n${COMMON_USAGE}`,
  async run(argv) {
    const { positionals, json, state } = parseCommand(argv, {}, { min: 1, max: 1, what: 'the VM to stop (see `roam ps`)' });
    const s = await ask(state, 'stop', { vm: positionals[0] }) as { name: string; message: string | null };
    if (json) printJson(s); else console.log(`stopped VM '${s.name}'`);
    return 0;
  },
};
