// An event-driven D-Bus connection over a Node unix socket: SASL EXTERNAL,
// Hello, method calls with a timeout, AddMatch and signals. It cannot carry
// file descriptors (Node's net module does not do SCM_RIGHTS); the one call
// that returns one (logind's Inhibit) goes over blocking-link.ts instead.
import { EventEmitter } from 'node:events';
import { connect, type Socket } from 'node:net';
import { DBusWireError, type DBusValue } from './marshal.js';
import { MsgType, NO_REPLY_EXPECTED, encodeMessage, splitMessages, type DBusMessage } from './message.js';
import { MAX_AUTH_LINE, authLine, socketPathOf } from './address.js';

export class DBusError extends Error {
  constructor(readonly errorName: string, message: string) { super(`${message} (${errorName})`); }
}

export interface CallSpec {
  destination: string; path: string; interface: string; member: string;
  signature?: string; body?: DBusValue[]; timeoutMs?: number;
}

const DEFAULT_CALL_TIMEOUT_MS = 5_000;

/** Events: 'signal' (DBusMessage), 'close' (Error | undefined). */
export class DBusConnection extends EventEmitter {
  uniqueName = '';
  private serial = 1;
  private buf: Buffer = Buffer.alloc(0);
  private readonly pending = new Map<number, { resolve: (m: DBusMessage) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  private closed: Error | undefined;

  private constructor(private readonly sock: Socket) {
    super();
    sock.on('data', (d: Buffer) => this.onData(d));
    sock.on('error', (e) => this.fail(new Error(`D-Bus connection failed: ${e.message}`)));
    sock.on('close', () => this.fail(new Error('the D-Bus connection closed')));
  }

  /** Connects, authenticates and says Hello; rejects with a clear reason within `timeoutMs`. */
  static async open(address: string, timeoutMs = 5_000): Promise<DBusConnection> {
    const path = socketPathOf(address);
    const sock = connect({ path });
    const timer = setTimeout(() => sock.destroy(new Error(`no answer from the bus at ${address} within ${timeoutMs} ms`)), timeoutMs);
    try {
      await new Promise<void>((resolve, reject) => { sock.once('connect', resolve); sock.once('error', reject); });
      await handshake(sock);
    } catch (e) {
      sock.destroy();
      throw new Error(`cannot connect to D-Bus at ${address}: ${(e as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
    const c = new DBusConnection(sock);
    const hello = await c.call({ destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus', member: 'Hello', timeoutMs });
    c.uniqueName = String(hello.body[0] ?? '');
    return c;
  }

  get isOpen(): boolean { return !this.closed; }

  call(spec: CallSpec): Promise<DBusMessage> {
    if (this.closed) return Promise.reject(this.closed);
    const serial = this.serial++;
    const msg = encodeMessage({
      type: MsgType.MethodCall, flags: 0, serial, destination: spec.destination, path: spec.path,
      interface: spec.interface, member: spec.member, signature: spec.signature ?? '', body: spec.body ?? [],
    });
    return new Promise((resolve, reject) => {
      const ms = spec.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
      const timer = setTimeout(() => {
        this.pending.delete(serial);
        reject(new Error(`${spec.interface}.${spec.member} on ${spec.destination} did not answer within ${ms} ms`));
      }, ms);
      this.pending.set(serial, { resolve, reject, timer });
      this.sock.write(msg);
    });
  }

  /** A call whose reply is not wanted (the bus is told so). */
  send(spec: CallSpec): void {
    if (this.closed) return;
    this.sock.write(encodeMessage({
      type: MsgType.MethodCall, flags: NO_REPLY_EXPECTED, serial: this.serial++, destination: spec.destination, path: spec.path,
      interface: spec.interface, member: spec.member, signature: spec.signature ?? '', body: spec.body ?? [],
    }));
  }

  async addMatch(rule: string): Promise<void> {
    await this.call({ destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus', member: 'AddMatch', signature: 's', body: [rule] });
  }

  close(): void { this.sock.destroy(); this.fail(new Error('the D-Bus connection was closed')); }

  private onData(d: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    let messages: DBusMessage[];
    try {
      ({ messages, rest: this.buf } = splitMessages(this.buf));
    } catch (e) {
      // A peer that breaks the framing cannot be resynchronised: drop the connection.
      this.sock.destroy();
      this.fail(new Error(`the bus sent a malformed message (${(e as Error).message}); connection dropped`));
      return;
    }
    for (const m of messages) this.dispatch(m);
  }

  private dispatch(m: DBusMessage): void {
    if (m.type === MsgType.Signal) { this.emit('signal', m); return; }
    if (m.type === MsgType.MethodCall) {
      // roamd exports no objects: say so instead of leaving the caller waiting.
      if (!(m.flags & NO_REPLY_EXPECTED) && m.sender) {
        this.sock.write(encodeMessage({
          type: MsgType.Error, flags: NO_REPLY_EXPECTED, serial: this.serial++, replySerial: m.serial, destination: m.sender,
          errorName: 'org.freedesktop.DBus.Error.UnknownMethod', signature: 's', body: ['roamd exports no D-Bus objects'],
        }));
      }
      return;
    }
    const p = m.replySerial === undefined ? undefined : this.pending.get(m.replySerial);
    if (!p) return;
    this.pending.delete(m.replySerial!);
    clearTimeout(p.timer);
    if (m.type === MsgType.Error) p.reject(new DBusError(m.errorName ?? 'unknown', typeof m.body[0] === 'string' ? m.body[0] : m.errorName ?? 'D-Bus error'));
    else p.resolve(m);
  }

  private fail(e: Error): void {
    if (this.closed) return;
    this.closed = e;
    for (const p of this.pending.values()) { clearTimeout(p.timer); p.reject(e); }
    this.pending.clear();
    this.emit('close', e);
  }
}

/** SASL EXTERNAL then BEGIN; the server's lines are bounded. */
async function handshake(sock: Socket): Promise<void> {
  sock.write(authLine());
  const line = await readLine(sock);
  if (!line.startsWith('OK ')) throw new DBusWireError(`the bus refused authentication: ${line.slice(0, 120)}`);
  sock.write('BEGIN\r\n');
}

function readLine(sock: Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    let acc = '';
    const onData = (d: Buffer) => {
      acc += d.toString('latin1');
      const i = acc.indexOf('\r\n');
      if (i >= 0) {
        cleanup();
        const rest = acc.slice(i + 2);
        if (rest.length) sock.unshift(Buffer.from(rest, 'latin1'));
        resolve(acc.slice(0, i));
      } else if (acc.length > MAX_AUTH_LINE) { cleanup(); reject(new DBusWireError('the bus sent an over-long authentication line')); }
    };
    const onEnd = () => { cleanup(); reject(new Error('the bus closed the connection during authentication')); };
    const onError = (e: Error) => { cleanup(); reject(e); };
    const cleanup = () => { sock.off('data', onData); sock.off('close', onEnd); sock.off('error', onError); };
    sock.on('data', onData); sock.once('close', onEnd); sock.once('error', onError);
  });
}
