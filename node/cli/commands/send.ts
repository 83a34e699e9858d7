// `roam send <vm> <peer>`: live-migrate a running VM to another household machine.
import type { Command } from '../command.js';
import { COMMON_USAGE, ask, parseCommand, printJson } from '../../agent/cli-support.js';

export const send: Command = {
  name: 'send',
  summary: 'move a running VM to another household machine (live migration)',
  usage: `usage: roam send <vm> <peer> [--json] [--state DIR]\n\n<vm> is a VM from \`roam ps\`; <peer> a machine name from \`roam peers\`.\n\n${COMMON_USAGE}`,
  async run(argv) {
    const { positionals, json, state } = parseCommand(argv, {}, { min: 2, max: 2, what: 'the VM and the machine to send it to: `roam send <vm> <peer>`' });
    const r = await ask(state, 'send', { vm: positionals[0], peer: positionals[1] }, (ev) => {
      // Progress from the migration service, one line per update.
      if (json) console.log(JSON.stringify(ev)); else if (ev.event === 'progress') process.stderr.write(`\r${String(ev.phase ?? '')} ${String(ev.message ?? '')}`.slice(0, 120));
    });
    if (!json) process.stderr.write('\n');
    if (json) printJson(r); else console.log(`sent VM '${positionals[0]}' to '${positionals[1]}'`);
    return 0;
  },
};
