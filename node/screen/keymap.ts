// KeyboardEvent.code → PS/2 scancode set 2, the keyboard's own language (the
// i8042 translates to set 1 for a guest that asked for it). A key's make code is
// one byte, or E0 and one byte for the keys added after the XT layout (right
// Ctrl/Alt, the arrow and editing block, keypad Enter and /). Break is F0 before
// the last byte: E0 F0 75 releases ArrowUp. Print Screen and Pause have
// multi-code sequences of their own and are left out; unknown codes map to nothing.

/** Codes whose make code is a single byte. */
const PLAIN: Readonly<Record<string, number>> = {
  KeyA: 0x1c, KeyB: 0x32, KeyC: 0x21, KeyD: 0x23, KeyE: 0x24, KeyF: 0x2b, KeyG: 0x34, KeyH: 0x33, KeyI: 0x43,
  KeyJ: 0x3b, KeyK: 0x42, KeyL: 0x4b, KeyM: 0x3a, KeyN: 0x31, KeyO: 0x44, KeyP: 0x4d, KeyQ: 0x15, KeyR: 0x2d,
  KeyS: 0x1b, KeyT: 0x2c, KeyU: 0x3c, KeyV: 0x2a, KeyW: 0x1d, KeyX: 0x22, KeyY: 0x35, KeyZ: 0x1a,
  Digit1: 0x16, Digit2: 0x1e, Digit3: 0x26, Digit4: 0x25, Digit5: 0x2e, Digit6: 0x36, Digit7: 0x3d, Digit8: 0x3e,
  Digit9: 0x46, Digit0: 0x45,
  Backquote: 0x0e, Minus: 0x4e, Equal: 0x55, BracketLeft: 0x54, BracketRight: 0x5b, Backslash: 0x5d,
  Semicolon: 0x4c, Quote: 0x52, Comma: 0x41, Period: 0x49, Slash: 0x4a, IntlBackslash: 0x61,
  Backspace: 0x66, Tab: 0x0d, Enter: 0x5a, Space: 0x29, Escape: 0x76, CapsLock: 0x58,
  ShiftLeft: 0x12, ShiftRight: 0x59, ControlLeft: 0x14, AltLeft: 0x11,
  F1: 0x05, F2: 0x06, F3: 0x04, F4: 0x0c, F5: 0x03, F6: 0x0b, F7: 0x83, F8: 0x0a, F9: 0x01, F10: 0x09,
  F11: 0x78, F12: 0x07,
  NumLock: 0x77, ScrollLock: 0x7e,
  Numpad0: 0x70, Numpad1: 0x69, Numpad2: 0x72, Numpad3: 0x7a, Numpad4: 0x6b, Numpad5: 0x73, Numpad6: 0x74,
  Numpad7: 0x6c, Numpad8: 0x75, Numpad9: 0x7d, NumpadDecimal: 0x71, NumpadAdd: 0x79, NumpadSubtract: 0x7b,
  NumpadMultiply: 0x7c,
};

/** Codes whose make code is E0 and this byte. */
const EXTENDED: Readonly<Record<string, number>> = {
  ControlRight: 0x14, AltRight: 0x11, MetaLeft: 0x1f, MetaRight: 0x27, ContextMenu: 0x2f,
  ArrowUp: 0x75, ArrowDown: 0x72, ArrowLeft: 0x6b, ArrowRight: 0x74,
  Insert: 0x70, Delete: 0x71, Home: 0x6c, End: 0x69, PageUp: 0x7d, PageDown: 0x7a,
  NumpadEnter: 0x5a, NumpadDivide: 0x4a,
};

const PREFIX_EXTENDED = 0xe0;
const PREFIX_BREAK = 0xf0;

/** The set 2 bytes for pressing (down) or releasing a key, or null for a code this table does not know. */
export function scancodes(code: string, down: boolean): number[] | null {
  if (Object.hasOwn(PLAIN, code)) {
    const b = PLAIN[code]!;
    return down ? [b] : [PREFIX_BREAK, b];
  }
  if (Object.hasOwn(EXTENDED, code)) {
    const b = EXTENDED[code]!;
    return down ? [PREFIX_EXTENDED, b] : [PREFIX_EXTENDED, PREFIX_BREAK, b];
  }
  return null;
}

/** Every code the table maps (for tests and documentation). */
export function knownCodes(): string[] {
  return [...Object.keys(PLAIN), ...Object.keys(EXTENDED)];
}
