// Where a member's web page listens, as members tell each other beside their
// records (node/web/member-web.ts): what a roamd says for each kind of bind,
// what is refused from the wire, and which address a link to a member uses.
import assert from 'node:assert/strict';
import { advertOf, lanAddressOf, parseAdvert, urlHost } from '../node/web/member-web.js';

describe('web: where a member\'s page listens', () => {
  it('says reachable from the LAN only for a bind wider than loopback, and names a single bound address', () => {
    assert.deepEqual(advertOf({ host: '127.0.0.1', port: 7420 }), { port: 7420, lan: false, host: '127.0.0.1' });
    assert.deepEqual(advertOf({ host: 'localhost', port: 7420 }), { port: 7420, lan: false, host: 'localhost' });
    assert.deepEqual(advertOf({ host: '::1', port: 7420 }), { port: 7420, lan: false, host: '::1' });
    assert.deepEqual(advertOf({ host: '0.0.0.0', port: 7420 }), { port: 7420, lan: true, host: null });
    assert.deepEqual(advertOf({ host: '::', port: 8000 }), { port: 8000, lan: true, host: null });
    assert.deepEqual(advertOf({ host: '192.168.1.20', port: 7420 }), { port: 7420, lan: true, host: '192.168.1.20' });
    assert.deepEqual(advertOf(null), { port: null, lan: false, host: null });
  });

  it('refuses a malformed advert from the wire', () => {
    for (const [bad, why] of [
      [null, /object/], [[1], /object/], [{ port: 0, lan: true, host: null }, /port/], [{ port: 70000, lan: true, host: null }, /port/],
      [{ port: 1.5, lan: true, host: null }, /port/], [{ port: 80, lan: 'yes', host: null }, /lan/],
      [{ port: 80, lan: true, host: 'evil.example/path' }, /host/], [{ port: 80, lan: true, host: 'a'.repeat(300) }, /host/],
      [{ port: 80, lan: true, host: 'x@y' }, /host/], [{ port: 80, lan: true }, /host/],
    ] as [unknown, RegExp][]) assert.throws(() => parseAdvert(bad), why, JSON.stringify(bad));
    assert.deepEqual(parseAdvert({ port: 7420, lan: true, host: 'fd00::5', extra: 1 }), { port: 7420, lan: true, host: 'fd00::5' });
  });

  it('links to the bound address, else the member\'s LAN address from the directory (never loopback or link-local)', () => {
    const addrs = ['/ip4/127.0.0.1/tcp/4001', '/ip6/fe80::1/tcp/4001', '/ip4/169.254.3.3/tcp/4001', '/ip4/10.0.0.7/tcp/4001/p2p/x', '/ip6/fd00::7/tcp/4001'];
    assert.equal(lanAddressOf(addrs), '10.0.0.7');
    assert.equal(lanAddressOf(['/ip4/127.0.0.1/tcp/1', '/ip6/fd00::7/tcp/4001']), '[fd00::7]');
    assert.equal(lanAddressOf(['/ip4/127.0.0.1/tcp/1', '/ip6/::1/tcp/1']), null);
    assert.equal(urlHost({ port: 7420, lan: true, host: null }, addrs), '10.0.0.7');
    assert.equal(urlHost({ port: 7420, lan: true, host: '192.168.1.20' }, addrs), '192.168.1.20');
    assert.equal(urlHost({ port: 7420, lan: true, host: 'fd00::9' }, addrs), '[fd00::9]');
  });
});
