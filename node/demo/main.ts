// `npm run demo`: roam's main job on one machine. Three household machines
// (basement server, iMac, laptop) as network namespaces, each with its own
// roamd; the probe guest runs on basement and is sent, live, to laptop, with
// the progress shown; then its heartbeat is shown continuing on laptop.
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Household, until } from './household.js';
import { netnsProblem } from './lan.js';

const VM = 'session';

function step(n: number, text: string): void {
  console.log(`\n[${n}/6] ${text}`);
}

function indent(text: string): string {
  return text.trimEnd().replace(/^/gm, '      ');
}

function preflight(): string | undefined {
  const ns = netnsProblem();
  if (ns) return `${ns}: the demo models three machines as network namespaces — run it as root (sudo npm run demo)`;
  try { accessSync('/dev/kvm', constants.R_OK | constants.W_OK); } catch {
    return '/dev/kvm is not usable here: the demo runs a real VM and needs KVM';
  }
  return undefined;
}

type Vm = { name: string; state: string; lastHeartbeat: { seq: number; ok: boolean } | null };

async function main(): Promise<number> {
  const problem = preflight();
  if (problem) { console.error(`roam demo: ${problem}`); return 2; }
  const root = mkdtempSync(join(tmpdir(), 'roam-demo-'));
  const house = new Household(root, [
    { name: 'basement', role: 'server' }, { name: 'imac', role: 'desktop' }, { name: 'laptop', role: 'laptop' },
  ]);
  const cleanup = () => { void house.stop().then(() => rmSync(root, { recursive: true, force: true })); };
  process.once('SIGINT', () => { cleanup(); process.exitCode = 130; });
  try {
    step(1, 'three machines on one LAN (network namespaces), each starting roamd: basement (server), imac (desktop), laptop (laptop)');
    await house.start();

    step(2, 'basement creates the household "demo"; imac and laptop join it with one-time invite codes');
    house.formHousehold('demo');

    step(3, 'the machines find each other by mDNS, with no address given');
    const ms = await house.waitUntilAllSeeEachOther();
    console.log(`      all three see each other as trusted members after ${(ms / 1000).toFixed(1)} s. roam peers on basement:`);
    console.log(indent(house.roam('basement', 'peers').out));

    step(4, `roam run probe --name ${VM} on basement: the probe guest, rewriting 32 MiB of its memory at 32 MiB/s`);
    const r = house.roam('basement', 'run', 'probe', '--name', VM, '--mem', '256M', '--ws', '32M', '--rate', '32M');
    if (r.code !== 0) throw new Error(`roam run failed: ${r.err.trim()}`);
    const before = await until('the first heartbeats on basement', 20_000, () => {
      const vm = house.roamJson<Vm[]>('basement', 'ps').find((v) => v.name === VM);
      return vm?.lastHeartbeat && vm.lastHeartbeat.seq >= 5 ? vm.lastHeartbeat : undefined;
    });
    console.log(`      running on basement: heartbeat seq=${before.seq} ${before.ok ? 'ok' : 'CORRUPT'}`);

    step(5, `roam send ${VM} laptop — live migration over libp2p (Noise-encrypted), pre-copy with dirty-page tracking`);
    const code = await house.roamLive('basement', ['send', VM, 'laptop']);
    if (code !== 0) throw new Error(`roam send exited with ${code}`);

    step(6, 'where it runs now, and its heartbeat on laptop');
    console.log(indent(house.roam('laptop', 'ps').out));
    const onBasement = house.roamJson<Vm[]>('basement', 'ps').some((v) => v.name === VM && v.state === 'running');
    const after = await until('heartbeats on laptop', 20_000, () => {
      const vm = house.roamJson<Vm[]>('laptop', 'ps').find((v) => v.name === VM);
      return vm?.lastHeartbeat && vm.lastHeartbeat.seq > before.seq + 5 ? vm.lastHeartbeat : undefined;
    });
    console.log(`      laptop: heartbeat seq=${after.seq} ${after.ok ? 'ok' : 'CORRUPT'}; basement ${onBasement ? 'STILL runs it (wrong)' : 'no longer runs it'}`);
    return after.ok && !onBasement ? 0 : 1;
  } catch (e) {
    console.error(`\nroam demo: ${(e as Error).message}`);
    return 1;
  } finally {
    console.log('\ncleaning up: stopping the three roamd and deleting their namespaces');
    await house.stop();
    rmSync(root, { recursive: true, force: true });
  }
}

process.exitCode = await main();
