// Frame update latency as the page sees it: a key typed into the viewer's
// canvas (its keydown, on the page's clock) until the guest's typed-text panel
// on the canvas changes (polled with getImageData once per animation frame, on
// the same clock). The path: page → roamd → (libp2p, when the VM runs on
// another machine) → the guest's PS/2 queue → the guest's next frame (it polls
// input once a frame, 20 per second) → the screen service's next damage poll
// (33 ms) → deflate → the page's inflate and putImageData.
// This project's TypeScript has no DOM library, so the page-side code is a string.
import type { Page } from 'playwright-core';

/** The probe's typed-text panel (guest/src/desktop.c KB_PANEL_Y, KB_PANEL_H): only typed keys change it. */
export const TEXT_PANEL = { x: 0, y: 232, w: 1024, h: 120 } as const;

export interface KeyTiming {
  /** keydown → first animation frame that shows a changed panel, ms (page clock). */
  ms: number;
  /** Animation frames polled until then (its resolution is one frame, ~16.7 ms at 60 Hz). */
  frames: number;
}

/** Arms the page: the next keydown starts the clock and the per-frame comparison against the panel as it is now. */
function armScript(limitMs: number): string {
  const p = TEXT_PANEL;
  return `(() => {
    const c = document.querySelector('canvas#screen');
    if (!c) throw new Error('no canvas#screen');
    const ctx = c.getContext('2d');
    const grab = () => ctx.getImageData(${p.x}, ${p.y}, ${p.w}, ${p.h}).data;
    const before = grab();
    const differs = (a) => { for (let i = 0; i < a.length; i += 4) { if (a[i] !== before[i] || a[i + 1] !== before[i + 1] || a[i + 2] !== before[i + 2]) return true; } return false; };
    const st = { t0: null, t1: null, frames: 0 };
    st.done = new Promise((resolve) => {
      const poll = () => {
        st.frames++;
        if (differs(grab())) { st.t1 = performance.now(); resolve(); return; }
        if (performance.now() - st.t0 > ${limitMs}) { resolve(); return; }
        requestAnimationFrame(poll);
      };
      // Capture on window: runs before the viewer's own keydown handler sends the key.
      window.addEventListener('keydown', () => { st.t0 = performance.now(); requestAnimationFrame(poll); }, { once: true, capture: true });
    });
    window.__roamBenchKey = st;
    c.focus();
    return document.activeElement === c;
  })()`;
}

/** The timing once the panel changed, the limit passed, or (no keydown at all) the limit passed too. */
function resultScript(limitMs: number): string {
  return `(() => {
    const st = window.__roamBenchKey;
    const late = new Promise((r) => setTimeout(r, ${limitMs + 1000}));
    return Promise.race([st.done, late]).then(() => ({ t0: st.t0, t1: st.t1, frames: st.frames }));
  })()`;
}

/** Types `code` (a KeyboardEvent.code playwright knows, e.g. 'KeyA', 'Backspace') and times it; throws when the panel does not change. */
export async function timeKey(page: Page, code: string, limitMs = 5000): Promise<KeyTiming> {
  const focused = await page.evaluate<boolean>(armScript(limitMs));
  if (!focused) throw new Error('the screen canvas did not take the focus');
  await page.keyboard.press(code);
  const r = await page.evaluate<{ t0: number | null; t1: number | null; frames: number }>(resultScript(limitMs));
  if (r.t0 === null) throw new Error(`no keydown reached the page for ${code}`);
  if (r.t1 === null) throw new Error(`the typed-text panel did not change within ${limitMs} ms of ${code} (${r.frames} frames polled)`);
  return { ms: r.t1 - r.t0, frames: r.frames };
}
