/* Identity mapping beyond the static first 4 GiB (boot.S), 2 MiB pages. */
#ifndef PROBE_PAGING_H
#define PROBE_PAGING_H
#include <stdint.h>

/* Highest physical address the probe can map (page-directory pool size). */
#define PAGING_MAX_PHYS (64ull << 30)

/* Makes the LAPIC's 2 MiB page uncacheable. */
void paging_init(void);
/* Identity-maps [4 GiB, top) (top rounded up to 1 GiB, capped at
   PAGING_MAX_PHYS). Returns the end of the mapped range. */
uint64_t paging_map_up_to(uint64_t top);

#endif
