// migrate: live migration of a VM between two roam agents over /roam/migrate/1.0.0.
export { sendVm, type SendOptions } from './sender.js';
export { MigrationReceiver, type ReceiverOptions } from './receiver.js';
export type { VmHandle, IncomingVm, VmHost, VmSpec, SlotLayout, SlotKind, HostCheck } from './vm-handle.js';
export { slotPages, slotKind, sameLayout } from './vm-handle.js';
export type { MigrationStream } from './channel.js';
export { FrameReader as LengthPrefixedReader } from './channel.js';
export { CompressPool, closeSharedCompressPool, sharedCompressPool } from './compress-pool.js';
export { KeptImages, type KeptMeta } from './kept-images.js';
export { MigrationError, ProtocolError, type Phase } from './errors.js';
export type { Progress, MigrationStats } from './progress.js';
export { PROTOCOL, MAX_FRAME, MAX_BATCH_PAGES, MAX_DATA_PAGES, decodeFrame, encode } from './frames.js';
