/* The linear framebuffer the loader announced (multiboot flags bit 12), once
   checked, and the few drawing primitives the desktop needs. Drawing runs in
   ring 3 (guest ring 0 is emulated here, ~5 us per instruction), straight
   into the framebuffer: every scanline is one 4 KiB page that the VMM's dirty
   log (and so the migration) sees, so callers repaint only what changed. */
#ifndef PROBE_FB_H
#define PROBE_FB_H
#include <stdint.h>
#include "multiboot.h"

struct fb {
    uint32_t *base;        /* identity-mapped, user-accessible (boot.S) */
    uint32_t stride;       /* pixels from one scanline to the next */
    int width, height;
    uint8_t red_pos, green_pos, blue_pos;
};

/* Accepts the loader's framebuffer if the probe can draw into it safely:
   32-bit direct RGB with 8-bit channels, a sane size, inside the statically
   identity-mapped 4 GiB below the APICs, and overlapping neither the kernel
   image nor any RAM the workload fills. Returns 0 and fills *out, or a
   short reason it was refused. */
const char *fb_accept(const struct boot_info *bi, uint64_t image_end, struct fb *out);

/* 0xRRGGBB in the framebuffer's pixel format. */
uint32_t fb_color(const struct fb *f, uint32_t rgb);
/* Fills a rectangle, clipped to the screen. */
void fb_fill(const struct fb *f, int x, int y, int w, int h, uint32_t px);
/* Draws n characters at 2x scale (glyph cells 12x16, transparent background),
   clipped to the screen. */
void fb_text(const struct fb *f, int x, int y, const char *s, unsigned n, uint32_t px);

#define FB_CHAR_W 12
#define FB_CHAR_H 16

#endif
