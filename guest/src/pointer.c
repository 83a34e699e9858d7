#include "pointer.h"

/* 'X' outline, 'o' fill, ' ' transparent. */
static const char arrow[POINTER_H][POINTER_W + 1] = {
    "X           ",
    "XX          ",
    "XoX         ",
    "XooX        ",
    "XoooX       ",
    "XooooX      ",
    "XoooooX     ",
    "XooooooX    ",
    "XoooooooX   ",
    "XooooooooX  ",
    "XoooooooooX ",
    "XooooooXXXXX",
    "XoooXooX    ",
    "XooX XooX   ",
    "XoX  XooX   ",
    "XX    XooX  ",
    "X     XooX  ",
    "       XooX ",
    "        XX  ",
};

static uint32_t under[POINTER_H][POINTER_W];
static int drawn, drawn_x, drawn_y;

/* Runs body for every opaque arrow pixel that lies on the screen (r, c: in
   the arrow; row, px: in the framebuffer). */
#define FOR_EACH_PIXEL(f, x, y, body)                                              \
    for (int r = 0; r < POINTER_H; r++) {                                          \
        int py = (y) + r;                                                          \
        if (py < 0 || py >= (f)->height) continue;                                 \
        uint32_t *row = (f)->base + (uint64_t)py * (f)->stride;                    \
        for (int c = 0; c < POINTER_W; c++) {                                      \
            int px = (x) + c;                                                      \
            if (px < 0 || px >= (f)->width || arrow[r][c] == ' ') continue;       \
            body                                                                   \
        }                                                                          \
    }

void pointer_hide(const struct fb *f) {
    if (!drawn) return;
    FOR_EACH_PIXEL(f, drawn_x, drawn_y, { row[px] = under[r][c]; })
    drawn = 0;
}

void pointer_show(const struct fb *f, int x, int y) {
    pointer_hide(f);
    const uint32_t black = fb_color(f, 0x000000), white = fb_color(f, 0xFFFFFF);
    FOR_EACH_PIXEL(f, x, y, {
        under[r][c] = row[px];
        row[px] = arrow[r][c] == 'X' ? black : white;
    })
    drawn = 1;
    drawn_x = x;
    drawn_y = y;
}

int pointer_drawn_at(int x, int y) { return drawn && drawn_x == x && drawn_y == y; }

int pointer_overlaps(int x, int y, int w, int h) {
    return drawn && x < drawn_x + POINTER_W && drawn_x < x + w && y < drawn_y + POINTER_H && drawn_y < y + h;
}
