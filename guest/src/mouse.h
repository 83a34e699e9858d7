/* Standard 3-byte PS/2 mouse packets, reassembled from the aux byte stream. */
#ifndef PROBE_MOUSE_H
#define PROBE_MOUSE_H
#include <stdint.h>

struct mouse_packet {
    int dx, dy;             /* pixels, dy grows downwards (screen convention) */
    unsigned buttons;       /* bit 0 left, bit 1 right, bit 2 middle */
};

/* Feeds one aux byte; returns 1 and fills *out when it completed a packet. */
int mouse_feed(uint8_t b, struct mouse_packet *out);

#endif
