// The since-arrival record of a received VM leaves out logged pages whose content is
// still what arrived — and only those: changed pages, pages written back and forth,
// and pages written without a fingerprint all stay marked.
import assert from 'node:assert/strict';
import { ArrivalFingerprints, CheckedSinceArrival } from '../node/vm-host/arrival-fingerprints.js';

const PAGE = 4096;

function logOf(pages: number, set: number[]): Uint8Array {
  const raw = new Uint8Array(Math.ceil(pages / 64) * 8);
  for (const p of set) raw[p >>> 3]! |= 1 << (p & 7);
  return raw;
}

describe('arrival fingerprints (return-trip precision for received VMs)', () => {
  const slots = [{ slot: 0, guestPhysAddr: 0, size: 64 * PAGE }];

  function received() {
    const ram = [new Uint8Array(32 * PAGE), new Uint8Array(32 * PAGE)]; // two windows
    const prints = new ArrivalFingerprints(slots);
    const views = ram.map((w, i) => prints.hook(0, i * 32, w));
    // What a receiver does: whole pages with set(), zero pages with fill().
    for (let p = 0; p < 40; p++) {
      const page = new Uint8Array(PAGE).fill(p + 1);
      views[p < 32 ? 0 : 1]!.set(page, (p % 32) * PAGE);
    }
    views[1]!.fill(0, 8 * PAGE, 9 * PAGE);   // page 40: an explicit zero page
    ram[1]![10 * PAGE] = 7;                    // page 42: written around the hooks (e.g. a kept image)
    prints.freeze();
    const arrival = new CheckedSinceArrival(2, slots, prints, () => views);
    return { views, prints, arrival };
  }

  it('drops pages that were only touched, keeps pages that changed', () => {
    const { views, prints, arrival } = received();
    assert.equal(prints.knownPages(), 41);
    views[0]![3 * PAGE + 100] ^= 0xff;          // page 3 really changed
    views[1]![5 * PAGE] = 37 + 1;                // page 37: same byte value as before (unchanged)
    arrival.recordLog(0, logOf(64, [1, 2, 3, 37, 40, 42, 50]));
    const m = arrival.bitmap(0);
    assert.deepEqual([1, 2, 3, 37, 40, 42, 50].filter((p) => m.test(p)), [3, 42, 50],
      'changed (3), no fingerprint (42: written around the hooks) and never received (50) stay; touched-only pages go');
    assert.equal(arrival.pagesFiltered, 4);
    assert.equal(arrival.generation, 2);
  });

  it('keeps a page once marked even if it is later written back to its arrival content', () => {
    const { views, arrival } = received();
    const original = views[0]![7 * PAGE]!;
    views[0]![7 * PAGE] = 200;
    arrival.recordLog(0, logOf(64, [7]));
    views[0]![7 * PAGE] = original;
    arrival.recordLog(0, logOf(64, [7]));
    assert.equal(arrival.bitmap(0).test(7), true);
  });

  it('ignores writes after freeze(): the guest running is not arrival content', () => {
    const ram = new Uint8Array(64 * PAGE);
    const prints = new ArrivalFingerprints(slots);
    const view = prints.hook(0, 0, ram);
    view.set(new Uint8Array(PAGE).fill(9), 0);
    prints.freeze();
    view.set(new Uint8Array(PAGE).fill(4), PAGE);
    assert.equal(prints.knownPages(), 1);
    assert.equal(prints.unchanged(0, 1, view.subarray(PAGE, 2 * PAGE)), false);
    assert.equal(prints.unchanged(0, 0, view.subarray(0, PAGE)), true);
  });
});
