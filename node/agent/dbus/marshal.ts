// D-Bus wire marshalling (the subset of the specification roamd needs, which
// is every basic type, arrays, structs, dict entries and variants). Values:
// numbers for y n q i u h d, bigint for x t, boolean for b, string for s o g,
// arrays for `a` and for structs/dict entries, {sig, value} for variants.
// Decoding treats the bytes as hostile: every length, offset, nesting depth
// and string is checked before it is used, and any violation is a DBusWireError.

export type DBusValue = number | bigint | boolean | string | DBusValue[] | DBusVariant;
export interface DBusVariant { sig: string; value: DBusValue }

export class DBusWireError extends Error {}

const MAX_DEPTH = 32;
const MAX_SIG = 255;
/** Arrays longer than this (bytes) are refused; the spec allows 64 MiB, roamd needs a few KiB. */
export const MAX_ARRAY_BYTES = 1 << 20;

const BASIC_ALIGN: Record<string, number> = { y: 1, b: 4, n: 2, q: 2, i: 4, u: 4, x: 8, t: 8, d: 8, h: 4, s: 4, o: 4, g: 1, v: 1 };

export function alignOf(code: string): number {
  if (code === 'a') return 4;
  if (code === '(' || code === '{') return 8;
  const a = BASIC_ALIGN[code];
  if (a === undefined) throw new DBusWireError(`unknown type code '${code.slice(0, 1)}'`);
  return a;
}

/** Splits a signature into its complete types ("a{sv}u" → ["a{sv}", "u"]); throws on a malformed one. */
export function splitSignature(sig: string): string[] {
  if (sig.length > MAX_SIG) throw new DBusWireError(`signature longer than ${MAX_SIG}`);
  const out: string[] = [];
  let i = 0;
  while (i < sig.length) { const end = completeType(sig, i, 0, 0); out.push(sig.slice(i, end)); i = end; }
  return out;
}

/** Index just past the complete type that starts at `i`. */
function completeType(sig: string, i: number, arrays: number, structs: number): number {
  const c = sig[i];
  if (c === undefined) throw new DBusWireError(`signature '${sig}' ends inside a type`);
  if (c === 'a') {
    if (arrays >= MAX_DEPTH) throw new DBusWireError('signature nests arrays too deeply');
    if (sig[i + 1] === '{') {
      const k = sig[i + 2];
      if (k === undefined || !(k in BASIC_ALIGN) || k === 'v') throw new DBusWireError(`dict key in '${sig}' is not a basic type`);
      const v = completeType(sig, i + 3, arrays + 1, structs + 1);
      if (sig[v] !== '}') throw new DBusWireError(`dict entry in '${sig}' is not closed`);
      return v + 1;
    }
    return completeType(sig, i + 1, arrays + 1, structs);
  }
  if (c === '(') {
    if (structs >= MAX_DEPTH) throw new DBusWireError('signature nests structs too deeply');
    let j = i + 1;
    if (sig[j] === ')') throw new DBusWireError('empty struct in signature');
    while (sig[j] !== ')') { if (j >= sig.length) throw new DBusWireError(`struct in '${sig}' is not closed`); j = completeType(sig, j, arrays, structs + 1); }
    return j + 1;
  }
  if (c in BASIC_ALIGN) return i + 1;
  throw new DBusWireError(`unknown type code '${c}' in signature`);
}

const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

