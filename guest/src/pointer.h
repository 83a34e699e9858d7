/* The mouse pointer: an arrow drawn over the desktop with save-under, so
   taking it away restores exactly the pixels it covered. Whoever repaints a
   region under the pointer hides it first and shows it again afterwards. */
#ifndef PROBE_POINTER_H
#define PROBE_POINTER_H
#include "fb.h"

#define POINTER_W 12
#define POINTER_H 19

/* Restores what the pointer covered (no-op if it is not drawn). */
void pointer_hide(const struct fb *f);
/* Saves what lies under (x, y) (the arrow's tip) and draws the arrow there. */
void pointer_show(const struct fb *f, int x, int y);
/* 1 if the pointer is drawn with its tip at (x, y). */
int pointer_drawn_at(int x, int y);
/* 1 if the drawn pointer touches the rectangle. */
int pointer_overlaps(int x, int y, int w, int h);

#endif
