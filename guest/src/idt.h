/* The 64-bit IDT: exceptions are fatal and reported, the LAPIC timer counts. */
#ifndef PROBE_IDT_H
#define PROBE_IDT_H
#include <stdint.h>

#define VEC_TIMER     0x20
#define VEC_PIC_BASE  0x30   /* legacy PIC remapped here, then fully masked */
#define VEC_IDLE      0x80   /* ring 3: wait for a tick (DPL 3 gate) */
#define VEC_SERIAL    0x81   /* ring 3: write to COM1 (DPL 3 gate) */
#define VEC_INPUT     0x82   /* ring 3: drain the i8042 (DPL 3 gate) */
#define VEC_SPURIOUS  0xFF

void idt_init(void);

#endif
