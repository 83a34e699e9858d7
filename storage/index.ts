// The face of storage/: other folders import only from here.
export { hashBytes, hashHex, isHashHex, HASH_BYTES } from './hash.js';
export { chunkFile, chunkBuffer, findBoundary, MIN_CHUNK, AVG_CHUNK, MAX_CHUNK } from './chunker.js';
export {
  Store, WriteTxn, ChunkMissingError, ChunkDamagedError,
  type ChunkLocation, type VerifyReport, type VerifyDamage, type GcReport, type StoreOptions,
} from './store.js';
export type { TreeEntry, TreeObject, FileManifest, SnapshotRecord, EntryKind } from './objects.js';
export { snapshotTree, type SnapshotOptions, type SnapshotResult, type ScanStats } from './snapshot.js';
export { materialise, type MaterialiseOptions, type MaterialiseStats } from './materialise.js';
export { IgnoreRules, IGNORE_FILE } from './ignore.js';
export { flattenTree, mergeTrees, type MergeConflict, type ConflictKind } from './merge.js';
export {
  serveStore, syncFrom, SyncError, STORE_PROTOCOL, lastSyncedRef,
  type ServeOptions, type SyncOptions, type SyncResult, type SyncProgress, type ConflictRecord,
} from './sync.js';
export { homeStatus, listConflicts, clearConflicts, type HomeStatus } from './status.js';
export { HomeFollower, type FollowerOptions } from './follower.js';
