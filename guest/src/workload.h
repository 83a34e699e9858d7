/* The memory workload: fill pages with a pattern keyed by page number and a
   per-page version, keep a checksum per page, rewrite the working set at a
   paced rate and keep verifying. */
#ifndef PROBE_WORKLOAD_H
#define PROBE_WORKLOAD_H
#include <stdint.h>
#include "multiboot.h"

struct layout_result {
    uint64_t usable_bytes;     /* all RAM the multiboot map reports */
    uint64_t fill_pages;       /* pages actually filled (after clamping) */
    uint64_t ws_pages;
    uint64_t table_phys;       /* checksum/version table */
    uint64_t table_bytes;
    uint64_t first_fill_pfn;
    int fill_clamped;          /* requested fill did not fit */
};

/* Places the table and the fill region in RAM above `image_end`, mapping any
   RAM above 4 GiB it uses. */
void workload_layout(const struct boot_info *bi, uint64_t image_end, uint64_t fill_bytes,
                     uint64_t ws_bytes, uint32_t entropy_milli, struct layout_result *out);

/* Fills up to max_pages more pages; returns 1 once the whole fill is done. */
int workload_fill_step(unsigned max_pages);
/* Verifies then rewrites the next working-set page (round-robin). */
void workload_rewrite_one(void);
/* Verifies the next page of the sweep over every filled page. */
void workload_verify_one(void);
/* Debug: flips one byte of a filled page without updating its checksum.
   Returns that page's number (physical address / 4096). */
uint64_t workload_corrupt_one(void);

uint64_t workload_verified(void);
/* 0 while every verification passed, else 1 and *pfn = first bad page. */
int workload_corrupt(uint64_t *pfn);

#endif
