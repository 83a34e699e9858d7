// What every `roam` subcommand provides. Each lives in node/cli/commands/<name>.ts
// and is listed in node/cli/commands/index.ts.
export interface Command {
  name: string;
  /** One line for `roam --help`. */
  summary: string;
  /** Full usage for `roam <name> --help`. */
  usage: string;
  /** Returns the process exit code. Throw UsageError for bad arguments. */
  run(argv: string[]): Promise<number>;
}

/** Bad input from the user: printed as `roam <cmd>: <message>` with exit code 2. */
export class UsageError extends Error {}
