// `roam console <vm>`: stream a VM's serial console (recent output first).
// Ctrl-C detaches; the VM keeps running.
import type { Command } from '../command.js';
import { COMMON_USAGE, parseCommand } from '../../agent/cli-support.js';
import { stream } from '../../agent/control-client.js';

export const consoleCommand: Command = {
  name: 'console',
  summary: 'stream a VM\'s serial console (Ctrl-C detaches)',
  usage: `usage: roam console <vm> [--json] [--state DIR]\n\nWith --json, one JSON object per chunk of console output.\n\n${COMMON_USAGE}`,
  async run(argv) {
    const { positionals, json, state } = parseCommand(argv, {}, { min: 1, max: 1, what: 'the VM whose console to show (see `roam ps`)' });
    let detach!: () => void;
    const stopped = new Promise<void>((r) => { detach = r; });
    const onSigint = () => detach();
    process.once('SIGINT', onSigint);
    let ended: string | undefined;
    try {
      await stream(state, 'console', { vm: positionals[0] }, (ev) => {
        if (ev.event === 'serial' && typeof ev.data === 'string') {
          const bytes = Buffer.from(ev.data, 'base64');
          if (json) console.log(JSON.stringify({ serial: bytes.toString('utf8') })); else process.stdout.write(bytes);
        } else if (ev.event === 'state') {
          ended = `VM '${positionals[0]}' is ${String(ev.state)}${ev.message ? `: ${String(ev.message)}` : ''}`;
          if (json) console.log(JSON.stringify({ state: ev.state, message: ev.message ?? null }));
          detach();
        }
      }, stopped);
    } finally {
      process.off('SIGINT', onSigint);
    }
    if (ended && !json) process.stderr.write(`\nroam console: ${ended}\n`);
    return 0;
  },
};
