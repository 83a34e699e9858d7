// `roam join <code>`: join the household that issued the invite code.
import type { Command } from '../command.js';
import { COMMON_USAGE, ask, parseCommand, printJson } from '../../agent/cli-support.js';

export const join: Command = {
  name: 'join',
  summary: 'join a household with a code from `roam invite`',
  usage: `usage: roam join <code> [--json] [--state DIR]\n\n${COMMON_USAGE}`,
  async run(argv) {
    const { positionals, json, state } = parseCommand(argv, {}, { min: 1, max: 1, what: 'the invite code (run `roam invite` on a household member)' });
    const r = await ask(state, 'join', { code: positionals[0] }) as { household: string; members: string[] };
    if (json) printJson(r); else console.log(`joined household '${r.household}'; members: ${r.members.join(', ')}`);
    return 0;
  },
};
