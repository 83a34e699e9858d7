// `roam init --name <household>`: make this machine the first member of a new household.
import type { Command } from '../command.js';
import { UsageError } from '../command.js';
import { COMMON_USAGE, ask, parseCommand, printJson } from '../../agent/cli-support.js';

export const init: Command = {
  name: 'init',
  summary: 'create a household with this machine as its first member',
  usage: `usage: roam init --name <household> [--json] [--state DIR]\n\nCreates a household (a random secret kept 0600 in the state dir). Add machines\nwith \`roam invite\` here and \`roam join <code>\` there.\n\n${COMMON_USAGE}`,
  async run(argv) {
    const { values, json, state } = parseCommand(argv, { name: { type: 'string' } }, { min: 0, max: 0, what: '' });
    if (typeof values.name !== 'string') throw new UsageError('name the household: `roam init --name <household>`');
    const r = await ask(state, 'init', { name: values.name }) as { id: string; name: string };
    if (json) printJson(r); else console.log(`created household '${r.name}'; add machines with \`roam invite\``);
    return 0;
  },
};
