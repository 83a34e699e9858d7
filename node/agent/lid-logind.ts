// The lid through systemd-logind (org.freedesktop.login1) on the system bus.
// roamd holds a `handle-lid-switch` block inhibitor, so a closing lid does not
// put the machine to sleep by itself; it watches the Manager's LidClosed
// property (PropertiesChanged, plus a slow re-read in case a logind does not
// emit the change), and on close: runs the hand-off, releases the lock, then
// asks logind to do what its configuration says for a lid close
// (HandleLidSwitch*, usually Suspend). On open it takes a new lock and brings
// back VMs that were saved to disk.
import { closeSync } from 'node:fs';
import { callReturningFds } from './dbus/blocking-link.js';
import { DBusConnection, DBusError } from './dbus/connection.js';
import type { DBusMessage } from './dbus/message.js';
import type { DBusValue, DBusVariant } from './dbus/marshal.js';

const LOGIN1 = 'org.freedesktop.login1';
const LOGIN1_PATH = '/org/freedesktop/login1';
const MANAGER = 'org.freedesktop.login1.Manager';
const PROPS = 'org.freedesktop.DBus.Properties';
const RECHECK_MS = 5_000;

/** logind's lid actions and the Manager method that performs each ('ignore', 'lock' and the like need no call). */
const ACTION_METHOD: Record<string, string> = {
  suspend: 'Suspend', hibernate: 'Hibernate', 'hybrid-sleep': 'HybridSleep',
  'suspend-then-hibernate': 'SuspendThenHibernate', poweroff: 'PowerOff', reboot: 'Reboot', halt: 'Halt',
};

export interface LidHandlers {
  /** Runs the hand-off; resolves when it is over (whatever its outcome). */
  closed(): Promise<void>;
  opened(): void;
  /** Whether the machine is on AC power now (logind then uses HandleLidSwitchExternalPower). */
  onAc(): boolean;
  log(line: string): void;
}

export interface LogindStatus {
  source: 'logind';
  bus: string;
  lid: 'open' | 'closed' | 'unknown';
  inhibitor: string;
  lastSleep: string | null;
}

export class LogindLidWatcher {
  private lockFd: number | undefined;
  private inhibitorNote = 'not taken yet';
  private lidClosed: boolean | undefined;
  private handling: Promise<void> | undefined;
  private lastSleep: string | null = null;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  private constructor(private readonly address: string, private readonly conn: DBusConnection, private readonly h: LidHandlers) {}

  /**
   * Connects, takes the inhibitor and starts watching. Rejects with a message
   * that says what is wrong when there is no bus, no logind, or logind
   * refuses the inhibitor (then nothing is left open).
   */
  static async start(address: string, h: LidHandlers): Promise<LogindLidWatcher> {
    const conn = await DBusConnection.open(address);
    const w = new LogindLidWatcher(address, conn, h);
    try {
      w.lidClosed = await w.readLidClosed();
      w.takeLock();
      conn.on('signal', (m: DBusMessage) => w.onSignal(m));
      conn.on('close', (e: Error) => { if (!w.stopped) h.log(`lid: lost the system bus (${e.message}); lid closes are no longer handled`); });
      await conn.addMatch(`type='signal',sender='${LOGIN1}',path='${LOGIN1_PATH}',interface='${PROPS}',member='PropertiesChanged',arg0='${MANAGER}'`);
    } catch (e) {
      w.releaseLock();
      conn.close();
      throw e;
    }
    w.timer = setInterval(() => { void w.recheck(); }, RECHECK_MS);
    w.timer.unref();
    return w;
  }

  get lid(): 'open' | 'closed' | 'unknown' { return this.lidClosed === undefined ? 'unknown' : this.lidClosed ? 'closed' : 'open'; }

  status(): LogindStatus {
    return { source: 'logind', bus: this.address, lid: this.lid, inhibitor: this.inhibitorNote, lastSleep: this.lastSleep };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.handling?.catch(() => undefined);
    this.releaseLock();
    this.conn.close();
  }

  private async readLidClosed(): Promise<boolean> {
    let reply: DBusMessage;
    try {
      reply = await this.conn.call({ destination: LOGIN1, path: LOGIN1_PATH, interface: PROPS, member: 'Get', signature: 'ss', body: [MANAGER, 'LidClosed'] });
    } catch (e) {
      if (e instanceof DBusError && e.errorName === 'org.freedesktop.DBus.Error.ServiceUnknown') throw new Error(`logind (${LOGIN1}) is not on the bus at ${this.address}`);
      throw new Error(`cannot read logind's LidClosed: ${(e as Error).message}`);
    }
    const v = reply.body[0] as DBusVariant | undefined;
    if (!v || v.sig !== 'b') throw new Error('logind answered LidClosed with something that is not a boolean');
    return v.value as boolean;
  }

