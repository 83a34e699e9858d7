export { VmProcess, type VmExit } from './client.js';
export type { VmInfo } from './protocol.js';
export { MigratableVm, VmProcessHost, ramLayout, mapVmMemory, VM_DEVICES, type AttachOptions, type VmProcessHostOptions } from './migratable-vm.js';
export { hostCpuFeatures, isaFlagsOf, ISA_FLAGS } from './cpu-features.js';
