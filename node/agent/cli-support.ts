// What the roamd-facing CLI commands share: option parsing with --json and
// --state, one call to roamd with readable errors, and table printing.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../cli/command.js';
import { agentPaths } from './paths.js';
import { call } from './control-client.js';

export const COMMON_USAGE = `  --state DIR   the roamd to talk to (default: $XDG_DATA_HOME/roam)
  --json        machine-readable output`;

type Options = NonNullable<ParseArgsConfig['options']>;

export function parseCommand(argv: string[], options: Options, positionals: { min: number; max: number; what: string }) {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, strict: true, options: { ...options, json: { type: 'boolean' }, state: { type: 'string' } } });
  } catch (e) { throw new UsageError((e as Error).message); }
  const n = parsed.positionals.length;
  if (n < positionals.min) throw new UsageError(`missing ${positionals.what}`);
  if (n > positionals.max) throw new UsageError(`unexpected argument '${parsed.positionals[positionals.max]}'`);
  const values = parsed.values as Record<string, string | boolean | string[] | undefined>;
  const state = agentPaths(typeof values.state === 'string' ? values.state : undefined).state;
  return { values, positionals: parsed.positionals, json: values.json === true, state };
}

/** Calls roamd; errors (not running, refused) propagate as Errors whose message the dispatcher prints (exit 1). */
export function ask(state: string, op: string, args: Record<string, unknown> = {},
  onEvent?: (v: Record<string, unknown>) => void): Promise<unknown> {
  return call(state, op, args, onEvent);
}

export function printJson(v: unknown): void { console.log(JSON.stringify(v, null, 2)); }

export function table(rows: string[][]): string {
  if (rows.length === 0) return '';
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
}

export function ago(iso: string | null): string {
  if (!iso) return 'never';
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  return s < 120 ? `${s}s ago` : `${Math.round(s / 60)}m ago`;
}
