export { VmProcess, provisionalName, type VmExit, type SpawnOptions } from './client.js';
export type { VmInfo, VmMeta, VmHostStatus, DisplayInfo, MouseMove } from './protocol.js';
export { MAX_INPUT_KEYS, MAX_INPUT_MOUSE, MAX_MOUSE_DELTA } from './protocol.js';
export { MigratableVm, VmProcessHost, ramLayout, vmLayout, specHasDisplay, mapVmMemory, VM_DEVICES, BASE_DEVICES, DISPLAY_DEVICE, FRAMEBUFFER_SLOT, type AttachOptions, type VmProcessHostOptions } from './migratable-vm.js';
export { hostCpuFeatures, isaFlagsOf, ISA_FLAGS } from './cpu-features.js';
