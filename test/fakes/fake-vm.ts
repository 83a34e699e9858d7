// A fake VM for migration tests: RAM in ArrayBuffers (served as several windows per
// slot, like the real VM's ≤1 GiB windows), a KVM-like dirty log, and a "guest" that
// rewrites pages of a working set at a set rate from a timer while running (scaled
// down by the throttle). Every page the guest writes is self-describing (slot, page,
// version, a body derived from them, and a checksum), so a test can prove that memory
// arrived intact; hashes of RAM at pause (source) and at start (destination) prove the
// destination began with exactly the source's memory.
import { createHash } from 'node:crypto';
import { DirtyBitmap, SinceArrival } from '../../dirty-tracking/index.js';
import type { IncomingVm, VmHandle, VmHost, VmSpec, HostCheck, MigrationStream } from '../../migrate/index.js';

const PAGE = 4096;
const MAGIC = 0x524f414d; // "ROAM"

export interface Workload { pagesPerSec: number; workingSet: { slot: number; first: number; pages: number } }

export interface FakeVmOptions {
  id?: string;
  generation?: number;
  slotSizes?: number[];          // bytes per slot (default 8 MiB + 4 MiB)
  windowBytes?: number;          // window size served by memory() (default 1 MiB)
  populate?: number;             // pages written once at creation, spread over RAM
  workload?: Workload | null;
  cpuFeatures?: string[];
  tickMs?: number;
}

function mix(a: number): number {
  a = Math.imul(a ^ (a >>> 16), 0x85ebca6b); a = Math.imul(a ^ (a >>> 13), 0xc2b2ae35);
  return (a ^ (a >>> 16)) >>> 0;
}

export class FakeVm implements VmHandle, IncomingVm {
  spec: VmSpec;
  readonly ram = new Map<number, Uint8Array>();
  private readonly dirty = new Map<number, DirtyBitmap>();
  private running = false;
  private timer: NodeJS.Timeout | null = null;
  private seq = 0;            // guest-visible version counter (part of "CPU state")
  private rng = 12345;
  private carry = 0;
  throttle = 0;
  readonly throttleHistory: number[] = [];
  discarded = false;
  started = false;
  restored: Uint8Array | null = null;
  guestWrites = 0;
  /** sha256 per slot of RAM when paused last / when started (after restore). */
  hashAtPause: string | null = null;
  hashAtStart: string | null = null;
  arrival: SinceArrival | undefined;
  private readonly windowBytes: number;
  private readonly tickMs: number;
  workload: Workload | null;

  constructor(specOrOpts: VmSpec | FakeVmOptions, opts: FakeVmOptions = {}) {
    const o = 'slots' in specOrOpts ? opts : specOrOpts;
    this.windowBytes = o.windowBytes ?? 1 << 20;
    this.tickMs = o.tickMs ?? 5;
    this.workload = o.workload ?? null;
    if ('slots' in specOrOpts) {
      this.spec = specOrOpts;
    } else {
      const sizes = o.slotSizes ?? [8 << 20, 4 << 20];
      let gpa = 0;
      const slots = sizes.map((size, slot) => { const s = { slot, guestPhysAddr: gpa, size }; gpa += size + (slot === 0 ? 1 << 30 : 0); return s; });
      this.spec = { id: o.id ?? 'vm-test', generation: o.generation ?? 1, vcpus: 2, memBytes: sizes.reduce((a, b) => a + b, 0), slots, cpuFeatures: o.cpuFeatures ?? ['lm', 'nx'], devices: ['uart8250'] };
    }
    for (const s of this.spec.slots) {
      this.ram.set(s.slot, new Uint8Array(s.size));
      this.dirty.set(s.slot, new DirtyBitmap(s.size / PAGE));
    }
    const populate = o.populate ?? 0;
    const total = this.spec.memBytes / PAGE;
    for (let k = 0; k < populate; k++) {
      const g = Math.floor((k * total) / populate);
      const { slot, page } = this.globalPage(g);
      this.guestWrite(slot, page);
    }
  }

  private globalPage(g: number): { slot: number; page: number } {
    for (const s of this.spec.slots) { const n = s.size / PAGE; if (g < n) return { slot: s.slot, page: g }; g -= n; }
    throw new RangeError('page outside RAM');
  }

  /** The guest writes one page: header, a body derived from (slot, page, version), checksum last. */
  guestWrite(slot: number, page: number): void {
    const mem = this.ram.get(slot)!;
    const v = new DataView(mem.buffer, mem.byteOffset + page * PAGE, PAGE);
    const version = ++this.seq;
    v.setUint32(0, MAGIC, true); v.setUint32(4, slot, true); v.setUint32(8, page, true); v.setUint32(12, version, true);
    // First half: pseudo-random (incompressible); second half: a repeating word (compressible).
    let x = mix(slot * 0x9e3779b1 + page * 0x85ebca6b + version);
    for (let o = 16; o < PAGE / 2; o += 4) { x = mix(x + o); v.setUint32(o, x, true); }
    const fill = mix(version) | 1;
    for (let o = PAGE / 2; o < PAGE - 4; o += 4) v.setUint32(o, fill, true);
    let sum = 0;
    for (let o = 0; o < PAGE - 4; o += 4) sum = (sum + v.getUint32(o, true)) >>> 0;
    v.setUint32(PAGE - 4, sum, true);
    this.dirty.get(slot)!.set(page);
    this.guestWrites++;
  }

