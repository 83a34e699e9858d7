// D-Bus messages: the fixed header, the header fields, the body. `frameLength`
// tells a stream reader how many bytes the next message takes (bounded before
// anything is buffered); `decodeMessage` checks every field it reads.
import { DBusWireError, Reader, Writer, splitSignature, type DBusValue, type DBusVariant } from './marshal.js';

export const enum MsgType { MethodCall = 1, MethodReturn = 2, Error = 3, Signal = 4 }
export const NO_REPLY_EXPECTED = 0x1;
/** roamd's messages are small; anything bigger from the bus is refused (the spec allows 128 MiB). */
export const MAX_MESSAGE_BYTES = 1 << 20;

export interface DBusMessage {
  type: MsgType;
  flags: number;
  serial: number;
  path?: string;
  interface?: string;
  member?: string;
  errorName?: string;
  replySerial?: number;
  destination?: string;
  sender?: string;
  signature: string;
  unixFds: number;
  body: DBusValue[];
}

const FIELD = { path: 1, interface: 2, member: 3, errorName: 4, replySerial: 5, destination: 6, sender: 7, signature: 8, unixFds: 9 } as const;
const FIELD_SIG: Record<number, string> = { 1: 'o', 2: 's', 3: 's', 4: 's', 5: 'u', 6: 's', 7: 's', 8: 'g', 9: 'u' };

export function encodeMessage(m: Omit<DBusMessage, 'unixFds'> & { unixFds?: number }): Buffer {
  const body = new Writer(true);
  if (m.signature) body.write(m.signature, m.body);
  const fields: DBusValue[] = [];
  const add = (code: number, value: DBusValue | undefined) => { if (value !== undefined) fields.push([code, { sig: FIELD_SIG[code]!, value } as DBusVariant]); };
  add(FIELD.path, m.path); add(FIELD.interface, m.interface); add(FIELD.member, m.member); add(FIELD.errorName, m.errorName);
  add(FIELD.replySerial, m.replySerial); add(FIELD.destination, m.destination); add(FIELD.sender, m.sender);
  if (m.signature) add(FIELD.signature, m.signature);
  if (m.unixFds) add(FIELD.unixFds, m.unixFds);
  const w = new Writer(true);
  w.write('yyyyuua(yv)', ['l'.charCodeAt(0), m.type, m.flags, 1, body.length, m.serial, fields]);
  w.align(8);
  const head = w.bytes();
  const out = Buffer.concat([head, body.bytes()]);
  if (out.length > MAX_MESSAGE_BYTES) throw new DBusWireError(`message of ${out.length} bytes is too big`);
  return out;
}

/** Bytes the message at the start of `buf` takes, or undefined when fewer than 16 bytes are there yet. */
export function frameLength(buf: Buffer): number | undefined {
  if (buf.length < 16) return undefined;
  const e = buf[0];
  if (e !== 0x6c && e !== 0x42) throw new DBusWireError(`bad endianness byte 0x${e!.toString(16)}`);
  if (buf[3] !== 1) throw new DBusWireError(`unsupported protocol version ${buf[3]}`);
  const little = e === 0x6c;
  const bodyLen = little ? buf.readUInt32LE(4) : buf.readUInt32BE(4);
  const fieldsLen = little ? buf.readUInt32LE(12) : buf.readUInt32BE(12);
  if (bodyLen > MAX_MESSAGE_BYTES || fieldsLen > MAX_MESSAGE_BYTES) throw new DBusWireError('message is too big');
  const headLen = 16 + fieldsLen + ((8 - ((16 + fieldsLen) % 8)) % 8);
  const total = headLen + bodyLen;
  if (total > MAX_MESSAGE_BYTES) throw new DBusWireError(`message of ${total} bytes is too big`);
  return total;
}

/** Decodes exactly one message (as long as frameLength said). */
export function decodeMessage(buf: Buffer): DBusMessage {
  const total = frameLength(buf);
  if (total === undefined || buf.length !== total) throw new DBusWireError('incomplete message');
  const little = buf[0] === 0x6c;
  const r = new Reader(buf, little);
  const [, type, flags, , bodyLen, serial, fields] = r.read('yyyyuua(yv)') as [number, number, number, number, number, number, DBusValue[]];
  if (type < 1 || type > 4) throw new DBusWireError(`unknown message type ${type}`);
  if (serial === 0) throw new DBusWireError('message serial is zero');
  const m: DBusMessage = { type: type as MsgType, flags, serial, signature: '', unixFds: 0, body: [] };
  for (const f of fields) {
    const [code, v] = f as [number, DBusVariant];
    const want = FIELD_SIG[code];
    if (want === undefined) continue; // unknown fields are ignored, as the spec says
    if (v.sig !== want) throw new DBusWireError(`header field ${code} has type '${v.sig}', not '${want}'`);
    switch (code) {
      case FIELD.path: m.path = v.value as string; break;
      case FIELD.interface: m.interface = v.value as string; break;
      case FIELD.member: m.member = v.value as string; break;
      case FIELD.errorName: m.errorName = v.value as string; break;
      case FIELD.replySerial: m.replySerial = v.value as number; break;
      case FIELD.destination: m.destination = v.value as string; break;
      case FIELD.sender: m.sender = v.value as string; break;
      case FIELD.signature: m.signature = v.value as string; break;
      case FIELD.unixFds: m.unixFds = v.value as number; break;
    }
  }
  r.align(8);
  if (r.remaining !== bodyLen) throw new DBusWireError('body length does not match the message');
  if (m.signature) {
    splitSignature(m.signature);
    const body = new Reader(buf, little, r.pos);
    m.body = body.read(m.signature);
    if (body.remaining !== 0) throw new DBusWireError('body is longer than its signature');
  } else if (bodyLen !== 0) {
    throw new DBusWireError('body without a signature');
  }
  if ((m.type === MsgType.MethodReturn || m.type === MsgType.Error) && m.replySerial === undefined) throw new DBusWireError('reply without a reply serial');
  if (m.type === MsgType.Error && m.errorName === undefined) throw new DBusWireError('error without an error name');
  if ((m.type === MsgType.MethodCall || m.type === MsgType.Signal) && (m.path === undefined || m.member === undefined)) throw new DBusWireError('call or signal without path or member');
  return m;
}

/** Splits complete messages off the front of `buf`; returns them and what is left. */
export function splitMessages(buf: Buffer): { messages: DBusMessage[]; rest: Buffer } {
  const messages: DBusMessage[] = [];
  for (;;) {
    const n = frameLength(buf);
    if (n === undefined || buf.length < n) return { messages, rest: buf };
    messages.push(decodeMessage(buf.subarray(0, n)));
    buf = buf.subarray(n);
  }
}
