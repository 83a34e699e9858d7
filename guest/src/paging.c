#include "paging.h"
#include "kernel.h"

#define PTE_P   0x001ull
#define PTE_RW  0x002ull
#define PTE_US  0x004ull
#define PTE_PWT 0x008ull
#define PTE_PCD 0x010ull
#define PTE_PS  0x080ull
#define GIB     (1ull << 30)
#define LAPIC_BASE 0xFEE00000ull

extern uint64_t boot_pdpt[512];
extern uint64_t boot_pd[4 * 512];

/* One page directory maps 1 GiB; the first four are static in boot.S. */
#define EXTRA_PDS ((unsigned)(PAGING_MAX_PHYS / GIB) - 4)
static uint64_t extra_pd[EXTRA_PDS][512] __attribute__((aligned(4096)));

static void invlpg(uint64_t addr) { __asm__ volatile("invlpg (%0)" : : "r"(addr) : "memory"); }

static void flush_all(void) {
    uint64_t cr3;
    __asm__ volatile("mov %%cr3, %0; mov %0, %%cr3" : "=r"(cr3) : : "memory");
}

void paging_init(void) {
    boot_pd[LAPIC_BASE >> 21] |= PTE_PWT | PTE_PCD;
    invlpg(LAPIC_BASE);
}

uint64_t paging_map_up_to(uint64_t top) {
    if (top > PAGING_MAX_PHYS) top = PAGING_MAX_PHYS;
    uint64_t gib_end = (top + GIB - 1) / GIB;
    for (uint64_t g = 4; g < gib_end; g++) {
        if (boot_pdpt[g] & PTE_P) continue;
        uint64_t *pd = extra_pd[g - 4];
        for (uint64_t i = 0; i < 512; i++) pd[i] = (g * GIB + (i << 21)) | PTE_P | PTE_RW | PTE_US | PTE_PS;
        boot_pdpt[g] = to_phys(pd) | PTE_P | PTE_RW | PTE_US;
    }
    flush_all();
    return gib_end < 4 ? 4 * GIB : gib_end * GIB;
}
