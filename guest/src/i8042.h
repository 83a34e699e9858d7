/* The PS/2 controller (i8042, ports 0x60/0x64): keyboard and mouse bytes.
 *
 * Why polling through a system call, once per frame: under this project's
 * nested KVM (PVM) port I/O from ring 3 faults even with IOPL 3, so ring 3
 * cannot read the ports itself, and everything in ring 0 is emulated (~5 us
 * per instruction). An IRQ handler per byte would cost about as much per
 * byte as one poll costs per frame, but would also need the IOAPIC (or
 * unmasking the PIC) programmed and its trigger mode matched to how the VMM
 * drives the lines. Polling 20 times a second costs ~10 emulated
 * instructions and one status-port read when nothing is waiting, adds at
 * most one frame (50 ms) of latency, and the controller's queues (256 bytes
 * each) hold far more than arrives in a frame. So the controller's
 * interrupts stay off and ring 3 asks the kernel (int 0x82) to drain it. */
#ifndef PROBE_I8042_H
#define PROBE_I8042_H
#include <stdint.h>

#define I8042_STATUS_AUX 0x20   /* the byte came from the mouse */
#define I8042_POLL_MAX 64       /* bytes per poll; boot.S's input_isr has the same bound */

/* Ring 0, once, only when there is a display: interrupts off, translation
   to set 1 on, keyboard and aux port enabled, mouse reporting on. */
void i8042_init(void);
/* Ring 3: drains up to cap (at most I8042_POLL_MAX) waiting bytes into out,
   each as status << 8 | data, and returns how many. */
unsigned i8042_poll(uint16_t *out, unsigned cap);

#endif
