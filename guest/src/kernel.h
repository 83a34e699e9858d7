/* Where the kernel's code runs, and how to get back to physical addresses. */
#ifndef PROBE_KERNEL_H
#define PROBE_KERNEL_H
#include <stdint.h>

/* Every symbol is local to this one image: with hidden visibility the
   compiler takes addresses RIP-relative (so they are in the alias the code
   runs in) instead of through the GOT, which the static link would turn into
   absolute link-time (low) addresses. This header is force-included. */
#pragma GCC visibility push(hidden)

/* boot.S maps the first GiB again here and jumps to it. The code is
   position-independent, so addresses of kernel symbols taken in C are in this
   alias; page-table entries and the boot line need physical ones. */
#define KERNEL_HIGH 0xFFFFFFFF80000000ull

static inline uint64_t to_phys(const void *p) {
    uint64_t a = (uint64_t)(uintptr_t)p;
    return a >= KERNEL_HIGH ? a - KERNEL_HIGH : a;
}

#endif
