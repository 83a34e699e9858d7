// node/screen: a VM's screen and input wherever in the household it runs. VMs on
// this machine are read straight from their framebuffer (the VM process's memfd
// mapped here, damage polled while someone waits); VMs on another member come
// over /roam/screen/1.0.0. Updates are changed 64x64 tiles, raw-deflated.
export type { ScreenRect, ScreenUpdate, ScreenInput, ScreenState, ScreenSubscription, ScreenService } from './types.js';
export { HouseholdScreens, type ScreenHost, type MemberView } from './service.js';
export type { LocalVms, LocalVm } from './local-screens.js';
export type { ScreenStream } from './stream-frames.js';
export { scancodes } from './keymap.js';
export { decodeRect, applyUpdate } from './rect-codec.js';
