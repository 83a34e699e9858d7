/* Clocks: the TSC and the LAPIC timer, both calibrated against the PIT, and
   the periodic LAPIC tick the workload is paced by. */
#ifndef PROBE_TIMER_H
#define PROBE_TIMER_H
#include <stdint.h>

#define TIMER_HZ 100u

/* Incremented by timer_isr (boot.S) once per LAPIC timer interrupt. */
extern volatile uint64_t timer_ticks;

struct clocks {
    uint64_t tsc_khz;     /* TSC ticks per millisecond */
    uint64_t lapic_hz;    /* LAPIC timer input ticks per second after the /16 divider */
};

/* Masks the legacy PIC and enables the LAPIC (spurious vector, LINT0 masked). */
void interrupt_controllers_init(void);
/* Measures both clocks over a PIT channel 2 one-shot. Returns 0, or -1 when
   the PIT never finished (the probe then reports it and stops). */
int clocks_calibrate(struct clocks *out);
/* Starts the periodic LAPIC timer at TIMER_HZ. */
void timer_start(const struct clocks *c);

#endif
