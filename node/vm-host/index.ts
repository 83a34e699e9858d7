export { VmProcess, provisionalName, type VmExit, type SpawnOptions } from './client.js';
export type { VmInfo, VmMeta, VmHostStatus } from './protocol.js';
export { MigratableVm, VmProcessHost, ramLayout, mapVmMemory, VM_DEVICES, type AttachOptions, type VmProcessHostOptions } from './migratable-vm.js';
export { hostCpuFeatures, isaFlagsOf, ISA_FLAGS } from './cpu-features.js';
