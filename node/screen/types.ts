// The screen service's contract with its users (node/web, roamd): what an update,
// an input event, a state and a subscription are. See index.ts for the face.

export interface ScreenRect {
  x: number; y: number; w: number; h: number;
  /** zlib.deflateRawSync of w*h*4 bytes: rows top to bottom, pixels B,G,R,X (the framebuffer's own bytes). */
  data: Uint8Array;
}

export interface ScreenUpdate {
  width: number; height: number;
  /** true when the rects cover the whole screen (first update, and the first after the VM moved host). */
  full: boolean;
  rects: ScreenRect[];
}

export type ScreenInput =
  | { type: 'key'; code: string; down: boolean }                   // KeyboardEvent.code: 'KeyA', 'Digit1', 'Enter', 'ShiftLeft', ...
  | { type: 'pointer'; dx: number; dy: number; buttons: number };  // relative move in screen pixels (dy down-positive); bit0 left, bit1 right, bit2 middle

export type ScreenState =
  | { state: 'connecting' }
  | { state: 'live'; host: string }              // host = household member name where the VM runs now
  | { state: 'moving'; from: string }            // the VM is migrating / just left `from`; the service follows it
  | { state: 'gone'; reason: string };           // no such VM in the household (the subscription stays; it retries)

export interface ScreenSubscription {
  /** Damage since the previous call, coalesced; the whole screen first and after every move. Pull-based, so a
   *  slow viewer never builds a backlog. Resolves when something changed; rejects once closed. */
  next(): Promise<ScreenUpdate>;
  /** Keyboard/mouse to the guest (bounded, validated; unknown key codes ignored). */
  input(e: ScreenInput): void;
  close(): void;
}

export interface ScreenService {
  /** Watch a VM's screen wherever in the household it runs, following it across migrations. */
  watch(vm: string, onState: (s: ScreenState) => void): ScreenSubscription;
  close(): Promise<void>;
}

/** Why a view of one host's copy of the VM ended (the following subscription decides what comes next). */
export type ViewEndKind =
  /** The VM left that host by migration: it runs (or is about to run) elsewhere. */
  | 'moved'
  /** The VM is not on that host (stopped, crashed, never was there). */
  | 'absent'
  /** The link to that host broke; where the VM runs is unknown. */
  | 'lost';

export class ViewEnded extends Error {
  constructor(readonly kind: ViewEndKind, readonly reason: string) { super(reason); }
}

/** One host's copy of a VM's screen, for one watcher: what a following subscription drives. */
export interface ScreenView {
  /** Member name of the host this view reads from. */
  readonly host: string;
  /** The next update (the first is full); rejects with ViewEnded when this host's copy ends. */
  next(): Promise<ScreenUpdate>;
  input(e: ScreenInput): void;
  /** Resolves once, when the view ends for any reason (also after close()). */
  readonly ended: Promise<ViewEnded>;
  close(): void;
}
