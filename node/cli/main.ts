import { commands } from './commands/index.js';
import { UsageError } from './command.js';

function help(): string {
  const w = Math.max(8, ...commands.map((c) => c.name.length));
  return [
    'usage: roam <command> [options]',
    '',
    'roam keeps a desktop session (a VM) running as it moves between a household\'s machines.',
    '',
    'commands:',
    ...commands.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`),
    '',
    'Run `roam <command> --help` for a command\'s options.',
  ].join('\n');
}

export async function run(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(help());
    return name ? 0 : 2;
  }
  const cmd = commands.find((c) => c.name === name);
  if (!cmd) {
    console.error(`roam: unknown command '${name}'. Commands: ${commands.map((c) => c.name).join(', ')}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(cmd.usage);
    return 0;
  }
  try {
    return await cmd.run(rest);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`roam ${name}: ${e.message}`);
      console.error(`(see \`roam ${name} --help\`)`);
      return 2;
    }
    console.error(`roam ${name}: ${(e as Error).message}`);
    return 1;
  }
}
