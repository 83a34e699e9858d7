#include "desktop.h"
#include "busy.h"
#include "pointer.h"
#include "seq_strip.h"
#include "serial.h"
#include "timer.h"

/* Layout (pixels) for a screen of at least 1024x768 (fb_accept checks). */
#define MARGIN 20
#define TITLE_H 48
#define TEXT_Y_IN_TITLE 16
#define PANEL_PAD 16
#define HB_PANEL_Y 72
#define HB_PANEL_H 88
#define BOX_Y 192                 /* the bouncing box's band */
#define BOX_W 48
#define BOX_H 12                  /* few scanlines: the band is repainted every frame */
#define BOX_PX_PER_5_TICKS 6      /* 120 px/s at TIMER_HZ = 100 */
#define KB_PANEL_Y 232
#define KB_PANEL_H 120
#define LEGEND_Y 700
#define LINE_CAP 100              /* characters kept per typed line (the screen shows fewer) */
#define CLOCK_CHARS 18            /* "uptime hh:mm:ss.t", room for 3-digit hours */
#define TAB_STOP 4

struct rect { int x, y, w, h; };

static struct fb fb;
static int initialised;
static uint32_t c_title, c_title_text, c_panel, c_border, c_label, c_text, c_dim, c_ok, c_bad, c_box, c_legend;

static struct rect r_clock, r_counters, r_strip, r_prev, r_line;
static const struct rect r_busy = { BUSY_X, BUSY_Y, BUSY_W, BUSY_H };
static int line_max;              /* characters that fit on one typed line */

static uint64_t shown_tenths = ~0ull;
static int box_x = -1;            /* where the box is drawn; -1 before the first frame */

static uint64_t hb_seq, hb_verified, hb_pfn;
static int hb_corrupt, counters_dirty = 1;

static char line[LINE_CAP], prev[LINE_CAP];
static unsigned line_len, prev_len;
static int line_dirty = 1, prev_dirty = 1;

static int ptr_x, ptr_y;

static int busy;                  /* screen=busy: animate r_busy every frame */
static uint32_t busy_frame;

/* Vertical gradient behind everything that is not a bar or a panel. */
static uint32_t background(int y) {
    const int top[3] = { 0x2a, 0x4a, 0x6e }, bottom[3] = { 0x12, 0x1c, 0x33 };
    uint32_t rgb = 0;
    for (int i = 0; i < 3; i++) {
        int v = top[i] + (bottom[i] - top[i]) * y / fb.height;
        rgb = rgb << 8 | (uint32_t)v;
    }
    return fb_color(&fb, rgb);
}

static void fill_background(int x, int y, int w, int h) {
    for (int r = y; r < y + h; r++) fb_fill(&fb, x, r, w, 1, background(r));
}

static void text(int x, int y, const char *s, uint32_t px) {
    unsigned n = 0;
    while (s[n]) n++;
    fb_text(&fb, x, y, s, n, px);
}

static void panel(int y, int h, const char *label) {
    fb_fill(&fb, MARGIN, y, fb.width - 2 * MARGIN, h, c_border);
    fb_fill(&fb, MARGIN + 2, y + 2, fb.width - 2 * MARGIN - 4, h - 4, c_panel);
    text(MARGIN + PANEL_PAD, y + 12, label, c_label);
}

