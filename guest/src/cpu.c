#include "cpu.h"
#include <stdint.h>
#include "io.h"

struct tss64 {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;
} __attribute__((packed));

struct gdt_ptr {
    uint16_t limit;
    uint64_t base;
} __attribute__((packed));

static uint64_t gdt[7] __attribute__((aligned(16)));
static struct tss64 tss __attribute__((aligned(16)));
static uint8_t interrupt_stack[16384] __attribute__((aligned(16)));
static uint8_t user_stack[65536] __attribute__((aligned(16)));

extern void enter_user(void (*rip)(void), uint64_t rsp) __attribute__((noreturn));

void cpu_init(void) {
    gdt[0] = 0;
    gdt[1] = 0x00AF9A000000FFFFull;   /* kernel code, 64-bit (same selector as boot.S) */
    gdt[2] = 0x00CF92000000FFFFull;   /* kernel data */
    gdt[3] = 0x00CFF2000000FFFFull;   /* user data, DPL 3 */
    gdt[4] = 0x00AFFA000000FFFFull;   /* user code, 64-bit, DPL 3 */

    tss.rsp[0] = (uint64_t)(uintptr_t)(interrupt_stack + sizeof interrupt_stack);
    tss.iomap_base = sizeof tss;      /* no I/O bitmap: ring 3 has no ports */
    uint64_t base = (uint64_t)(uintptr_t)&tss, limit = sizeof tss - 1;
    gdt[5] = (limit & 0xFFFF) | ((base & 0xFFFFFF) << 16) | (0x89ull << 40) |
             (((limit >> 16) & 0xF) << 48) | (((base >> 24) & 0xFF) << 56);
    gdt[6] = base >> 32;

    struct gdt_ptr p = { sizeof gdt - 1, (uint64_t)(uintptr_t)gdt };
    __asm__ volatile("lgdt %0" : : "m"(p));
    __asm__ volatile("ltr %w0" : : "r"((uint16_t)SEL_TSS));
}

void cpu_run_user(void (*fn)(void)) {
    cpu_in_user_mode = 1;
    enter_user(fn, (uint64_t)(uintptr_t)(user_stack + sizeof user_stack));
}

int cpu_in_user_mode;

void cpu_idle_until_tick_after(unsigned long long seen) {
    __asm__ volatile("int $0x80" : : "D"(seen) : "memory");
}

void cpu_write_serial(const char *s, unsigned n) {
    __asm__ volatile("int $0x81" : : "D"(s), "S"((uint64_t)n) : "memory");
}
