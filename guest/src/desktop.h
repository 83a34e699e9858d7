/* The probe's desktop: a title bar with "roam probe" and the uptime clock,
   the heartbeat counters, a box bouncing left and right, the last typed line
   (and the one before it), the seq strip (seq_strip.h) and the mouse pointer. Every call runs in ring 3.
   Each frame repaints only the elements whose content changed, so a frame
   dirties a few dozen scanlines (4 KiB pages each), not the whole screen. */
#ifndef PROBE_DESKTOP_H
#define PROBE_DESKTOP_H
#include <stdint.h>
#include "fb.h"

/* Paints the whole screen once (3 MiB at 1024x768) and shows the pointer in
   the middle. busy_screen (the screen=busy parameter) adds a region that is
   repainted completely every frame (busy.h). */
void desktop_init(const struct fb *f, int busy_screen);
/* One typed key: a printable character, '\n' (enter), '\b' (backspace) or
   '\t' (tab). Shown at the next frame. */
void desktop_key(char c);
/* Moves the pointer by (dx, dy) pixels (y grows downwards), clamped to the
   screen. */
void desktop_move_pointer(int dx, int dy);
void desktop_pointer(int *x, int *y);
/* The values of the heartbeat just printed. */
void desktop_counters(uint64_t seq, uint64_t verified, int corrupt, uint64_t corrupt_pfn);
/* Repaints what changed since the last frame; ticks is the guest's timer
   (TIMER_HZ per second), which drives the clock and the bouncing box. */
void desktop_frame(uint64_t ticks);

#endif
