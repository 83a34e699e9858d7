// The D-Bus marshalling roamd decodes bus traffic with: round trips of every
// type it uses, and hostile bytes (truncated, oversized, bad padding, bad
// booleans, bad UTF-8, deep nesting, random corruption) refused with a
// DBusWireError — never another exception, never a read past the message.
import assert from 'node:assert/strict';
import { Reader, Writer, DBusWireError, MAX_ARRAY_BYTES, splitSignature, type DBusValue } from '../node/agent/dbus/marshal.js';
import { MsgType, decodeMessage, encodeMessage, frameLength, splitMessages, MAX_MESSAGE_BYTES } from '../node/agent/dbus/message.js';
import { socketPathOf } from '../node/agent/dbus/address.js';

const propsChanged = () => encodeMessage({
  type: MsgType.Signal, flags: 0, serial: 7, path: '/org/freedesktop/login1', interface: 'org.freedesktop.DBus.Properties',
  member: 'PropertiesChanged', sender: ':1.4', signature: 'sa{sv}as',
  body: ['org.freedesktop.login1.Manager', [['LidClosed', { sig: 'b', value: true }], ['Weird', { sig: '(xt)', value: [-5n, 2n ** 63n] }]], ['HandleLidSwitch']],
});

describe('D-Bus wire format (lid watcher)', () => {
  it('round-trips a PropertiesChanged signal with nested variants, 64-bit values and string arrays', () => {
    const bytes = propsChanged();
    assert.equal(frameLength(bytes), bytes.length);
    const m = decodeMessage(bytes);
    assert.equal(m.type, MsgType.Signal);
    assert.equal(m.member, 'PropertiesChanged');
    assert.equal(m.sender, ':1.4');
    assert.deepEqual(m.body, ['org.freedesktop.login1.Manager', [['LidClosed', { sig: 'b', value: true }], ['Weird', { sig: '(xt)', value: [-5n, 2n ** 63n] }]], ['HandleLidSwitch']]);
  });

  it('round-trips every basic type, in both byte orders', () => {
    const sig = 'ybnqiuxtdsogh';
    const values: DBusValue[] = [255, true, -2, 65535, -7, 4_000_000_000, -(2n ** 62n), 2n ** 64n - 1n, 1.5, 'lid ☂', '/a/b', 'a{sv}', 3];
    for (const little of [true, false]) {
      const w = new Writer(little).write(sig, values);
      assert.deepEqual(new Reader(w.bytes(), little).read(sig), values);
    }
  });

  it('splits a stream into messages at any chunking', () => {
    const a = propsChanged();
    const b = encodeMessage({ type: MsgType.MethodReturn, flags: 0, serial: 9, replySerial: 2, signature: 'h', body: [0], unixFds: 1 });
    const all = Buffer.concat([a, b]);
    for (const cut of [1, 15, 16, a.length - 1, a.length, a.length + 3]) {
      const first = splitMessages(all.subarray(0, cut));
      const second = splitMessages(Buffer.concat([first.rest, all.subarray(cut)]));
      const got = [...first.messages, ...second.messages];
      assert.equal(got.length, 2, `cut at ${cut}`);
      assert.equal(got[1]!.unixFds, 1);
      assert.equal(second.rest.length, 0);
    }
  });

  it('refuses hostile bytes with a DBusWireError', () => {
    const ok = propsChanged();
    const mutate = (f: (b: Buffer) => void) => { const b = Buffer.from(ok); f(b); return b; };
    const cases: [string, Buffer][] = [
      ['bad endianness', mutate((b) => { b[0] = 0x41; })],
      ['bad version', mutate((b) => { b[3] = 2; })],
      ['huge body length', mutate((b) => b.writeUInt32LE(MAX_MESSAGE_BYTES + 1, 4))],
      ['huge header length', mutate((b) => b.writeUInt32LE(0xfffffff0, 12))],
      ['zero serial', mutate((b) => b.writeUInt32LE(0, 8))],
      ['unknown message type', mutate((b) => { b[1] = 9; })],
    ];
    for (const [what, b] of cases) assert.throws(() => splitMessages(b), DBusWireError, what);
    // Truncated: not a message yet, and decoding it as one is refused.
    assert.throws(() => decodeMessage(ok.subarray(0, ok.length - 1)), DBusWireError);
    // Values inside a body.
    const r = (hex: string, sig: string) => () => new Reader(Buffer.from(hex, 'hex'), true).read(sig);
    assert.throws(r('02000000', 'b'), /neither 0 nor 1/);
    assert.throws(r('05000000616263', 's'), /ends inside/);
    assert.throws(r('0300000061626301', 's'), /NUL-terminated/);
    assert.throws(r('02000000c3280000', 's'), /UTF-8/);
    assert.throws(r('01ff', 'yq'), /padding/);
    assert.throws(r(Buffer.alloc(4).fill(0xff).toString('hex'), 'ai'), /longer than allowed/);
    const big = Buffer.alloc(4); big.writeUInt32LE(MAX_ARRAY_BYTES);
    assert.throws(r(big.toString('hex'), 'ay'), /ends inside/);
    assert.throws(() => splitSignature('a'.repeat(40) + 'y'), /too deeply/);
    assert.throws(() => splitSignature('(yy'), /not closed/);
    assert.throws(() => splitSignature('a{vy}'), /not a basic type/);
    assert.throws(() => splitSignature('z'), /unknown type code/);
  });

  it('random corruption of a valid message is either decoded or refused with a DBusWireError', () => {
    const ok = propsChanged();
    let seed = 12345;
    const rand = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed; };
    let refused = 0;
    for (let i = 0; i < 3000; i++) {
      const b = Buffer.from(ok);
      for (let k = 1 + (rand() % 4); k > 0; k--) b[rand() % b.length] = rand() & 0xff;
      const cut = rand() % 7 === 0 ? b.subarray(0, rand() % b.length) : b;
      try { splitMessages(cut); } catch (e) {
        assert.ok(e instanceof DBusWireError, `iteration ${i}: ${(e as Error).stack}`);
        refused++;
      }
    }
    assert.ok(refused > 0, 'some corruptions were caught');
  });

  it('parses bus addresses and says which ones it cannot use', () => {
    assert.equal(socketPathOf('unix:path=/run/dbus/system_bus_socket'), '/run/dbus/system_bus_socket');
    assert.equal(socketPathOf('unix:abstract=/tmp/dbus-x,guid=12'), '\0/tmp/dbus-x');
    assert.equal(socketPathOf('tcp:host=a,port=1;unix:path=/a%20b'), '/a b');
    assert.throws(() => socketPathOf('tcp:host=a,port=1'), /no usable D-Bus address.*only unix/);
    assert.throws(() => socketPathOf('unix:tmpdir=/tmp'), /needs path= or abstract=/);
  });
});
