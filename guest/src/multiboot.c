#include "multiboot.h"

#define MBI_FLAG_MEM     (1u << 0)
#define MBI_FLAG_CMDLINE (1u << 2)
#define MBI_FLAG_MMAP    (1u << 6)
#define MBI_FLAG_FB      (1u << 12)
#define MMAP_TYPE_RAM    1u
#define MMAP_MAX_ENTRIES 256

/* Unaligned-safe little-endian reads from guest-physical addresses below
   4 GiB, which the boot page tables identity-map. */
static uint32_t rd32(uint64_t addr) {
    const volatile uint8_t *p = (const volatile uint8_t *)(uintptr_t)addr;
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t rd64(uint64_t addr) { return rd32(addr) | (uint64_t)rd32(addr + 4) << 32; }
static uint8_t rd8(uint64_t addr) { return *(const volatile uint8_t *)(uintptr_t)addr; }

/* framebuffer_addr (u64) at offset 88, then pitch, width, height (u32),
   bpp and type (u8), and for type 1 the colour fields (position, size) for
   red, green and blue at 110..115. */
static void read_framebuffer(uint32_t info, struct mb_framebuffer *fb) {
    fb->present = 1;
    fb->addr = rd64(info + 88);
    fb->pitch = rd32(info + 96);
    fb->width = rd32(info + 100);
    fb->height = rd32(info + 104);
    fb->bpp = rd8(info + 108);
    fb->type = rd8(info + 109);
    fb->red_pos = rd8(info + 110);
    fb->red_size = rd8(info + 111);
    fb->green_pos = rd8(info + 112);
    fb->green_size = rd8(info + 113);
    fb->blue_pos = rd8(info + 114);
    fb->blue_size = rd8(info + 115);
}

static void add_range(struct boot_info *bi, uint64_t base, uint64_t len) {
    if (len == 0 || bi->nram >= MB_MAX_RANGES) return;
    if (base + len < base) len = ~base;   /* clip a range that wraps */
    bi->ram[bi->nram].base = base;
    bi->ram[bi->nram].length = len;
    bi->nram++;
}

int multiboot_read(uint32_t info, struct boot_info *bi) {
    bi->cmdline[0] = 0;
    bi->nram = 0;
    bi->from_mmap = 0;
    bi->fb.present = 0;
    uint32_t flags = rd32(info);
    if (flags & MBI_FLAG_FB) read_framebuffer(info, &bi->fb);

    if (flags & MBI_FLAG_CMDLINE) {
        uint32_t p = rd32(info + 16);
        unsigned i = 0;
        for (; i < MB_CMDLINE_MAX - 1 && (uint64_t)p + i < 0x100000000ull; i++) {
            char c = (char)*(const volatile uint8_t *)(uintptr_t)((uint64_t)p + i);
            if (!c) break;
            bi->cmdline[i] = c;
        }
        bi->cmdline[i] = 0;
    }

    if (flags & MBI_FLAG_MMAP) {
        uint64_t addr = rd32(info + 48);
        uint64_t end = addr + rd32(info + 44);
        /* Each entry: u32 size (not counting itself), u64 base, u64 length, u32 type. */
        for (unsigned n = 0; n < MMAP_MAX_ENTRIES && addr + 24 <= end; n++) {
            uint32_t size = rd32(addr);
            if (size < 20) break;   /* malformed: stop rather than loop on garbage */
            if (rd32(addr + 20) == MMAP_TYPE_RAM) add_range(bi, rd64(addr + 4), rd64(addr + 12));
            addr += (uint64_t)size + 4;
        }
        bi->from_mmap = bi->nram > 0;
    }
    if (!bi->from_mmap && (flags & MBI_FLAG_MEM)) {
        /* mem_upper: KiB of RAM from 1 MiB up to the first hole. */
        add_range(bi, 0x100000, (uint64_t)rd32(info + 8) * 1024);
    }
    return bi->nram ? 0 : -1;
}
