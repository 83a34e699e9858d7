/* The probe's own bitmap font: ASCII 32..126, 5 columns x 8 rows per glyph
   (rows 0..6 above the baseline, row 7 for descenders). Drawn at 2x it is
   10x16 pixels; text advances 12 pixels per character. */
#ifndef PROBE_FONT_H
#define PROBE_FONT_H
#include <stdint.h>

#define FONT_W 5
#define FONT_H 8
#define FONT_FIRST 32
#define FONT_LAST 126

/* Row r of a glyph: bit 4 is the leftmost column. Characters outside
   32..126 get the '?' glyph. */
const uint8_t *font_glyph(char c);

#endif
