#include "i8042.h"
#include "io.h"

#define DATA 0x60
#define CMD 0x64                 /* write: command; read: status */
#define ST_OUT_FULL 0x01
#define ST_IN_FULL 0x02
#define CB_KBD_IRQ 0x01
#define CB_AUX_IRQ 0x02
#define CB_KBD_OFF 0x10
#define CB_AUX_OFF 0x20
#define CB_TRANSLATE 0x40
#define CB_DEFAULT 0x45          /* what a controller that never answered is assumed to hold */
#define CTL_READ_CB 0x20
#define CTL_WRITE_CB 0x60
#define CTL_AUX_ON 0xA8
#define CTL_TO_AUX 0xD4
#define AUX_REPORTING_ON 0xF4
#define AUX_ACK 0xFA
/* Bounded waits: every step is an emulated instruction plus a port exit,
   and a controller that never answers must not stall the boot for long. */
#define SPIN 256

static void wait_writable(void) {
    for (unsigned i = 0; i < SPIN && (inb(CMD) & ST_IN_FULL); i++) {}
}

static int wait_readable(void) {
    for (unsigned i = 0; i < SPIN; i++)
        if (inb(CMD) & ST_OUT_FULL) return 1;
    return 0;
}

static void command(uint8_t c) { wait_writable(); outb(CMD, c); }
static void data(uint8_t d) { wait_writable(); outb(DATA, d); }

void i8042_init(void) {
    for (unsigned i = 0; i < 32 && (inb(CMD) & ST_OUT_FULL); i++) (void)inb(DATA);

    command(CTL_READ_CB);
    uint8_t cb = wait_readable() ? inb(DATA) : CB_DEFAULT;
    cb &= (uint8_t)~(CB_KBD_IRQ | CB_AUX_IRQ | CB_KBD_OFF | CB_AUX_OFF);
    cb |= CB_TRANSLATE;          /* keyboard.c decodes set 1 */
    command(CTL_WRITE_CB);
    data(cb);

    command(CTL_AUX_ON);
    command(CTL_TO_AUX);
    data(AUX_REPORTING_ON);
    /* Eat the mouse's ACK so it does not reach the packet parser (which
       would skip it anyway). */
    for (unsigned i = 0; i < 8 && wait_readable(); i++)
        if (inb(DATA) == AUX_ACK) break;
}

unsigned i8042_poll(uint16_t *out, unsigned cap) {
    uint64_t n;
    __asm__ volatile("int $0x82" : "=a"(n), "+D"(out), "+S"(cap) : : "rcx", "rdx", "memory");
    return (unsigned)n;
}