  /** Pages that are neither all-zero nor a valid guest write of this (slot, page). */
  corruptPages(): number {
    let bad = 0;
    for (const s of this.spec.slots) {
      const mem = this.ram.get(s.slot)!;
      for (let page = 0; page < s.size / PAGE; page++) {
        const v = new DataView(mem.buffer, mem.byteOffset + page * PAGE, PAGE);
        let zero = true;
        for (let o = 0; o < PAGE; o += 4) if (v.getUint32(o, true) !== 0) { zero = false; break; }
        if (zero) continue;
        let sum = 0;
        for (let o = 0; o < PAGE - 4; o += 4) sum = (sum + v.getUint32(o, true)) >>> 0;
        if (v.getUint32(0, true) !== MAGIC || v.getUint32(4, true) !== s.slot || v.getUint32(8, true) !== page || sum !== v.getUint32(PAGE - 4, true)) bad++;
      }
    }
    return bad;
  }

  ramHash(): string {
    const h = createHash('sha256');
    for (const s of this.spec.slots) h.update(this.ram.get(s.slot)!);
    return h.digest('hex');
  }

  nonZeroPages(): number {
    let n = 0;
    for (const mem of this.ram.values()) {
      const w = new Uint32Array(mem.buffer, mem.byteOffset, mem.byteLength / 4);
      for (let p = 0; p < w.length; p += PAGE / 4) { for (let i = p; i < p + PAGE / 4; i++) if (w[i] !== 0) { n++; break; } }
    }
    return n;
  }

  private tick(): void {
    const w = this.workload;
    if (!w || !this.running) return;
    this.carry += (w.pagesPerSec * (1 - this.throttle) * this.tickMs) / 1000;
    while (this.carry >= 1) {
      this.carry -= 1;
      this.rng = mix(this.rng + 1);
      this.guestWrite(w.workingSet.slot, w.workingSet.first + (this.rng % w.workingSet.pages));
    }
  }

  private run(): void {
    this.running = true;
    this.timer = setInterval(() => this.tick(), this.tickMs);
  }

  // ---- VmHandle ----
  memory(slot: number): Uint8Array[] {
    const mem = this.ram.get(slot);
    if (!mem) throw new RangeError(`no slot ${slot}`);
    const out: Uint8Array[] = [];
    for (let o = 0; o < mem.byteLength; o += this.windowBytes) out.push(mem.subarray(o, Math.min(mem.byteLength, o + this.windowBytes)));
    return out;
  }
  async dirtyLog(slot: number, out: Uint8Array, clear: boolean): Promise<void> {
    const d = this.dirty.get(slot);
    if (!d) throw new RangeError(`no slot ${slot}`);
    out.set(d.bytes);
    if (clear) d.clear();
  }
  /** Test hook: runs when the VM is paused (e.g. to kill the destination in stop-and-copy). */
  onPause: (() => void) | null = null;
  async pause(): Promise<void> {
    this.onPause?.();
    if (this.timer) clearInterval(this.timer);
    this.timer = null; this.running = false;
    this.hashAtPause = this.ramHash();
  }
  async resume(): Promise<void> { if (!this.running && !this.discarded) this.run(); }
  isRunning(): boolean { return this.running; }
  async setThrottle(share: number): Promise<void> { this.throttle = share; this.throttleHistory.push(share); }
  async saveState(): Promise<Uint8Array> {
    if (this.running) throw new Error('saveState needs a paused VM');
    return new TextEncoder().encode(JSON.stringify({ seq: this.seq, rng: this.rng, writes: this.guestWrites }));
  }

  // ---- IncomingVm ----
  async restoreState(state: Uint8Array): Promise<void> {
    const o = JSON.parse(new TextDecoder().decode(state)) as { seq: number; rng: number };
    this.seq = o.seq; this.rng = o.rng; this.restored = state;
  }
  async start(): Promise<void> {
    if (this.discarded) throw new Error('start after discard');
    this.hashAtStart = this.ramHash();
    this.started = true;
    for (const d of this.dirty.values()) d.clear();
    this.arrival = new SinceArrival(this.spec.generation, this.spec.slots.map((s) => ({ slot: s.slot, pages: s.size / PAGE })));
    this.run();
  }
  async discard(): Promise<void> {
    this.discarded = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null; this.running = false;
  }
  stop(): void { if (this.timer) clearInterval(this.timer); this.timer = null; this.running = false; }
}

