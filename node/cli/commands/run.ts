// `roam run`: start a guest under roamd, detached (it keeps running after this
// command returns; `roam console` shows its output, `roam stop` ends it).
import { basename } from 'node:path';
import type { Command } from '../command.js';
import { COMMON_USAGE, ask, parseCommand, printJson } from '../../agent/cli-support.js';
import { formatSize } from '../../common/units.js';
import { GUEST_OPTIONS, GUEST_USAGE, chooseGuest } from '../guest-options.js';

const usage = `usage: roam run <guest> [--name NAME] [--mem SIZE] [--vcpus N] [--no-display] [--ws SIZE] [--rate SIZE] [options]

Starts a guest under roamd on this machine, detached.

  --name NAME       the VM's name (default: the guest's name, made unique)
${GUEST_USAGE}
${COMMON_USAGE}`;

export const run: Command = {
  name: 'run',
  summary: 'start a guest under roamd, detached',
  usage,
  async run(argv) {
    const { values: v, positionals, json, state } = parseCommand(argv, { name: { type: 'string' }, ...GUEST_OPTIONS },
      { min: 1, max: 1, what: 'the guest to run: `probe` or the path of a kernel' });
    const { guest, isProbe, kernelPath, memBytes, vcpus, cmdline, display } = chooseGuest(positionals[0]!, v);
    let name = typeof v.name === 'string' ? v.name : undefined;
    if (name === undefined) {
      const existing = new Set((await ask(state, 'ps') as { name: string }[]).map((x) => x.name));
      const base = (isProbe ? 'probe' : basename(guest).replace(/\.[^.]*$/, '').replace(/[^A-Za-z0-9._-]/g, '-')) || 'vm';
      name = base;
      for (let i = 2; existing.has(name); i++) name = `${base}-${i}`;
    }
    const s = await ask(state, 'run', { name, guest, kernelPath, cmdline, memBytes, vcpus, display }) as { name: string; pid: number; state: string };
    if (json) printJson(s);
    else console.log(`started VM '${s.name}' (pid ${s.pid}, ${formatSize(memBytes)}); \`roam console ${s.name}\` shows its console, \`roam stop ${s.name}\` ends it`);
    return 0;
  },
};