export class Writer {
  private buf = Buffer.alloc(256);
  length = 0;
  constructor(readonly little = true) {}

  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const next = Buffer.alloc(Math.max(this.buf.length * 2, this.length + n));
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }

  align(n: number): void { const pad = (n - (this.length % n)) % n; this.room(pad); this.buf.fill(0, this.length, this.length + pad); this.length += pad; }
  bytes(): Buffer { return this.buf.subarray(0, this.length); }

  private u8(v: number): void { this.room(1); this.buf.writeUInt8(v, this.length); this.length += 1; }
  private u32(v: number): void { this.align(4); this.room(4); this.little ? this.buf.writeUInt32LE(v, this.length) : this.buf.writeUInt32BE(v, this.length); this.length += 4; }

  /** Writes the values for a whole signature (e.g. "ssa{sv}"). */
  write(sig: string, values: readonly DBusValue[]): this {
    const types = splitSignature(sig);
    if (types.length !== values.length) throw new DBusWireError(`signature '${sig}' has ${types.length} values, ${values.length} given`);
    types.forEach((t, k) => this.value(t, values[k]!));
    return this;
  }

  value(t: string, v: DBusValue): void {
    const c = t[0]!;
    const num = (x: DBusValue) => { if (typeof x !== 'number' || !Number.isFinite(x)) throw new DBusWireError(`'${c}' wants a number`); return x; };
    switch (c) {
      case 'y': this.u8(num(v) & 0xff); return;
      case 'b': this.u32(v === true ? 1 : 0); return;
      case 'n': case 'q': { this.align(2); this.room(2); const x = num(v); if (c === 'n') { this.little ? this.buf.writeInt16LE(x, this.length) : this.buf.writeInt16BE(x, this.length); } else { this.little ? this.buf.writeUInt16LE(x, this.length) : this.buf.writeUInt16BE(x, this.length); } this.length += 2; return; }
      case 'i': { this.align(4); this.room(4); this.little ? this.buf.writeInt32LE(num(v), this.length) : this.buf.writeInt32BE(num(v), this.length); this.length += 4; return; }
      case 'u': case 'h': this.u32(num(v)); return;
      case 'x': case 't': {
        this.align(8); this.room(8);
        const b = typeof v === 'bigint' ? v : BigInt(num(v));
        if (c === 'x') { this.little ? this.buf.writeBigInt64LE(b, this.length) : this.buf.writeBigInt64BE(b, this.length); } else { this.little ? this.buf.writeBigUInt64LE(b, this.length) : this.buf.writeBigUInt64BE(b, this.length); }
        this.length += 8; return;
      }
      case 'd': { this.align(8); this.room(8); this.little ? this.buf.writeDoubleLE(num(v), this.length) : this.buf.writeDoubleBE(num(v), this.length); this.length += 8; return; }
      case 's': case 'o': {
        if (typeof v !== 'string' || v.includes('\0')) throw new DBusWireError(`'${c}' wants a string without NUL`);
        const b = utf8.encode(v); this.u32(b.length); this.room(b.length + 1); this.buf.set(b, this.length); this.length += b.length; this.u8(0); return;
      }
      case 'g': {
        if (typeof v !== 'string') throw new DBusWireError('\'g\' wants a signature string');
        splitSignature(v); const b = utf8.encode(v); this.u8(b.length); this.room(b.length + 1); this.buf.set(b, this.length); this.length += b.length; this.u8(0); return;
      }
      case 'v': {
        const vv = v as DBusVariant;
        if (!vv || typeof vv !== 'object' || Array.isArray(vv) || splitSignature(vv.sig).length !== 1) throw new DBusWireError('\'v\' wants {sig, value} with one complete type');
        this.value('g', vv.sig); this.value(vv.sig, vv.value); return;
      }
      case 'a': {
        if (!Array.isArray(v)) throw new DBusWireError(`'${t}' wants an array`);
        const elem = t.slice(1);
        this.u32(0);
        const lenAt = this.length - 4;
        this.align(alignOf(elem[0]!));
        const start = this.length;
        for (const x of v) this.value(elem, x);
        const n = this.length - start;
        this.little ? this.buf.writeUInt32LE(n, lenAt) : this.buf.writeUInt32BE(n, lenAt);
        return;
      }
      case '(': case '{': {
        if (!Array.isArray(v)) throw new DBusWireError(`'${t}' wants an array of its members`);
        const inner = splitSignature(t.slice(1, -1));
        if (inner.length !== v.length) throw new DBusWireError(`'${t}' has ${inner.length} members, ${v.length} given`);
        this.align(8);
        inner.forEach((it, k) => this.value(it, v[k]!));
        return;
      }
      default: throw new DBusWireError(`cannot write type '${c}'`);
    }
  }
}

