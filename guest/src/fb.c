#include "fb.h"
#include "font.h"

#define FB_MIN_W 1024          /* the desktop's layout needs this much */
#define FB_MIN_H 768
#define FB_MAX_DIM 4096
#define FB_MAX_PITCH 65536u
#define FB_TOP_LIMIT 0xFEC00000ull   /* IOAPIC and LAPIC live above: never draw there */

static int overlaps(uint64_t a0, uint64_t a1, uint64_t b0, uint64_t b1) { return a0 < b1 && b0 < a1; }

const char *fb_accept(const struct boot_info *bi, uint64_t image_end, struct fb *out) {
    const struct mb_framebuffer *m = &bi->fb;
    if (!m->present) return "none";
    if (m->type != 1 || m->bpp != 32) return "not 32-bit direct RGB";
    if (m->red_size != 8 || m->green_size != 8 || m->blue_size != 8 ||
        m->red_pos > 24 || m->green_pos > 24 || m->blue_pos > 24)
        return "colour fields are not 8-bit";
    if (m->width < FB_MIN_W || m->height < FB_MIN_H || m->width > FB_MAX_DIM || m->height > FB_MAX_DIM)
        return "size out of range";
    if (m->pitch < m->width * 4 || m->pitch > FB_MAX_PITCH || m->pitch % 4) return "bad pitch";
    /* end may wrap for a hostile addr; the addr check below rejects that case. */
    uint64_t end = m->addr + (uint64_t)m->pitch * m->height;
    if (m->addr % 4 || m->addr > FB_TOP_LIMIT || end > FB_TOP_LIMIT) return "outside the mapped range";
    if (overlaps(m->addr, end, 0, image_end)) return "overlaps the kernel";
    for (unsigned i = 0; i < bi->nram; i++)
        if (overlaps(m->addr, end, bi->ram[i].base, bi->ram[i].base + bi->ram[i].length))
            return "overlaps RAM";
    out->base = (uint32_t *)(uintptr_t)m->addr;
    out->stride = m->pitch / 4;
    out->width = (int)m->width;
    out->height = (int)m->height;
    out->red_pos = m->red_pos;
    out->green_pos = m->green_pos;
    out->blue_pos = m->blue_pos;
    return 0;
}

uint32_t fb_color(const struct fb *f, uint32_t rgb) {
    return ((rgb >> 16) & 0xFF) << f->red_pos | ((rgb >> 8) & 0xFF) << f->green_pos | (rgb & 0xFF) << f->blue_pos;
}

void fb_fill(const struct fb *f, int x, int y, int w, int h, uint32_t px) {
    int x1 = x + w, y1 = y + h;
    if (x < 0) x = 0;
    if (y < 0) y = 0;
    if (x1 > f->width) x1 = f->width;
    if (y1 > f->height) y1 = f->height;
    for (int r = y; r < y1; r++) {
        uint32_t *row = f->base + (uint64_t)r * f->stride;
        for (int c = x; c < x1; c++) row[c] = px;
    }
}

static void put(const struct fb *f, int x, int y, uint32_t px) {
    if (x >= 0 && y >= 0 && x < f->width && y < f->height) f->base[(uint64_t)y * f->stride + x] = px;
}

void fb_text(const struct fb *f, int x, int y, const char *s, unsigned n, uint32_t px) {
    for (unsigned i = 0; i < n; i++, x += FB_CHAR_W) {
        const uint8_t *g = font_glyph(s[i]);
        for (int r = 0; r < FONT_H; r++)
            for (int c = 0; c < FONT_W; c++) {
                if (!(g[r] & (0x10 >> c))) continue;
                int px0 = x + 1 + 2 * c, py0 = y + 2 * r;   /* one pixel of left bearing */
                put(f, px0, py0, px); put(f, px0 + 1, py0, px);
                put(f, px0, py0 + 1, px); put(f, px0 + 1, py0 + 1, px);
            }
    }
}