/** A destination host that makes FakeVms; `maxMemBytes` and `cpuFeatures` decide what it can host. */
export class FakeHost implements VmHost {
  readonly created: FakeVm[] = [];
  constructor(private readonly opts: { maxMemBytes?: number; cpuFeatures?: string[]; workload?: Workload | null } = {}) {}
  check(spec: VmSpec): HostCheck {
    const max = this.opts.maxMemBytes ?? 1 << 30;
    if (spec.memBytes > max) return { ok: false, reason: `needs ${spec.memBytes} bytes of RAM, this host has ${max} free` };
    const have = new Set(this.opts.cpuFeatures ?? ['lm', 'nx', 'sse2']);
    const missing = spec.cpuFeatures.filter((f) => !have.has(f));
    if (missing.length) return { ok: false, reason: `CPU lacks features: ${missing.join(', ')}` };
    return { ok: true };
  }
  async createPaused(spec: VmSpec): Promise<FakeVm> {
    const vm = new FakeVm(spec, { workload: this.opts.workload ?? null });
    this.created.push(vm);
    return vm;
  }
  last(): FakeVm | undefined { return this.created[this.created.length - 1]; }
}

/**
 * A stream wrapper that only moves `bytesPerSec` to the real stream, with real
 * backpressure (send() returns false past a small buffer), to model a slow link.
 */
export class SlowLink implements MigrationStream {
  private queue: Uint8Array[] = [];
  private queued = 0;
  private drainWaiters: { res: () => void; rej: (e: Error) => void }[] = [];
  private timer: NodeJS.Timeout;
  private dead: Error | null = null;
  constructor(private readonly inner: MigrationStream, private readonly bytesPerSec: number, private readonly limit = 64 << 10) {
    const tick = 10;
    this.timer = setInterval(() => {
      let budget = (this.bytesPerSec * tick) / 1000;
      while (budget > 0 && this.queue.length) {
        const head = this.queue[0]!;
        const n = Math.min(head.byteLength, Math.ceil(budget));
        try { this.inner.send(head.subarray(0, n)); } catch (e) { this.fail(e as Error); return; }
        budget -= n; this.queued -= n;
        if (n === head.byteLength) this.queue.shift(); else this.queue[0] = head.subarray(n);
      }
      if (this.queued < this.limit) { const w = this.drainWaiters; this.drainWaiters = []; w.forEach((f) => f.res()); }
    }, tick);
  }
  private fail(e: Error): void {
    this.dead = e; clearInterval(this.timer); this.queue = [];
    const w = this.drainWaiters; this.drainWaiters = []; w.forEach((f) => f.rej(e));
  }
  send(data: Uint8Array): boolean {
    if (this.dead) throw this.dead;
    this.queue.push(data.slice()); this.queued += data.byteLength;
    return this.queued < this.limit;
  }
  onDrain(): Promise<void> {
    if (this.dead) return Promise.reject(this.dead);
    if (this.queued < this.limit) return Promise.resolve();
    return new Promise((res, rej) => this.drainWaiters.push({ res, rej }));
  }
  async close(): Promise<void> {
    while (this.queued > 0 && !this.dead) await new Promise((r) => setTimeout(r, 10));
    clearInterval(this.timer);
    await this.inner.close();
  }
  abort(err: Error): void { this.fail(err); this.inner.abort(err); }
  [Symbol.asyncIterator]() { return this.inner[Symbol.asyncIterator](); }
}

/** Two libp2p nodes on loopback (TCP + Noise + Yamux); `b` serves /roam/migrate/1.0.0 through `handler`. */
type Handler = (s: MigrationStream, peer: string) => Promise<void>;
export async function startPair(handler: Handler): Promise<{ open: () => Promise<MigrationStream>; stop: () => Promise<void>; a: unknown; b: unknown; setHandler: (h: Handler) => void }> {
  const { createLibp2p } = await import('libp2p');
  const { tcp } = await import('@libp2p/tcp');
  const { noise } = await import('@chainsafe/libp2p-noise');
  const { yamux } = await import('@chainsafe/libp2p-yamux');
  const { PROTOCOL } = await import('../../migrate/index.js');
  const mk = () => createLibp2p({ addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] }, transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()] });
  const a = await mk(); const b = await mk();
  let current = handler;
  await b.handle(PROTOCOL, async (stream: any, conn: any) => { await current(stream as MigrationStream, String(conn.remotePeer)); }, { maxInboundStreams: 64 });
  const addr = b.getMultiaddrs()[0]!;
  return {
    a, b,
    open: async () => (await a.dialProtocol(addr, PROTOCOL)) as unknown as MigrationStream,
    stop: async () => { await a.stop(); await b.stop(); },
    setHandler: (h) => { current = h; },
  };
}
