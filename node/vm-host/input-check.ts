// Checks an 'input' request before any of it reaches the VM's PS/2 devices. The request
// comes from whoever holds the control socket (in the end, a browser): it is refused whole
// when anything in it is malformed or over a bound, so a bad request injects nothing.
import { MAX_INPUT_KEYS, MAX_INPUT_MOUSE, MAX_MOUSE_DELTA, type MouseMove } from './protocol.js';

export interface CheckedInput { keys: Uint8Array; mouse: MouseMove[] }

function isInt(v: unknown, min: number, max: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
}

export function checkInput(req: { keys?: unknown; mouse?: unknown }): CheckedInput {
  const { keys, mouse } = req;
  let keyBytes = new Uint8Array(0);
  if (keys !== undefined) {
    if (!Array.isArray(keys)) throw new Error('input: keys must be a list of scancode bytes');
    if (keys.length > MAX_INPUT_KEYS) throw new Error(`input: ${keys.length} key bytes exceed ${MAX_INPUT_KEYS} per request`);
    keys.forEach((k: unknown, i) => {
      if (!isInt(k, 0, 255)) throw new Error(`input: keys[${i}] must be a byte (0..255), got ${describe(k)}`);
    });
    keyBytes = Uint8Array.from(keys as number[]);
  }
  const moves: MouseMove[] = [];
  if (mouse !== undefined) {
    if (!Array.isArray(mouse)) throw new Error('input: mouse must be a list of {dx, dy, buttons}');
    if (mouse.length > MAX_INPUT_MOUSE) throw new Error(`input: ${mouse.length} mouse reports exceed ${MAX_INPUT_MOUSE} per request`);
    mouse.forEach((m: unknown, i) => {
      if (typeof m !== 'object' || m === null || Array.isArray(m)) throw new Error(`input: mouse[${i}] must be {dx, dy, buttons}`);
      const { dx, dy, buttons } = m as Record<string, unknown>;
      if (!isInt(dx, -MAX_MOUSE_DELTA, MAX_MOUSE_DELTA) || !isInt(dy, -MAX_MOUSE_DELTA, MAX_MOUSE_DELTA)) {
        throw new Error(`input: mouse[${i}] dx and dy must be whole numbers in -${MAX_MOUSE_DELTA}..${MAX_MOUSE_DELTA}`);
      }
      if (!isInt(buttons, 0, 7)) throw new Error(`input: mouse[${i}].buttons must be 0..7 (bit 0 left, 1 right, 2 middle), got ${describe(buttons)}`);
      moves.push({ dx, dy, buttons });
    });
  }
  return { keys: keyBytes, mouse: moves };
}

function describe(v: unknown): string {
  if (typeof v === 'number' || typeof v === 'boolean' || v === null || v === undefined) return String(v);
  if (typeof v === 'string') return JSON.stringify(v.slice(0, 20));
  return typeof v;
}