void desktop_init(const struct fb *f, int busy_screen) {
    fb = *f;
    busy = busy_screen;
    c_title = fb_color(&fb, 0x1b2436);
    c_title_text = fb_color(&fb, 0xf2f4f8);
    c_panel = fb_color(&fb, 0xeef1f5);
    c_border = fb_color(&fb, 0x7b8ba3);
    c_label = fb_color(&fb, 0x5a6b82);
    c_text = fb_color(&fb, 0x141c28);
    c_dim = fb_color(&fb, 0x8a96a8);
    c_ok = fb_color(&fb, 0x1f8a3a);
    c_bad = fb_color(&fb, 0xc8202a);
    c_box = fb_color(&fb, 0xf0a030);
    c_legend = fb_color(&fb, 0xc4cedc);

    fill_background(0, TITLE_H, fb.width, fb.height - TITLE_H);
    fb_fill(&fb, 0, 0, fb.width, TITLE_H, c_title);
    text(MARGIN, TEXT_Y_IN_TITLE, "roam probe", c_title_text);
    panel(HB_PANEL_Y, HB_PANEL_H, "heartbeat");
    panel(KB_PANEL_Y, KB_PANEL_H, "keyboard: the last typed line");
    text(MARGIN, LEGEND_Y, "Each key is printed on serial as KEY <key>;", c_legend);
    text(MARGIN, LEGEND_Y + 24, "each mouse button press as CLICK <x> <y>.", c_legend);

    const int inner_x = MARGIN + PANEL_PAD, inner_w = fb.width - 2 * (MARGIN + PANEL_PAD);
    r_clock = (struct rect){ fb.width - MARGIN - CLOCK_CHARS * FB_CHAR_W, TEXT_Y_IN_TITLE, CLOCK_CHARS * FB_CHAR_W, FB_CHAR_H };
    r_counters = (struct rect){ inner_x, HB_PANEL_Y + 48, inner_w, FB_CHAR_H };
    r_strip = (struct rect){ SEQ_STRIP_X, SEQ_STRIP_Y, SEQ_STRIP_W, SEQ_STRIP_H };   /* inside the heartbeat panel */
    r_prev = (struct rect){ inner_x, KB_PANEL_Y + 44, inner_w, FB_CHAR_H };
    r_line = (struct rect){ inner_x, KB_PANEL_Y + 76, inner_w, FB_CHAR_H };
    line_max = inner_w / FB_CHAR_W - 3;   /* room for "> " and the cursor */
    if (line_max > LINE_CAP) line_max = LINE_CAP;

    ptr_x = fb.width / 2;
    ptr_y = fb.height / 2;
    initialised = 1;
}

static void two_digits(struct line *l, uint64_t v) {
    if (v < 10) line_str(l, "0");
    line_u64(l, v);
}

static void paint_clock(uint64_t tenths) {
    struct line l;
    line_start(&l);
    line_str(&l, "uptime ");
    two_digits(&l, tenths / 36000);
    line_str(&l, ":");
    two_digits(&l, tenths / 600 % 60);
    line_str(&l, ":");
    two_digits(&l, tenths / 10 % 60);
    line_str(&l, ".");
    line_u64(&l, tenths % 10);
    unsigned n = l.len > CLOCK_CHARS ? CLOCK_CHARS : l.len;
    fb_fill(&fb, r_clock.x, r_clock.y, r_clock.w, r_clock.h, c_title);
    fb_text(&fb, r_clock.x + (int)(CLOCK_CHARS - n) * FB_CHAR_W, r_clock.y, l.buf + l.len - n, n, c_title_text);
}

static void paint_counters(void) {
    struct line l;
    line_start(&l);
    line_str(&l, "seq ");
    line_u64(&l, hb_seq);
    line_str(&l, "   verified ");
    line_u64(&l, hb_verified);
    line_str(&l, "   ");
    fb_fill(&fb, r_counters.x, r_counters.y, r_counters.w, r_counters.h, c_panel);
    fb_text(&fb, r_counters.x, r_counters.y, l.buf, l.len, c_text);
    int x = r_counters.x + (int)l.len * FB_CHAR_W;
    line_start(&l);
    if (hb_corrupt) {
        line_str(&l, "CORRUPT ");
        line_u64(&l, hb_pfn);
    } else {
        line_str(&l, "ok");
    }
    fb_text(&fb, x, r_counters.y, l.buf, l.len, hb_corrupt ? c_bad : c_ok);
}

static void paint_typed(const struct rect *r, const char *s, unsigned n, int current) {
    fb_fill(&fb, r->x, r->y, r->w, r->h, c_panel);
    if (!current) {
        fb_text(&fb, r->x + 2 * FB_CHAR_W, r->y, s, n, c_dim);
        return;
    }
    fb_text(&fb, r->x, r->y, "> ", 2, c_text);
    fb_text(&fb, r->x + 2 * FB_CHAR_W, r->y, s, n, c_text);
    fb_text(&fb, r->x + (int)(2 + n) * FB_CHAR_W, r->y, "_", 1, c_text);
}

