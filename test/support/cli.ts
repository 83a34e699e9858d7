// The real `roam` command from tests: a child process running the built CLI,
// its exit status and output captured.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { ROAM_ENTRY } from '../../node/demo/household.js';

export { ROAM_ENTRY, stopProcess, until } from '../../node/demo/household.js';

export interface RoamResult { code: number | null; out: string; err: string }

export function roam(...args: string[]): RoamResult {
  const r = spawnSync(process.execPath, [ROAM_ENTRY, ...args], { encoding: 'utf8', timeout: 90_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** `roam <args> --json`, which must succeed; its parsed output. */
export function roamJson<T>(...args: string[]): T {
  const r = roam(...args, '--json');
  assert.equal(r.code, 0, `roam ${args.join(' ')} → exit ${r.code}: ${r.err}`);
  return JSON.parse(r.out) as T;
}
