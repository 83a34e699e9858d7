#include "timer.h"
#include "idt.h"
#include "io.h"

#define LAPIC_BASE        0xFEE00000ull
#define LAPIC_TPR         0x080
#define LAPIC_SVR         0x0F0
#define LAPIC_LVT_TIMER   0x320
#define LAPIC_LVT_LINT0   0x350
#define LAPIC_TIMER_INIT  0x380
#define LAPIC_TIMER_CUR   0x390
#define LAPIC_TIMER_DIV   0x3E0
#define LVT_MASKED        (1u << 16)
#define LVT_PERIODIC      (1u << 17)
#define MSR_APIC_BASE     0x1B

#define PIT_HZ            1193182ull
#define PIT_CAL_MS        50ull
#define PIT_CAL_LATCH     ((PIT_HZ * PIT_CAL_MS) / 1000)   /* 59659: fits 16 bits */

volatile uint64_t timer_ticks;

static void lapic_write(uint32_t reg, uint32_t v) { *(volatile uint32_t *)(uintptr_t)(LAPIC_BASE + reg) = v; }
static uint32_t lapic_read(uint32_t reg) { return *(volatile uint32_t *)(uintptr_t)(LAPIC_BASE + reg); }

void interrupt_controllers_init(void) {
    /* Remap the 8259s away from the exception vectors, then mask every line:
       the PIT's IRQ0 must not arrive as a #DF on a BIOS-style mapping. */
    outb(0x20, 0x11); outb(0xA0, 0x11);
    outb(0x21, VEC_PIC_BASE); outb(0xA1, VEC_PIC_BASE + 8);
    outb(0x21, 0x04); outb(0xA1, 0x02);
    outb(0x21, 0x01); outb(0xA1, 0x01);
    outb(0x21, 0xFF); outb(0xA1, 0xFF);

    /* The base is not read from the MSR (fixed at 0xFEE00000), only enabled. */
    wrmsr(MSR_APIC_BASE, rdmsr(MSR_APIC_BASE) | (1u << 11));
    lapic_write(LAPIC_SVR, 0x100 | VEC_SPURIOUS);
    lapic_write(LAPIC_TPR, 0);
    lapic_write(LAPIC_LVT_LINT0, LVT_MASKED);
    lapic_write(LAPIC_LVT_TIMER, LVT_MASKED);
}

int clocks_calibrate(struct clocks *out) {
    /* PIT channel 2, mode 0 (one-shot), gated by port 0x61 bit 0; its output
       shows in port 0x61 bit 5. The speaker (bit 1) stays off. */
    outb(0x61, (uint8_t)((inb(0x61) & ~0x02) | 0x01));
    outb(0x43, 0xB0);
    outb(0x42, (uint8_t)(PIT_CAL_LATCH & 0xFF));
    outb(0x42, (uint8_t)(PIT_CAL_LATCH >> 8));

    lapic_write(LAPIC_TIMER_DIV, 0x3);              /* divide by 16 */
    lapic_write(LAPIC_TIMER_INIT, 0xFFFFFFFFu);     /* one-shot, masked: just count down */
    uint64_t tsc0 = rdtsc();
    uint32_t apic0 = lapic_read(LAPIC_TIMER_CUR);

    /* Bounded wait (port reads exit to the VMM, tens of microseconds at most
       each): a machine without a PIT gives up instead of hanging. */
    uint64_t polls = 0;
    while (!(inb(0x61) & 0x20))
        if (++polls > 50000000ull) return -1;

    uint32_t apic1 = lapic_read(LAPIC_TIMER_CUR);
    uint64_t tsc1 = rdtsc();
    lapic_write(LAPIC_TIMER_INIT, 0);
    outb(0x61, (uint8_t)(inb(0x61) & ~0x03));

    out->tsc_khz = (tsc1 - tsc0) / PIT_CAL_MS;
    out->lapic_hz = (uint64_t)(apic0 - apic1) * 1000 / PIT_CAL_MS;
    return (out->tsc_khz && out->lapic_hz >= TIMER_HZ) ? 0 : -1;
}

void timer_start(const struct clocks *c) {
    lapic_write(LAPIC_TIMER_DIV, 0x3);
    lapic_write(LAPIC_LVT_TIMER, VEC_TIMER | LVT_PERIODIC);
    lapic_write(LAPIC_TIMER_INIT, (uint32_t)(c->lapic_hz / TIMER_HZ));
}
