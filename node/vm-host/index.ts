export { VmProcess, type VmExit } from './client.js';
export type { VmInfo } from './protocol.js';
