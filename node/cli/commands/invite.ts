// `roam invite`: print a one-time code another machine uses to join this household.
import type { Command } from '../command.js';
import { COMMON_USAGE, ask, parseCommand, printJson } from '../../agent/cli-support.js';

export const invite: Command = {
  name: 'invite',
  summary: 'print a one-time code for another machine to join the household',
  usage: `usage: roam invite [--json] [--state DIR]\n\nThe code works once and expires after an hour. On the other machine: \`roam join <code>\`.\n\n${COMMON_USAGE}`,
  async run(argv) {
    const { json, state } = parseCommand(argv, {}, { min: 0, max: 0, what: '' });
    const r = await ask(state, 'invite') as { code: string; expiresAt: string };
    if (json) printJson(r);
    else console.log(`${r.code}\n\nOn the machine to add, run: roam join <the code above>  (works once, until ${r.expiresAt})`);
    return 0;
  },
};
