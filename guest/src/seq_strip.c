#include "seq_strip.h"

void seq_strip_paint(const struct fb *f, uint64_t seq) {
    const uint32_t red = fb_color(f, 0xFF0000), one = fb_color(f, 0xFFFFFF), zero = fb_color(f, 0x000000);
    const int last = SEQ_STRIP_BITS + 1;
    fb_fill(f, SEQ_STRIP_X, SEQ_STRIP_Y, SEQ_STRIP_CELL, SEQ_STRIP_CELL, red);
    for (int i = 0; i < SEQ_STRIP_BITS; i++)
        fb_fill(f, SEQ_STRIP_X + (1 + i) * SEQ_STRIP_CELL, SEQ_STRIP_Y, SEQ_STRIP_CELL, SEQ_STRIP_CELL,
                (seq >> i) & 1 ? one : zero);
    fb_fill(f, SEQ_STRIP_X + last * SEQ_STRIP_CELL, SEQ_STRIP_Y, SEQ_STRIP_CELL, SEQ_STRIP_CELL, red);
}