/* Triangle wave across the screen, from the guest's own timer. */
static int box_position(uint64_t ticks) {
    const uint64_t travel = (uint64_t)(fb.width - 2 * MARGIN - BOX_W);
    uint64_t p = ticks * BOX_PX_PER_5_TICKS / 5 % (2 * travel);
    if (p > travel) p = 2 * travel - p;
    return MARGIN + (int)p;
}

void desktop_frame(uint64_t ticks) {
    if (!initialised) return;
    struct rect dirty[7];
    unsigned n = 0;

    uint64_t tenths = ticks / (TIMER_HZ / 10);
    int clock = tenths != shown_tenths;
    if (clock) dirty[n++] = r_clock;
    int counters = counters_dirty;
    if (counters) { dirty[n++] = r_counters; dirty[n++] = r_strip; }
    int new_box = box_position(ticks), old_box = box_x < 0 ? new_box : box_x;
    int box = new_box != box_x;
    struct rect band = { old_box < new_box ? old_box : new_box, BOX_Y, 0, BOX_H };
    band.w = (old_box < new_box ? new_box - old_box : old_box - new_box) + BOX_W;
    if (box) dirty[n++] = band;
    int prev_now = prev_dirty, line_now = line_dirty;
    if (prev_now) dirty[n++] = r_prev;
    if (line_now) dirty[n++] = r_line;
    if (busy) dirty[n++] = r_busy;

    /* The pointer comes off only if it moves or something under it changes. */
    int move_pointer = !pointer_drawn_at(ptr_x, ptr_y);
    for (unsigned i = 0; i < n && !move_pointer; i++)
        move_pointer = pointer_overlaps(dirty[i].x, dirty[i].y, dirty[i].w, dirty[i].h);
    if (move_pointer) pointer_hide(&fb);

    if (clock) { shown_tenths = tenths; paint_clock(tenths); }
    if (counters) { counters_dirty = 0; paint_counters(); seq_strip_paint(&fb, hb_seq); }
    if (box) {
        fill_background(band.x, band.y, band.w, band.h);
        fb_fill(&fb, new_box, BOX_Y, BOX_W, BOX_H, c_box);
        box_x = new_box;
    }
    if (prev_now) { prev_dirty = 0; paint_typed(&r_prev, prev, prev_len, 0); }
    if (line_now) { line_dirty = 0; paint_typed(&r_line, line, line_len, 1); }
    if (busy) busy_paint(&fb, busy_frame++);

    if (move_pointer) pointer_show(&fb, ptr_x, ptr_y);
}

static void new_line(void) {
    for (unsigned i = 0; i < line_len; i++) prev[i] = line[i];
    prev_len = line_len;
    line_len = 0;
    prev_dirty = line_dirty = 1;
}

static void append(char c) {
    if ((int)line_len >= line_max) new_line();   /* a full line wraps */
    line[line_len++] = c;
    line_dirty = 1;
}

void desktop_key(char c) {
    if (!initialised) return;
    if (c == '\n') {
        new_line();
    } else if (c == '\b') {
        if (line_len) { line_len--; line_dirty = 1; }
    } else if (c == '\t') {
        do append(' '); while (line_len % TAB_STOP);
    } else if (c >= 32 && c <= 126) {
        append(c);
    }
}

static int clamp(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

void desktop_move_pointer(int dx, int dy) {
    if (!initialised) return;
    ptr_x = clamp(ptr_x + dx, 0, fb.width - 1);
    ptr_y = clamp(ptr_y + dy, 0, fb.height - 1);
}

void desktop_pointer(int *x, int *y) {
    *x = ptr_x;
    *y = ptr_y;
}

void desktop_counters(uint64_t seq, uint64_t verified, int corrupt, uint64_t corrupt_pfn) {
    hb_seq = seq;
    hb_verified = verified;
    hb_corrupt = corrupt;
    hb_pfn = corrupt_pfn;
    counters_dirty = 1;
}
