// The /roam/migrate/1.0.0 wire format. Every frame is
//   u32 BE length (of what follows) | u8 type | body
// and every decoder below treats its input as hostile: lengths are bounded before
// anything is allocated, JSON bodies are shape-checked, and PAGES frames are checked
// against the slot layout the hello declared before any byte reaches guest memory.
import { ProtocolError } from './errors.js';
import type { SlotKind, SlotLayout, VmSpec } from './vm-handle.js';

export const PROTOCOL = '/roam/migrate/1.0.0';
export const PAGE = 4096;
/** Most pages one PAGES frame may span (the range, including pages it does not carry). */
export const MAX_BATCH_PAGES = 4096;
/** Most pages one PAGES frame may carry as data. */
export const MAX_DATA_PAGES = 256;
/** Largest JSON body (hello with region hashes of a large guest). */
export const MAX_JSON = 1 << 20;
/** Largest device + vCPU state. */
export const MAX_STATE = 16 << 20;
/** Largest frame body: a state frame; page frames are far smaller (data ≤ 1 MiB + bitmaps). */
export const MAX_FRAME = MAX_STATE + 64;
/** Largest guest we accept a hello for (bounds every page-number computation). */
export const MAX_GUEST_BYTES = 2 ** 40;
export const MAX_SLOTS = 32;
/** Largest framebuffer slot a hello may declare (a 4K screen at 32 bpp is 32 MiB). */
export const MAX_FRAMEBUFFER_BYTES = 64 << 20;
const SLOT_KINDS: readonly SlotKind[] = ['ram', 'framebuffer'];
export const HEADER = 5;

export const enum T {
  HELLO = 1, ACCEPT = 2, REJECT = 3, PAGES = 4, ROUND_END = 5, STATE = 6,
  READY = 7, COMMIT = 8, RUNNING = 9, ABORT = 10, ACK = 11, STATUS = 12, STATUS_REPLY = 13,
}

export const COMPRESS_NONE = 0;
export const COMPRESS_ZSTD = 1;

/** Pages of one slot: range [first, first+count), which are zero, which carry data (in order) in the payload. */
export interface PagesFrame {
  type: T.PAGES;
  round: number;
  slot: number;
  first: number;
  count: number;
  compression: number;
  zero: Uint8Array;   // ceil(count/8) bytes, bit i = page first+i is all zero
  data: Uint8Array;   // ceil(count/8) bytes, bit i = page first+i is in the payload
  payload: Uint8Array;
}

/** A kept image the source offers to reuse (return trip): clean-region hashes of its memory now. */
export interface ReturnBase {
  generation: number;
  regionBytes: number;
  /** Per region, base64 of a 16-byte hash, or "" where the region was written since arrival. */
  regionHashes: string[];
}

export interface Hello { spec: VmSpec; features: string[]; base?: ReturnBase }
export interface Accept { features: string[]; /** Regions of the kept image that do not match: the source sends them in full. null = no base. */ base: { staleRegions: number[] } | null }
export type StatusState = 'unknown' | 'receiving' | 'ready' | 'running' | 'discarded';

export type Frame =
  | { type: T.HELLO; hello: Hello }
  | { type: T.ACCEPT; accept: Accept }
  | { type: T.REJECT; reason: string }
  | PagesFrame
  | { type: T.ROUND_END; round: number; lastRound: boolean }
  | { type: T.STATE; state: Uint8Array }
  | { type: T.READY } | { type: T.COMMIT } | { type: T.RUNNING }
  | { type: T.ABORT; reason: string }
  | { type: T.ACK; bytes: number }
  | { type: T.STATUS; id: string; generation: number }
  | { type: T.STATUS_REPLY; state: StatusState };

// ---------- encoding ----------

function header(type: T, bodyLen: number): Uint8Array {
  if (bodyLen + 1 > MAX_FRAME) throw new RangeError(`frame body of ${bodyLen} bytes exceeds the ${MAX_FRAME}-byte limit`);
  const h = new Uint8Array(HEADER);
  new DataView(h.buffer).setUint32(0, bodyLen + 1);
  h[4] = type;
  return h;
}