export class Reader {
  pos: number;
  constructor(private readonly buf: Buffer, readonly little: boolean, start = 0, private readonly end = buf.length) { this.pos = start; }

  private need(n: number): void { if (n < 0 || this.pos + n > this.end) throw new DBusWireError('message ends inside a value'); }
  align(n: number): void {
    const pad = (n - (this.pos % n)) % n;
    this.need(pad);
    for (let k = 0; k < pad; k++) if (this.buf[this.pos + k] !== 0) throw new DBusWireError('non-zero padding');
    this.pos += pad;
  }
  private u8(): number { this.need(1); return this.buf[this.pos++]!; }
  u32(): number { this.align(4); this.need(4); const v = this.little ? this.buf.readUInt32LE(this.pos) : this.buf.readUInt32BE(this.pos); this.pos += 4; return v; }
  get remaining(): number { return this.end - this.pos; }

  read(sig: string): DBusValue[] { return splitSignature(sig).map((t) => this.value(t, 0)); }

  value(t: string, depth: number): DBusValue {
    if (depth > MAX_DEPTH * 2) throw new DBusWireError('values nest too deeply');
    const c = t[0]!;
    switch (c) {
      case 'y': return this.u8();
      case 'b': { const v = this.u32(); if (v > 1) throw new DBusWireError('boolean is neither 0 nor 1'); return v === 1; }
      case 'n': case 'q': { this.align(2); this.need(2); const v = c === 'n' ? (this.little ? this.buf.readInt16LE(this.pos) : this.buf.readInt16BE(this.pos)) : (this.little ? this.buf.readUInt16LE(this.pos) : this.buf.readUInt16BE(this.pos)); this.pos += 2; return v; }
      case 'i': { this.align(4); this.need(4); const v = this.little ? this.buf.readInt32LE(this.pos) : this.buf.readInt32BE(this.pos); this.pos += 4; return v; }
      case 'u': case 'h': return this.u32();
      case 'x': case 't': { this.align(8); this.need(8); const v = c === 'x' ? (this.little ? this.buf.readBigInt64LE(this.pos) : this.buf.readBigInt64BE(this.pos)) : (this.little ? this.buf.readBigUInt64LE(this.pos) : this.buf.readBigUInt64BE(this.pos)); this.pos += 8; return v; }
      case 'd': { this.align(8); this.need(8); const v = this.little ? this.buf.readDoubleLE(this.pos) : this.buf.readDoubleBE(this.pos); this.pos += 8; return v; }
      case 's': case 'o': { const n = this.u32(); return this.str(n); }
      case 'g': { const n = this.u8(); const s = this.str(n); splitSignature(s); return s; }
      case 'v': {
        const sig = this.value('g', depth) as string;
        if (splitSignature(sig).length !== 1) throw new DBusWireError('variant signature is not one complete type');
        return { sig, value: this.value(sig, depth + 1) };
      }
      case 'a': {
        const n = this.u32();
        if (n > MAX_ARRAY_BYTES) throw new DBusWireError(`array of ${n} bytes is longer than allowed`);
        const elem = t.slice(1);
        this.align(alignOf(elem[0]!));
        this.need(n);
        const stop = this.pos + n;
        const out: DBusValue[] = [];
        while (this.pos < stop) out.push(this.value(elem, depth + 1));
        if (this.pos !== stop) throw new DBusWireError('array elements overrun the array length');
        return out;
      }
      case '(': case '{': {
        this.align(8);
        return splitSignature(t.slice(1, -1)).map((it) => this.value(it, depth + 1));
      }
      default: throw new DBusWireError(`cannot read type '${c}'`);
    }
  }

  private str(n: number): string {
    this.need(n + 1);
    if (this.buf[this.pos + n] !== 0) throw new DBusWireError('string is not NUL-terminated');
    const bytes = this.buf.subarray(this.pos, this.pos + n);
    if (bytes.includes(0)) throw new DBusWireError('string holds a NUL byte');
    let s: string;
    try { s = strictUtf8.decode(bytes); } catch { throw new DBusWireError('string is not valid UTF-8'); }
    this.pos += n + 1;
    return s;
  }
}
