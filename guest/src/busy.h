/* screen=busy: a 512x256 region repainted completely every desktop frame, so
   a screen-stream benchmark has a worst case to measure (every pixel of the
   region changes every frame; the content is a scrolling gradient with a
   per-frame pseudo-random component, so it does not compress to nothing). */
#ifndef PROBE_BUSY_H
#define PROBE_BUSY_H
#include <stdint.h>
#include "fb.h"

#define BUSY_X 256
#define BUSY_Y 420
#define BUSY_W 512
#define BUSY_H 256

/* Paints frame number `frame` of the animation over the whole region. */
void busy_paint(const struct fb *f, uint32_t frame);

#endif
