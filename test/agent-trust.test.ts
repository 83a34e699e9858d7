// Household trust without a network: invite tokens are single-use and expire,
// invite codes are decoded defensively, membership proofs bind both peer ids,
// the wire refuses oversized frames, and the /roam/peer exchange over an
// in-memory stream pair lets members in and keeps strangers out.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Household } from '../node/agent/household.js';
import { agentPaths } from '../node/agent/paths.js';
import { decodeInvite, encodeInvite } from '../node/agent/invite-code.js';
import { checkProof, membershipProof } from '../node/agent/proof.js';
import { JsonWire, MAX_WIRE_FRAME, type WireStream } from '../node/agent/wire.js';
import { answerExchange, startExchange, NotAMember, type ExchangeContext } from '../node/agent/peer-exchange.js';
import { collectRecord } from '../discovery/index.js';

/** Two connected in-memory streams with the libp2p 3 surface the wire uses. */
function streamPair(): [WireStream, WireStream] {
  class Pipe implements WireStream {
    peer!: Pipe;
    private queue: Uint8Array[] = [];
    private waiting: ((r: IteratorResult<Uint8Array>) => void) | undefined;
    private ended = false;
    private error: Error | undefined;
    send(data: Uint8Array): boolean { this.peer.push(data); return true; }
    async onDrain(): Promise<void> {}
    async close(): Promise<void> { this.peer.end(); }
    abort(err: Error): void { this.error = err; this.peer.fail(new Error('The stream has been reset')); this.end(); }
    push(d: Uint8Array) { if (this.waiting) { const w = this.waiting; this.waiting = undefined; w({ value: d, done: false }); } else this.queue.push(d); }
    end() { this.ended = true; if (this.waiting) { const w = this.waiting; this.waiting = undefined; w({ value: undefined, done: true }); } }
    fail(e: Error) { this.error = e; this.end(); }
    [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
      return {
        next: () => {
          if (this.queue.length) return Promise.resolve({ value: this.queue.shift()!, done: false });
          if (this.error && this.ended) return Promise.reject(this.error);
          if (this.ended) return Promise.resolve({ value: undefined, done: true });
          return new Promise((r) => { this.waiting = r; });
        },
      };
    }
  }
  const a = new Pipe(); const b = new Pipe();
  a.peer = b; b.peer = a;
  return [a, b];
}