  /** Takes the handle-lid-switch block lock (a descriptor logind watches); throws with logind's reason when refused. */
  private takeLock(): void {
    if (this.lockFd !== undefined) return;
    let got;
    try {
      got = callReturningFds(this.address, {
        destination: LOGIN1, path: LOGIN1_PATH, interface: MANAGER, member: 'Inhibit', signature: 'ssss',
        body: ['handle-lid-switch', 'roamd', 'moving the running session to another household machine first', 'block'],
      });
    } catch (e) {
      this.inhibitorNote = `refused: ${(e as Error).message}`;
      throw new Error(`logind refused roamd's handle-lid-switch inhibitor (${(e as Error).message}); without it the machine would sleep before the session leaves`);
    }
    const index = got.reply.body[0];
    const fd = typeof index === 'number' && got.reply.signature === 'h' ? got.fds[index] : undefined;
    for (const other of got.fds) if (other !== fd) closeSync(other);
    if (fd === undefined) {
      this.inhibitorNote = 'refused: logind answered Inhibit without a descriptor';
      throw new Error('logind answered Inhibit without a lock descriptor; lid closes cannot be delayed');
    }
    this.lockFd = fd;
    this.inhibitorNote = `held since ${new Date().toISOString()}`;
    this.h.log('lid: holding a logind handle-lid-switch inhibitor');
  }

  private releaseLock(): void {
    if (this.lockFd === undefined) return;
    try { closeSync(this.lockFd); } catch { /* already closed */ }
    this.lockFd = undefined;
    this.inhibitorNote = `released at ${new Date().toISOString()}`;
  }

  private onSignal(m: DBusMessage): void {
    if (m.path !== LOGIN1_PATH || m.interface !== PROPS || m.member !== 'PropertiesChanged' || m.signature !== 'sa{sv}as') return;
    const [iface, changed, invalidated] = m.body as [string, DBusValue[], string[]];
    if (iface !== MANAGER) return;
    for (const entry of changed) {
      const [name, v] = entry as [string, DBusVariant];
      if (name === 'LidClosed' && v.sig === 'b') this.lidChanged(v.value as boolean);
    }
    if (invalidated.includes('LidClosed')) void this.recheck();
  }

  private async recheck(): Promise<void> {
    if (this.stopped || !this.conn.isOpen) return;
    try { this.lidChanged(await this.readLidClosed()); } catch { /* the next signal or recheck tries again */ }
  }

  private lidChanged(closed: boolean): void {
    if (this.stopped || closed === this.lidClosed) return;
    this.lidClosed = closed;
    this.h.log(`lid: ${closed ? 'closed' : 'opened'} (logind)`);
    if (closed) {
      if (this.handling) { this.h.log('lid: closed again while the hand-off still runs; it is not started twice'); return; }
      this.handling = this.onClosed().finally(() => { this.handling = undefined; });
    } else if (!this.handling) {
      this.onOpened();
    }
  }

  private async onClosed(): Promise<void> {
    try { await this.h.closed(); } catch (e) { this.h.log(`lid: the hand-off failed: ${(e as Error).message}`); }
    // The session is away (or on disk): let go of the lock, then let logind do what it is configured to.
    this.releaseLock();
    const action = await this.lidAction();
    const method = ACTION_METHOD[action];
    if (!method) { this.h.log(`lid: logind is configured to '${action}' on lid close; roamd asks for nothing more`); this.lastSleep = `none ('${action}')`; }
    else {
      try {
        await this.conn.call({ destination: LOGIN1, path: LOGIN1_PATH, interface: MANAGER, member: method, signature: 'b', body: [false] });
        this.lastSleep = `${method} at ${new Date().toISOString()}`;
        this.h.log(`lid: asked logind to ${method}`);
      } catch (e) {
        this.lastSleep = `${method} refused: ${(e as Error).message}`;
        this.h.log(`lid: logind refused ${method}: ${(e as Error).message}`);
      }
    }
    // The lid may have opened while this ran (or the machine woke up): get ready for the next close.
    if (this.lidClosed === false) this.onOpened();
  }

  private onOpened(): void {
    try { this.takeLock(); } catch (e) { this.h.log(`lid: ${(e as Error).message}`); }
    this.h.opened();
  }

  /** HandleLidSwitch (or …ExternalPower on AC when set), as logind reports it; 'suspend' when unreadable. */
  private async lidAction(): Promise<string> {
    const get = async (prop: string): Promise<string | undefined> => {
      try {
        const r = await this.conn.call({ destination: LOGIN1, path: LOGIN1_PATH, interface: PROPS, member: 'Get', signature: 'ss', body: [MANAGER, prop] });
        const v = r.body[0] as DBusVariant | undefined;
        return v && v.sig === 's' && typeof v.value === 'string' && v.value.length <= 64 ? v.value : undefined;
      } catch { return undefined; }
    };
    const onAc = this.h.onAc() ? await get('HandleLidSwitchExternalPower') : undefined;
    return onAc || (await get('HandleLidSwitch')) || 'suspend';
  }
}