function withBody(type: T, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(HEADER + body.byteLength);
  out.set(header(type, body.byteLength), 0);
  out.set(body, HEADER);
  return out;
}

const enc = new TextEncoder();
function json(type: T, value: unknown): Uint8Array {
  const body = enc.encode(JSON.stringify(value));
  if (body.byteLength > MAX_JSON) throw new RangeError(`message of ${body.byteLength} bytes exceeds ${MAX_JSON}`);
  return withBody(type, body);
}

export const encode = {
  hello: (h: Hello) => json(T.HELLO, h),
  accept: (a: Accept) => json(T.ACCEPT, a),
  reject: (reason: string) => json(T.REJECT, { reason }),
  abort: (reason: string) => json(T.ABORT, { reason }),
  status: (id: string, generation: number) => json(T.STATUS, { id, generation }),
  statusReply: (state: StatusState) => json(T.STATUS_REPLY, { state }),
  empty: (type: T.READY | T.COMMIT | T.RUNNING) => header(type, 0),
  roundEnd(round: number, lastRound: boolean): Uint8Array {
    const b = new Uint8Array(5); const v = new DataView(b.buffer);
    v.setUint32(0, round); b[4] = lastRound ? 1 : 0;
    return withBody(T.ROUND_END, b);
  },
  ack(bytes: number): Uint8Array {
    const b = new Uint8Array(8); new DataView(b.buffer).setBigUint64(0, BigInt(bytes));
    return withBody(T.ACK, b);
  },
  state(state: Uint8Array): Uint8Array[] {
    if (state.byteLength > MAX_STATE) throw new RangeError(`VM state of ${state.byteLength} bytes exceeds ${MAX_STATE}`);
    return [header(T.STATE, state.byteLength), state];
  },
  /**
   * A PAGES frame as parts: the fixed header + bitmaps, then the payload parts
   * (views straight into guest memory when uncompressed; no copy here).
   */
  pages(f: Omit<PagesFrame, 'type' | 'payload'>, payload: Uint8Array[]): Uint8Array[] {
    let plen = 0; for (const p of payload) plen += p.byteLength;
    const h = new Uint8Array(pagesHeaderBytes(f.count));
    writePagesHeader(f, h, plen);
    return [h, ...payload];
  },
};

/** Bytes before the payload of a PAGES frame spanning `count` pages (length prefix, type, fixed fields, bitmaps). */
export function pagesHeaderBytes(count: number): number {
  return HEADER + 4 + 4 + 4 + 2 + 1 + 2 * Math.ceil(count / 8);
}

/**
 * Write a PAGES frame's header into `frame[0 .. pagesHeaderBytes(count))`, for a payload of
 * `payloadBytes` that follows it. Lets a payload be produced straight after room left for the
 * header (the compression worker does), so the frame goes out as one buffer without a join.
 */
export function writePagesHeader(f: Omit<PagesFrame, 'type' | 'payload'>, frame: Uint8Array, payloadBytes: number): void {
  const bm = Math.ceil(f.count / 8);
  const hlen = pagesHeaderBytes(f.count);
  if (frame.byteLength < hlen) throw new RangeError(`pages header needs ${hlen} bytes, the buffer has ${frame.byteLength}`);
  const v = new DataView(frame.buffer, frame.byteOffset, hlen);
  frame.set(header(T.PAGES, hlen - HEADER + payloadBytes), 0);
  v.setUint32(5, f.round); v.setUint32(9, f.slot); v.setUint32(13, f.first);
  v.setUint16(17, f.count); frame[19] = f.compression;
  frame.set(f.zero.subarray(0, bm), 20); frame.set(f.data.subarray(0, bm), 20 + bm);
}

// ---------- decoding ----------

const dec = new TextDecoder('utf-8', { fatal: true });

