/* The probe's parameters, from the multiboot command line: space-separated
   key=value words. Unknown keys and bad values are collected for the boot
   line; they never stop the probe. */
#ifndef PROBE_PARAMS_H
#define PROBE_PARAMS_H
#include <stdint.h>

struct params {
    uint64_t fill;            /* bytes to fill */
    uint64_t ws;              /* working set: first ws bytes of the fill */
    uint64_t rate;            /* rewrite rate, bytes/second; 0 = idle */
    uint32_t beat_ms;         /* heartbeat period */
    uint32_t entropy_milli;   /* share of each page that is pseudo-random, 0..1000 */
    uint32_t corrupt_after;   /* debug: flip a byte after this many beats (0 = never) */
    int screen_busy;          /* screen=busy: the desktop animates a 512x256 region */
    char unknown[128];        /* comma-separated unknown keys (truncated) */
    char bad[128];            /* comma-separated keys whose value was rejected */
};

void params_parse(const char *cmdline, struct params *p);

#endif
