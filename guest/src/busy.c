#include "busy.h"

/* Red scrolls right by 3 per frame and green down by 5: 3 and 5 are odd, so
   no pixel repeats its value within 256 frames (12.8 s at 20 frames/s) and
   every pixel differs from the previous frame. Blue is a cheap hash of
   position and frame, the part a compressor cannot predict. Written straight
   into the rows (fb_accept guarantees at least 1024x768, so the region fits):
   128 Ki pixels per frame, a couple of milliseconds of ring 3. */
void busy_paint(const struct fb *f, uint32_t frame) {
    for (int y = 0; y < BUSY_H; y++) {
        uint32_t *row = f->base + (uint64_t)(BUSY_Y + y) * f->stride + BUSY_X;
        uint32_t g = ((uint32_t)y + frame * 5) & 0xFF;
        uint32_t yhash = (uint32_t)y * 0x85EBCA6Bu ^ frame * 0xC2B2AE35u;
        for (int x = 0; x < BUSY_W; x++) {
            uint32_t r = ((uint32_t)x + frame * 3) & 0xFF;
            uint32_t h = ((uint32_t)x * 0x9E3779B1u) ^ yhash;
            h ^= h >> 15;
            h *= 0x2C1B3C6Du;
            uint32_t b = h >> 24;
            row[x] = r << f->red_pos | g << f->green_pos | b << f->blue_pos;
        }
    }
}
