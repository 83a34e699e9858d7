#include "mouse.h"

#define FIRST_ALWAYS_SET 0x08   /* bit 3 of a packet's first byte is always 1: used to sync */
#define X_SIGN 0x10
#define Y_SIGN 0x20
#define OVERFLOW 0xC0
#define ACK 0xFA                /* the device's answer to "enable reporting" */

static uint8_t pkt[3];
static unsigned have;

int mouse_feed(uint8_t b, struct mouse_packet *out) {
    /* A byte that cannot start a packet (or a stray ACK, which has both
       overflow bits set and so is no movement we could use) is dropped:
       that is how the stream resynchronises after a lost byte. */
    if (have == 0 && (!(b & FIRST_ALWAYS_SET) || b == ACK)) return 0;
    pkt[have++] = b;
    if (have < 3) return 0;
    have = 0;
    int dx = (int)pkt[1] - ((pkt[0] & X_SIGN) ? 256 : 0);
    int dy = (int)pkt[2] - ((pkt[0] & Y_SIGN) ? 256 : 0);
    if (pkt[0] & OVERFLOW) dx = dy = 0;   /* the deltas are meaningless then */
    out->dx = dx;
    out->dy = -dy;                        /* PS/2 counts up-positive */
    out->buttons = pkt[0] & 0x07;
    return 1;
}