function parseJson(body: Uint8Array, what: string): Record<string, unknown> {
  if (body.byteLength > MAX_JSON) throw new ProtocolError(`${what}: ${body.byteLength}-byte body exceeds ${MAX_JSON}`);
  let v: unknown;
  try { v = JSON.parse(dec.decode(body)); } catch { throw new ProtocolError(`${what}: body is not valid UTF-8 JSON`); }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ProtocolError(`${what}: body must be a JSON object`);
  return v as Record<string, unknown>;
}

function str(o: Record<string, unknown>, k: string, what: string, max = 256): string {
  const v = o[k];
  if (typeof v !== 'string' || v.length > max) throw new ProtocolError(`${what}: "${k}" must be a string of at most ${max} chars`);
  return v;
}
function uint(o: Record<string, unknown>, k: string, what: string, max = Number.MAX_SAFE_INTEGER): number {
  const v = o[k];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v > max) throw new ProtocolError(`${what}: "${k}" must be an integer in 0..${max}`);
  return v;
}
function strList(o: Record<string, unknown>, k: string, what: string, maxItems = 1024, maxLen = 64): string[] {
  const v = o[k];
  if (!Array.isArray(v) || v.length > maxItems || !v.every((x) => typeof x === 'string' && x.length <= maxLen)) {
    throw new ProtocolError(`${what}: "${k}" must be a list of at most ${maxItems} strings`);
  }
  return v as string[];
}

export function validateSpec(raw: unknown, what = 'hello.spec'): VmSpec {
  if (typeof raw !== 'object' || raw === null) throw new ProtocolError(`${what} missing`);
  const o = raw as Record<string, unknown>;
  const id = str(o, 'id', what, 128);
  if (!/^[A-Za-z0-9._-]{1,128}$/.test(id)) throw new ProtocolError(`${what}: id must be 1-128 of [A-Za-z0-9._-]`);
  const generation = uint(o, 'generation', what, 2 ** 40);
  const vcpus = uint(o, 'vcpus', what, 1024);
  if (vcpus < 1) throw new ProtocolError(`${what}: vcpus must be at least 1`);
  const memBytes = uint(o, 'memBytes', what, MAX_GUEST_BYTES);
  const rawSlots = o['slots'];
  if (!Array.isArray(rawSlots) || rawSlots.length < 1 || rawSlots.length > MAX_SLOTS) throw new ProtocolError(`${what}: slots must be a list of 1..${MAX_SLOTS}`);
  const slots: SlotLayout[] = [];
  const seen = new Set<number>();
  let ramTotal = 0, framebuffers = 0;
  for (const s of rawSlots) {
    if (typeof s !== 'object' || s === null) throw new ProtocolError(`${what}: slot entry must be an object`);
    const so = s as Record<string, unknown>;
    const slot = uint(so, 'slot', what, 0xffff);
    const guestPhysAddr = uint(so, 'guestPhysAddr', what, 2 ** 52);
    const size = uint(so, 'size', what, MAX_GUEST_BYTES);
    if (size === 0 || size % PAGE !== 0 || guestPhysAddr % PAGE !== 0) throw new ProtocolError(`${what}: slot ${slot} size/address must be non-zero page multiples`);
    if (seen.has(slot)) throw new ProtocolError(`${what}: slot ${slot} declared twice`);
    const kind = so['kind'];
    if (kind !== undefined && !SLOT_KINDS.includes(kind as SlotKind)) throw new ProtocolError(`${what}: slot ${slot} kind must be one of ${SLOT_KINDS.join(', ')}`);
    seen.add(slot);
    if (kind === 'framebuffer') {
      if (++framebuffers > 1) throw new ProtocolError(`${what}: more than one framebuffer slot`);
      if (size > MAX_FRAMEBUFFER_BYTES) throw new ProtocolError(`${what}: framebuffer slot ${slot} of ${size} bytes exceeds ${MAX_FRAMEBUFFER_BYTES}`);
    } else {
      ramTotal += size;
    }
    slots.push(kind === undefined ? { slot, guestPhysAddr, size } : { slot, guestPhysAddr, size, kind: kind as SlotKind });
  }
  if (ramTotal !== memBytes) throw new ProtocolError(`${what}: RAM slots add up to ${ramTotal} bytes but memBytes is ${memBytes}`);
  return { id, generation, vcpus, memBytes, slots, cpuFeatures: strList(o, 'cpuFeatures', what), devices: strList(o, 'devices', what) };
}

