// Reads the probe guest's heartbeat seq off a picture of its screen, without OCR. The guest draws
// (guest/README.md, "The seq strip") a row of 34 square cells of 8x8 px with its top-left pixel at
// SEQ_STRIP.x, SEQ_STRIP.y: a red marker cell, 32 cells for bits 0..31 of seq (LSB first, white = 1,
// black = 0), a red marker cell. Each cell is judged by its centre pixel only, so a lossy or slightly
// blurred screenshot of an unscaled screen still decodes.

/** Where the guest draws the strip on its 1024x768 screen, and its geometry. */
export const SEQ_STRIP = { x: 36, y: 144, cell: 8, bits: 32 } as const;
/** The strip's full width (two markers + the bits) and height, in pixels. */
export const SEQ_STRIP_WIDTH = (SEQ_STRIP.bits + 2) * SEQ_STRIP.cell;
export const SEQ_STRIP_HEIGHT = SEQ_STRIP.cell;

/** Byte order of one pixel: the guest's framebuffer is 'bgrx' (B, G, R, X), a decoded PNG is 'rgba'. */
export type PixelOrder = 'bgrx' | 'rgba';

/**
 * Decodes the seq strip whose top-left pixel is (x0, y0) in an image of `width` pixels per row, rows
 * packed (stride = width * bytesPerPixel; the guest's 1024-pixel, 4096-byte rows are). Returns the low 32
 * bits of seq, or null when no strip is there (a marker cell is not red, a bit cell is not clearly
 * black or white) or the image is too small to hold it.
 */
export function decodeSeqStrip(
  pixels: Uint8Array, width: number, x0: number = SEQ_STRIP.x, y0: number = SEQ_STRIP.y,
  bytesPerPixel: 3 | 4 = 4, order: PixelOrder = 'bgrx',
): number | null {
  if (![x0, y0, width].every(Number.isSafeInteger) || x0 < 0 || y0 < 0 || width <= 0) return null;
  if (bytesPerPixel !== 3 && bytesPerPixel !== 4) return null;
  if (x0 + SEQ_STRIP_WIDTH > width) return null;
  const stride = width * bytesPerPixel;
  const centreY = y0 + SEQ_STRIP.cell / 2;
  if ((centreY + 1) * stride > pixels.length) return null;

  const rgbAt = (cell: number): [number, number, number] => {
    const o = centreY * stride + (x0 + cell * SEQ_STRIP.cell + SEQ_STRIP.cell / 2) * bytesPerPixel;
    const a = pixels[o]!, b = pixels[o + 1]!, c = pixels[o + 2]!;
    return order === 'bgrx' ? [c, b, a] : [a, b, c];
  };
  const isRed = ([r, g, b]: [number, number, number]): boolean => r >= 160 && g < 96 && b < 96;
  if (!isRed(rgbAt(0)) || !isRed(rgbAt(SEQ_STRIP.bits + 1))) return null;

  let seq = 0;
  for (let bit = 0; bit < SEQ_STRIP.bits; bit++) {
    const [r, g, b] = rgbAt(1 + bit);
    // Grey only: a cell with colour in it is not part of a strip (e.g. the reader is misplaced).
    if (Math.max(r, g, b) - Math.min(r, g, b) > 64) return null;
    const brightness = (r + g + b) / 3;
    if (brightness >= 160) seq += 2 ** bit;
    else if (brightness > 96) return null;
  }
  return seq;
}
