// A private system bus (a real dbus-daemon on a socket in a temp dir) and the
// login1 test double on it (login1-double.py, python3-dbus). Tests drive the
// lid through the double's stdin and read what logind would have seen from
// its events. Missing dbus-daemon or python3-dbus: skip, or FAIL under CI=true.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
/** The double's source (tsc does not copy .py files): dist-NAME/test/support → the repo's test/support. */
/** Debian's python3, where apt puts python3-dbus (a python3 earlier on PATH, e.g. pyenv, lacks it). */
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const DOUBLE = resolve(here, '..', '..', '..', 'test', 'support', 'login1-double.py');

export function dbusProblem(): string | undefined {
  if (!existsSync('/usr/bin/dbus-daemon')) return 'dbus-daemon is not installed (apt-get install dbus-daemon)';
  const py = spawnSync(PYTHON, ['-c', 'import dbus, dbus.mainloop.glib; from gi.repository import GLib'], { encoding: 'utf8' });
  if (py.status !== 0) return 'the login1 test double needs python3-dbus and python3-gi (apt-get install python3-dbus python3-gi)';
  if (!existsSync(DOUBLE)) return `the login1 test double is missing at ${DOUBLE}`;
  return undefined;
}

export function requireDbus(ctx: Mocha.Context): void {
  const problem = dbusProblem();
  if (!problem) return;
  if (process.env.CI === 'true') throw new Error(`${problem} (CI=true: failing instead of skipping)`);
  ctx.skip();
}

async function until<T>(what: string, ms: number, probe: () => T | undefined | false): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function stopChild(c: ChildProcess | undefined): Promise<void> {
  if (!c || c.exitCode !== null || c.signalCode !== null) return;
  const gone = new Promise((r) => c.once('exit', r));
  c.kill('SIGTERM');
  const t = setTimeout(() => c.kill('SIGKILL'), 3000);
  await gone;
  clearTimeout(t);
}

/** dbus-daemon listening on `<dir>/bus`, allowing everything to everyone (it is ours alone). */
export class PrivateBus {
  private constructor(readonly address: string, readonly socket: string, private readonly child: ChildProcess) {}

  static async start(dir: string): Promise<PrivateBus> {
    const socket = join(dir, 'bus');
    const conf = join(dir, 'bus.conf');
    writeFileSync(conf, `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>custom</type>
  <listen>unix:path=${socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`);
    const child = spawn('/usr/bin/dbus-daemon', ['--config-file', conf, '--nofork', '--nopidfile'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d) => { err += d.toString(); });
    await until(`dbus-daemon to listen on ${socket}`, 10_000, () => {
      if (child.exitCode !== null) throw new Error(`dbus-daemon exited: ${err}`);
      return existsSync(socket);
    });
    return new PrivateBus(`unix:path=${socket}`, socket, child);
  }

  stop(): Promise<void> { return stopChild(this.child); }
}

export interface DoubleEvent { event: string; t: number; [k: string]: unknown }

export class Login1Double {
  readonly events: DoubleEvent[] = [];
  private stderr = '';

  private constructor(private readonly child: ChildProcess) {
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i); buf = buf.slice(i + 1);
        try { this.events.push(JSON.parse(line) as DoubleEvent); } catch { /* not an event */ }
      }
    });
    child.stderr!.on('data', (d: Buffer) => { this.stderr = (this.stderr + d.toString()).slice(-4000); });
  }

  static async start(address: string, opts: { refuseInhibit?: boolean } = {}): Promise<Login1Double> {
    const child = spawn(PYTHON, [DOUBLE, address, ...(opts.refuseInhibit ? ['--refuse-inhibit'] : [])], { stdio: ['pipe', 'pipe', 'pipe'] });
    const d = new Login1Double(child);
    await d.waitFor('the login1 double to own its name', 10_000, (e) => e.event === 'ready');
    return d;
  }

  /** "lid closed", "lid open", "refuse-inhibit on|off". */
  command(line: string): void { this.child.stdin!.write(`${line}\n`); }

  count(event: string): number { return this.events.filter((e) => e.event === event).length; }

  waitFor(what: string, ms: number, pred: (e: DoubleEvent) => boolean, after = 0): Promise<DoubleEvent> {
    return until(what, ms, () => {
      if (this.child.exitCode !== null) throw new Error(`the login1 double exited: ${this.stderr}`);
      return this.events.slice(after).find(pred);
    });
  }

  stop(): Promise<void> { this.child.stdin!.end(); return stopChild(this.child); }
}