function validateHello(o: Record<string, unknown>): Hello {
  const spec = validateSpec(o['spec']);
  const features = strList(o, 'features', 'hello', 64);
  const h: Hello = { spec, features };
  if (o['base'] !== undefined) {
    const b = o['base'];
    if (typeof b !== 'object' || b === null) throw new ProtocolError('hello.base must be an object');
    const bo = b as Record<string, unknown>;
    const regionBytes = uint(bo, 'regionBytes', 'hello.base', 1 << 30);
    if (regionBytes < PAGE || regionBytes % PAGE !== 0) throw new ProtocolError('hello.base.regionBytes must be a page multiple');
    const slotBytes = spec.slots.reduce((n, s) => n + s.size, 0);
    const maxRegions = Math.ceil(slotBytes / regionBytes) + spec.slots.length;
    const regionHashes = strList(bo, 'regionHashes', 'hello.base', maxRegions, 32);
    h.base = { generation: uint(bo, 'generation', 'hello.base', 2 ** 40), regionBytes, regionHashes };
  }
  return h;
}

function validateAccept(o: Record<string, unknown>): Accept {
  const features = strList(o, 'features', 'accept', 64);
  const b = o['base'];
  if (b === null || b === undefined) return { features, base: null };
  if (typeof b !== 'object') throw new ProtocolError('accept.base must be an object or null');
  const st = (b as Record<string, unknown>)['staleRegions'];
  if (!Array.isArray(st) || st.length > 1 << 20 || !st.every((x) => Number.isSafeInteger(x) && x >= 0)) throw new ProtocolError('accept.base.staleRegions must be a list of region indices');
  return { features, base: { staleRegions: st as number[] } };
}

const STATUS_STATES: StatusState[] = ['unknown', 'receiving', 'ready', 'running', 'discarded'];

/**
 * Decode one frame body (type byte + body, i.e. what follows the length prefix).
 * `layout`, when given, is the hello's slot list: PAGES frames are range-checked against it.
 */
export function decodeFrame(frame: Uint8Array, layout?: SlotLayout[]): Frame {
  if (frame.byteLength < 1) throw new ProtocolError('empty frame');
  if (frame.byteLength > MAX_FRAME) throw new ProtocolError(`frame of ${frame.byteLength} bytes exceeds ${MAX_FRAME}`);
  const type = frame[0]!;
  const body = frame.subarray(1);
  const v = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const need = (n: number, what: string) => { if (body.byteLength !== n) throw new ProtocolError(`${what}: body must be ${n} bytes, got ${body.byteLength}`); };
  switch (type) {
    case T.HELLO: return { type, hello: validateHello(parseJson(body, 'hello')) };
    case T.ACCEPT: return { type, accept: validateAccept(parseJson(body, 'accept')) };
    case T.REJECT: return { type, reason: str(parseJson(body, 'reject'), 'reason', 'reject', 1024) };
    case T.ABORT: return { type, reason: str(parseJson(body, 'abort'), 'reason', 'abort', 1024) };
    case T.STATUS: {
      const o = parseJson(body, 'status');
      return { type, id: str(o, 'id', 'status', 128), generation: uint(o, 'generation', 'status', 2 ** 40) };
    }
    case T.STATUS_REPLY: {
      const s = str(parseJson(body, 'status-reply'), 'state', 'status-reply', 16) as StatusState;
      if (!STATUS_STATES.includes(s)) throw new ProtocolError(`status-reply: unknown state "${s}"`);
      return { type, state: s };
    }
    case T.READY: case T.COMMIT: case T.RUNNING: need(0, 'control frame'); return { type } as Frame;
    case T.ROUND_END: {
      need(5, 'round-end');
      const last = body[4]!;
      if (last > 1) throw new ProtocolError('round-end: last-round flag must be 0 or 1');
      return { type, round: v.getUint32(0), lastRound: last === 1 };
    }
    case T.ACK: {
      need(8, 'ack');
      const b = v.getBigUint64(0);
      if (b > BigInt(Number.MAX_SAFE_INTEGER)) throw new ProtocolError('ack: byte count out of range');
      return { type, bytes: Number(b) };
    }
    case T.STATE:
      if (body.byteLength > MAX_STATE) throw new ProtocolError(`state of ${body.byteLength} bytes exceeds ${MAX_STATE}`);
      return { type, state: body };
    case T.PAGES: return decodePages(body, v, layout);
    default: throw new ProtocolError(`unknown frame type ${type}`);
  }
}

