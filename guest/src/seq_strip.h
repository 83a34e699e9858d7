/* The heartbeat's seq as a strip of cells a screenshot reader can decode
   without OCR: a red marker cell, 32 cells for bits 0..31 of seq (LSB first,
   white = 1, black = 0), a red marker cell. Every cell is SEQ_STRIP_CELL
   pixels square; the strip is one row of cells. The position is part of the
   guest's interface (guest/README.md, test/support/seq-strip.ts). */
#ifndef PROBE_SEQ_STRIP_H
#define PROBE_SEQ_STRIP_H
#include <stdint.h>
#include "fb.h"

#define SEQ_STRIP_X 36
#define SEQ_STRIP_Y 144
#define SEQ_STRIP_CELL 8
#define SEQ_STRIP_BITS 32
#define SEQ_STRIP_W ((SEQ_STRIP_BITS + 2) * SEQ_STRIP_CELL)
#define SEQ_STRIP_H SEQ_STRIP_CELL

/* Paints the whole strip for this seq (its low 32 bits). */
void seq_strip_paint(const struct fb *f, uint64_t seq);

#endif
