import assert from 'node:assert/strict';
import { mergeTrees, conflictStamp, type FlatTree } from '../storage/merge.js';
import type { TreeEntry } from '../storage/objects.js';

const f = (path: string, content: string): [string, TreeEntry] => [path, {
  name: path.split('/').pop()!, kind: 'file', mode: 0o644, mtimeMs: 1, size: content.length, hash: content.padEnd(64, '0'), target: '',
}];
const tree = (...files: Array<[string, TreeEntry]>): FlatTree => ({ files: new Map(files), dirs: new Map() });
const contents = (t: FlatTree) => Object.fromEntries([...t.files].map(([p, e]) => [p, e.hash.replace(/0+$/, '')]));
const now = new Date(Date.UTC(2026, 10, 21, 9, 5, 3));
const opts = { machine: 'lap top', now };

describe('storage: three-way merge', () => {
  it('takes one-sided changes, additions and deletions', () => {
    const base = tree(f('same', 'a'), f('theirs', 'b'), f('ours', 'c'), f('gone-there', 'd'), f('gone-here', 'e'));
    const local = tree(f('same', 'a'), f('theirs', 'b'), f('ours', 'C'), f('gone-there', 'd'), f('new-here', 'x'));
    const remote = tree(f('same', 'a'), f('theirs', 'B'), f('ours', 'c'), f('gone-here', 'e'), f('new-there', 'y'));
    const m = mergeTrees(local, remote, base, opts);
    assert.deepEqual(contents(m.tree), { same: 'a', theirs: 'B', ours: 'C', 'new-here': 'x', 'new-there': 'y' });
    assert.deepEqual(m.conflicts, []);
  });

  it('keeps both versions of a file changed on both sides, naming the local copy', () => {
    const m = mergeTrees(tree(f('d/n.txt', 'L')), tree(f('d/n.txt', 'R')), tree(f('d/n.txt', 'B')), opts);
    assert.equal(conflictStamp(now), '20261121T090503');
    assert.deepEqual(contents(m.tree), { 'd/n.txt': 'R', 'd/n.txt.conflict-lap_top-20261121T090503': 'L' });
    assert.deepEqual(m.conflicts, [{ path: 'd/n.txt', kind: 'both-modified', keptAs: 'd/n.txt.conflict-lap_top-20261121T090503' }]);
    assert.equal(m.tree.files.get('d/n.txt.conflict-lap_top-20261121T090503')!.name, 'n.txt.conflict-lap_top-20261121T090503');
    assert.ok(m.tree.dirs.has('d'));
  });

  it('never lets a deletion beat a modification', () => {
    const a = mergeTrees(tree(), tree(f('x', 'R')), tree(f('x', 'B')), opts);
    assert.deepEqual(contents(a.tree), { x: 'R' });
    assert.deepEqual(a.conflicts, [{ path: 'x', kind: 'deleted-here-modified-there' }]);
    const b = mergeTrees(tree(f('x', 'L')), tree(), tree(f('x', 'B')), opts);
    assert.deepEqual(contents(b.tree), { x: 'L' });
    assert.deepEqual(b.conflicts, [{ path: 'x', kind: 'modified-here-deleted-there' }]);
  });

  it('without a base: unions additions, conflicts on differences, deletes nothing', () => {
    const m = mergeTrees(tree(f('a', '1'), f('both', 'L')), tree(f('b', '2'), f('both', 'R')), null, opts);
    assert.deepEqual(Object.keys(contents(m.tree)).sort(), ['a', 'b', 'both', 'both.conflict-lap_top-20261121T090503']);
  });

  it('a version an interrupted sync brought from the peer is not a local edit', () => {
    const pending = tree(f('x', 'P'));
    const m = mergeTrees(tree(f('x', 'P')), tree(f('x', 'R')), tree(f('x', 'B')), { ...opts, pending: [pending] });
    assert.deepEqual(contents(m.tree), { x: 'R' });
    assert.deepEqual(m.conflicts, []);
  });

  it('keeps the local state of paths whose remote content did not arrive', () => {
    const m = mergeTrees(tree(f('x', 'L')), tree(f('x', 'R'), f('y', 'R')), tree(f('x', 'L')), { ...opts, unavailable: new Set(['x', 'y']) });
    assert.deepEqual(contents(m.tree), { x: 'L' });
  });

  it('moves a file aside when the other side made the same path a directory', () => {
    const m = mergeTrees(tree(f('p', 'file')), tree(f('p/inner', 'i')), null, opts);
    assert.deepEqual(contents(m.tree), { 'p/inner': 'i', 'p.conflict-lap_top-20261121T090503': 'file' });
    assert.equal(m.conflicts[0]!.kind, 'file-vs-directory');
  });
});