describe('agent: household trust', () => {
  let root: string;
  beforeEach(() => { root = mkdtempSync(join(tmpdir(), 'roam-trust-')); });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('creates a household with a private secret and spends an invite exactly once', () => {
    const paths = agentPaths(root);
    const h = new Household(paths);
    h.create('home');
    assert.equal(statSync(paths.household).mode & 0o777, 0o600);
    assert.throws(() => h.create('again'), /already belongs to household 'home'/);
    const { token } = h.newInviteToken();
    h.redeemInvite(token, 'peerB');
    assert.throws(() => h.redeemInvite(token, 'peerC'), /already used/);
    assert.throws(() => h.redeemInvite('not-a-token', 'peerC'), /invite code is wrong/);
    // A restarted roamd remembers the spent token.
    assert.throws(() => new Household(paths).redeemInvite(token, 'peerD'), /already used/);
  });

  it('refuses an expired invite', () => {
    const h = new Household(agentPaths(root));
    h.create('home');
    const t0 = Date.now();
    const { token, expiresAt } = h.newInviteToken(t0);
    assert.throws(() => h.redeemInvite(token, 'peerB', expiresAt + 1), /expired/);
  });

  it('refuses a forgotten member even if it is added again', () => {
    const h = new Household(agentPaths(root));
    h.create('home');
    h.addMember({ peerId: 'peerB', name: 'laptop', addrs: [] });
    assert.equal(h.isMember('peerB'), true);
    h.forget('peerB');
    h.addMember({ peerId: 'peerB', name: 'laptop', addrs: [] });
    assert.equal(h.isMember('peerB'), false);
    assert.equal(new Household(agentPaths(root)).isMember('peerB'), false, 'forgetting survives a restart');
  });

  it('decodes invite codes defensively', () => {
    const code = encodeInvite({ householdId: 'h1', inviter: 'peerA', addrs: ['/ip4/10.0.0.1/tcp/1'], token: 't' });
    assert.deepEqual(decodeInvite(`  ${code}\n`), { householdId: 'h1', inviter: 'peerA', addrs: ['/ip4/10.0.0.1/tcp/1'], token: 't' });
    assert.throws(() => decodeInvite('hello'), /does not start with 'roam1-'/);
    assert.throws(() => decodeInvite('roam1-' + 'A'.repeat(5000)), /too long/);
    assert.throws(() => decodeInvite('roam1-%%%'), /damaged/);
    const noAddr = 'roam1-' + Buffer.from(JSON.stringify({ h: 'h', p: 'p', a: [], t: 't' })).toString('base64url');
    assert.throws(() => decodeInvite(noAddr), /no inviter address/);
  });

  it('binds a membership proof to the secret, both peer ids and the nonce', () => {
    const s = Buffer.alloc(32, 7);
    const p = membershipProof(s, 'h', 'A', 'B', 'n');
    assert.equal(checkProof(s, 'h', 'A', 'B', 'n', p), true);
    assert.equal(checkProof(s, 'h', 'B', 'A', 'n', p), false, 'not valid the other way round');
    assert.equal(checkProof(s, 'h', 'A', 'C', 'n', p), false, 'not valid towards another verifier');
    assert.equal(checkProof(s, 'h', 'A', 'B', 'm', p), false);
    assert.equal(checkProof(Buffer.alloc(32, 8), 'h', 'A', 'B', 'n', p), false);
    assert.equal(checkProof(s, 'h', 'A', 'B', 'n', 'x'.repeat(1000)), false);
  });

  it('exchanges records between members and refuses a stranger before telling it anything', async () => {
    const secret = Buffer.alloc(32, 1);
    const ctx = (self: string, sec = secret): ExchangeContext => ({ self, householdId: 'h', secret: sec, record: () => collectRecord(self, 'desktop', []) });
    const [a, b] = streamPair();
    const [ra, rb] = await Promise.all([startExchange(a, 'bob', ctx('alice')), answerExchange(b, 'alice', ctx('bob'))]);
    assert.equal(ra.name, 'bob');
    assert.equal(rb.name, 'alice');

    const [x, y] = streamPair();
    const got: unknown[] = [];
    const spy: WireStream = { ...y, send: (d) => { got.push(d); return y.send(d); }, onDrain: () => y.onDrain(), close: () => y.close(), abort: (e) => y.abort(e), [Symbol.asyncIterator]: () => y[Symbol.asyncIterator]() };
    const results = await Promise.allSettled([
      startExchange(x, 'bob', ctx('mallory', Buffer.alloc(32, 9))),
      answerExchange(spy, 'mallory', ctx('bob')).catch((e) => { y.abort(e as Error); throw e; }),
    ]);
    assert.equal(results[1].status, 'rejected');
    assert.ok((results[1] as PromiseRejectedResult).reason instanceof NotAMember);
    assert.equal(results[0].status, 'rejected');
    assert.equal(got.length, 0, 'the listener wrote nothing to a non-member');
  });

  it('refuses a frame over the limit before buffering it', async () => {
    const [a, b] = streamPair();
    const header = Buffer.alloc(4); header.writeUInt32BE(MAX_WIRE_FRAME + 1);
    a.send(header);
    await assert.rejects(new JsonWire(b).read(), /over the 65536-byte limit/);
    const [c, d] = streamPair();
    const body = Buffer.from('[1,2]'); const h2 = Buffer.alloc(4); h2.writeUInt32BE(body.length);
    c.send(Buffer.concat([h2, body]));
    await assert.rejects(new JsonWire(d).read(), /not a JSON object/);
  });
});
