// `roam forget <peer>`: remove a member; this machine refuses it from then on.
import type { Command } from '../command.js';
import { COMMON_USAGE, ask, parseCommand, printJson } from '../../agent/cli-support.js';

export const forget: Command = {
  name: 'forget',
  summary: 'remove a machine from the household (it is refused from then on)',
  usage: `usage: roam forget <peer> [--json] [--state DIR]\n\n<peer> is a machine name or a peer id from \`roam peers\`.\n\n${COMMON_USAGE}`,
  async run(argv) {
    const { positionals, json, state } = parseCommand(argv, {}, { min: 1, max: 1, what: 'the machine to forget (see `roam peers`)' });
    const r = await ask(state, 'forget', { peer: positionals[0] }) as { forgotten: string; peerId: string };
    if (json) printJson(r); else console.log(`forgot '${r.forgotten}' (${r.peerId}); it is refused from now on`);
    return 0;
  },
};
