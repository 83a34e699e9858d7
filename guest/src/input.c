#include "input.h"
#include "desktop.h"
#include "i8042.h"
#include "keyboard.h"
#include "mouse.h"
#include "serial.h"

#define POLLS_PER_FRAME 4    /* bounded: a flood of bytes waits for the next frame */

static unsigned buttons_down;

static void print_key(char c) {
    struct line l;
    line_start(&l);
    line_str(&l, "KEY ");
    if (c == ' ') line_str(&l, "space");
    else if (c == '\n') line_str(&l, "enter");
    else if (c == '\b') line_str(&l, "backspace");
    else if (c == '\t') line_str(&l, "tab");
    else { char s[2] = { c, 0 }; line_str(&l, s); }
    line_send(&l);
}

static void on_packet(const struct mouse_packet *p) {
    desktop_move_pointer(p->dx, p->dy);
    unsigned pressed = p->buttons & ~buttons_down;
    buttons_down = p->buttons;
    if (!pressed) return;
    int x, y;
    desktop_pointer(&x, &y);
    struct line l;
    line_start(&l);
    line_str(&l, "CLICK ");
    line_u64(&l, (uint64_t)x);
    line_str(&l, " ");
    line_u64(&l, (uint64_t)y);
    line_send(&l);
}

void input_pump(void) {
    uint16_t bytes[I8042_POLL_MAX];
    for (unsigned round = 0; round < POLLS_PER_FRAME; round++) {
        unsigned n = i8042_poll(bytes, I8042_POLL_MAX);
        if (n > I8042_POLL_MAX) n = I8042_POLL_MAX;
        for (unsigned i = 0; i < n; i++) {
            uint8_t status = (uint8_t)(bytes[i] >> 8), b = (uint8_t)bytes[i];
            if (status & I8042_STATUS_AUX) {
                struct mouse_packet p;
                if (mouse_feed(b, &p)) on_packet(&p);
            } else {
                char c = keyboard_feed(b);
                if (c) { print_key(c); desktop_key(c); }
            }
        }
        if (n < I8042_POLL_MAX) break;
    }
}
