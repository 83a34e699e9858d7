// `roam boot` from the outside: the real command in a child process, its exit
// status and what it tells a person who typed something wrong.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { requireKvm } from './support/kvm.js';
import { roam } from './support/cli.js';

describe('roam boot (CLI)', function () {
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'roam-cli-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('lists its commands with --help and refuses an unknown one', () => {
    const help = roam('--help');
    assert.equal(help.code, 0);
    assert.match(help.out, /boot\s+run a guest/);
    const bad = roam('bogus');
    assert.equal(bad.code, 2);
    assert.match(bad.err, /unknown command 'bogus'/);
  });

  it('offers --no-display on boot and run, and says what a VM gets without it', () => {
    for (const cmd of ['boot', 'run']) {
      const h = roam(cmd, '--help');
      assert.equal(h.code, 0);
      assert.match(h.out, /--no-display\s+no screen: the VM gets no framebuffer \(by default it has a 1024x768 one/, cmd);
    }
  });

  it('explains bad sizes and missing guests without starting a VM', () => {
    const cases: [string[], RegExp][] = [
      [['boot', 'probe', '--mem', '0'], /--mem must be a positive multiple of 2M/],
      [['boot', 'probe', '--mem', '3M'], /--mem must be a positive multiple of 2M/],
      [['boot', 'probe', '--mem', `${Math.ceil(totalmem() / 2 ** 30) + 2}G`], /more than this machine's RAM/],
      [['boot', 'probe', '--mem', 'lots'], /'lots' is not a size/],
      [['boot', join(dir, 'missing.elf')], /no such guest kernel/],
      [['boot', 'probe', '--entropy', '2'], /--entropy must be a number from 0 to 1/],
      [['boot'], /name one guest/],
    ];
    for (const [args, why] of cases) {
      const r = roam(...args);
      assert.equal(r.code, 2, `${args.join(' ')} → exit ${r.code}\n${r.err}`);
      assert.match(r.err, why, args.join(' '));
    }
  });

  it('refuses a file that is not an ELF kernel with a clear error', function () {
    requireKvm(this);
    const junk = join(dir, 'junk.elf');
    writeFileSync(junk, 'this is not a kernel\n'.repeat(100));
    const r = roam('boot', junk, '--mem', '32M', '--for', '2s');
    assert.equal(r.code, 1);
    assert.match(r.err, /ELF|multiboot/i);
    const empty = join(dir, 'empty.elf');
    writeFileSync(empty, '');
    const e = roam('boot', empty, '--mem', '32M', '--for', '2s', '--no-display');
    assert.equal(e.code, 1);
    assert.match(e.err, /empty|ELF|multiboot/i);
  });

  it('boots the probe guest and prints its heartbeat', function () {
    requireKvm(this);
    const r = roam('boot', 'probe', '--mem', '64M', '--ws', '4M', '--rate', '4M', '--for', '2s');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /PROBE boot/);
    assert.match(r.out, /HB seq=\d+ .* ok/);
    assert.match(r.err, /verification ok/);
  });
});