function popcountBytes(b: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < b.length; i++) { let x = b[i]!; while (x) { x &= x - 1; n++; } }
  return n;
}

function decodePages(body: Uint8Array, v: DataView, layout?: SlotLayout[]): PagesFrame {
  if (body.byteLength < 15) throw new ProtocolError(`pages: ${body.byteLength}-byte body is shorter than its 15-byte header`);
  const round = v.getUint32(0), slot = v.getUint32(4), first = v.getUint32(8), count = v.getUint16(12), compression = body[14]!;
  if (count < 1 || count > MAX_BATCH_PAGES) throw new ProtocolError(`pages: count ${count} outside 1..${MAX_BATCH_PAGES}`);
  if (compression !== COMPRESS_NONE && compression !== COMPRESS_ZSTD) throw new ProtocolError(`pages: unknown compression ${compression}`);
  const bm = Math.ceil(count / 8);
  if (body.byteLength < 15 + 2 * bm) throw new ProtocolError('pages: body too short for its bitmaps');
  const zero = body.subarray(15, 15 + bm), data = body.subarray(15 + bm, 15 + 2 * bm);
  // Bits past `count` in the last bitmap byte must be clear, and no page may be both zero and data.
  const tailMask = count % 8 === 0 ? 0 : (0xff << (count % 8)) & 0xff;
  if ((zero[bm - 1]! & tailMask) !== 0 || (data[bm - 1]! & tailMask) !== 0) throw new ProtocolError('pages: bitmap bits set past the page count');
  for (let i = 0; i < bm; i++) if ((zero[i]! & data[i]!) !== 0) throw new ProtocolError('pages: a page is marked both zero and data');
  const dataPages = popcountBytes(data);
  if (dataPages > MAX_DATA_PAGES) throw new ProtocolError(`pages: ${dataPages} data pages exceed ${MAX_DATA_PAGES}`);
  const payload = body.subarray(15 + 2 * bm);
  if (compression === COMPRESS_NONE && payload.byteLength !== dataPages * PAGE) throw new ProtocolError(`pages: payload is ${payload.byteLength} bytes, ${dataPages} pages need ${dataPages * PAGE}`);
  if (compression === COMPRESS_ZSTD && dataPages === 0 && payload.byteLength !== 0) throw new ProtocolError('pages: payload without data pages');
  if (layout) checkRange(layout, slot, first, count);
  return { type: T.PAGES, round, slot, first, count, compression, zero, data, payload };
}

/** Throw unless pages [first, first+count) lie inside the declared slot. */
export function checkRange(layout: SlotLayout[], slot: number, first: number, count: number): SlotLayout {
  const s = layout.find((x) => x.slot === slot);
  if (!s) throw new ProtocolError(`pages: slot ${slot} is not in the declared memory layout`);
  const pages = s.size / PAGE;
  if (first >= pages || first + count > pages) throw new ProtocolError(`pages: pages ${first}..${first + count - 1} outside slot ${slot} (${pages} pages)`);
  return s;
}

export function frameName(t: number): string {
  const names: Record<number, string> = { 1: 'hello', 2: 'accept', 3: 'reject', 4: 'pages', 5: 'round-end', 6: 'state', 7: 'ready', 8: 'commit', 9: 'running', 10: 'abort', 11: 'ack', 12: 'status', 13: 'status-reply' };
  return names[t] ?? `type-${t}`;
}
