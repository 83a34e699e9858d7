#include "idt.h"
#include "io.h"
#include "cpu.h"
#include "kernel.h"
#include "serial.h"

struct idt_gate {
    uint16_t off_lo;
    uint16_t selector;
    uint8_t ist;
    uint8_t type_attr;
    uint16_t off_mid;
    uint32_t off_hi;
    uint32_t zero;
} __attribute__((packed));

struct idt_ptr {
    uint16_t limit;
    uint64_t base;
} __attribute__((packed));

extern const uint64_t isr_exception_table[32];
extern void timer_isr(void);
extern void spurious_isr(void);
extern void idle_isr(void);
extern void serial_isr(void);
extern void input_isr(void);
extern void ud_isr(void);

static struct idt_gate idt[256] __attribute__((aligned(16)));

static void set_gate_dpl(unsigned vec, uint64_t handler, unsigned dpl) {
    idt[vec].off_lo = (uint16_t)handler;
    idt[vec].selector = 0x08;
    idt[vec].ist = 0;
    idt[vec].type_attr = (uint8_t)(0x8E | dpl << 5);   /* present, 64-bit interrupt gate */
    idt[vec].off_mid = (uint16_t)(handler >> 16);
    idt[vec].off_hi = (uint32_t)(handler >> 32);
    idt[vec].zero = 0;
}

static void set_gate(unsigned vec, uint64_t handler) { set_gate_dpl(vec, handler, 0); }

void idt_init(void) {
    for (unsigned v = 0; v < 32; v++) set_gate(v, isr_exception_table[v]);
    /* Anything unexpected (a stray PIC or device vector) is ignored rather
       than taken as a fault: only the timer vector is counted. */
    for (unsigned v = 32; v < 256; v++) set_gate(v, (uint64_t)(uintptr_t)spurious_isr);
    set_gate(VEC_TIMER, (uint64_t)(uintptr_t)timer_isr);
    set_gate(6, (uint64_t)(uintptr_t)ud_isr);
    set_gate_dpl(VEC_IDLE, (uint64_t)(uintptr_t)idle_isr, 3);
    set_gate_dpl(VEC_SERIAL, (uint64_t)(uintptr_t)serial_isr, 3);
    set_gate_dpl(VEC_INPUT, (uint64_t)(uintptr_t)input_isr, 3);
    struct idt_ptr p = { sizeof idt - 1, (uint64_t)(uintptr_t)idt };
    __asm__ volatile("lidt %0" : : "m"(p));
}

/* Called from isr_common in boot.S with interrupts off; never returns. */
void fault_report(uint64_t vector, uint64_t error, uint64_t rip, uint64_t cr2) {
    struct line l;
    cpu_in_user_mode = 0;   /* we are in ring 0 now: write to the port directly */
    line_start(&l);
    line_str(&l, "PROBE fault vector=");
    line_u64(&l, vector);
    line_str(&l, " error=");
    line_hex(&l, error);
    line_str(&l, " rip=");
    line_hex(&l, rip);
    line_str(&l, " cr2=");
    line_hex(&l, cr2);
    line_send(&l);
    halt_forever();
}
