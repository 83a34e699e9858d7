/* What the probe takes from the multiboot v1 info: the command line, the
   RAM ranges and the framebuffer, if any. All are copied out at boot, because
   the loader may have put the info structure in memory that the workload
   later fills. */
#ifndef PROBE_MULTIBOOT_H
#define PROBE_MULTIBOOT_H
#include <stdint.h>

#define MB_BOOT_MAGIC 0x2BADB002u
#define MB_MAX_RANGES 32
#define MB_CMDLINE_MAX 1024

struct ram_range {
    uint64_t base;      /* bytes, physical */
    uint64_t length;
};

/* The framebuffer as the loader describes it (flags bit 12), unchecked:
   display.c decides whether the probe can draw into it. */
struct mb_framebuffer {
    int present;
    uint64_t addr;      /* physical */
    uint32_t pitch;     /* bytes per scanline */
    uint32_t width, height;
    uint8_t bpp;
    uint8_t type;       /* 1 = direct RGB */
    uint8_t red_pos, red_size, green_pos, green_size, blue_pos, blue_size;
};

struct boot_info {
    char cmdline[MB_CMDLINE_MAX];
    struct ram_range ram[MB_MAX_RANGES];
    unsigned nram;
    int from_mmap;      /* 1: multiboot mmap, 0: mem_upper fallback */
    struct mb_framebuffer fb;
};

/* Returns 0 on success, or a negative code if the info says nothing usable
   about memory (the caller reports it and stops). */
int multiboot_read(uint32_t info_phys, struct boot_info *out);

#endif
