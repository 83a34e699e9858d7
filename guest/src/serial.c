#include "serial.h"
#include "io.h"
#include "cpu.h"

#define COM1 0x3F8
#define LSR_THR_EMPTY 0x20

void serial_init(void) {
    outb(COM1 + 1, 0x00);   /* no UART interrupts: output is polled */
    outb(COM1 + 3, 0x80);   /* DLAB on */
    outb(COM1 + 0, 0x01);   /* 115200 baud */
    outb(COM1 + 1, 0x00);
    outb(COM1 + 3, 0x03);   /* 8N1, DLAB off */
    outb(COM1 + 2, 0x07);   /* FIFO on and cleared */
    outb(COM1 + 4, 0x03);   /* DTR, RTS */
}

static void serial_putc(char c) {
    /* Bounded wait: a VMM without LSR emulation must not hang the probe. */
    for (unsigned spin = 0; spin < 100000; spin++)
        if (inb(COM1 + 5) & LSR_THR_EMPTY) break;
    outb(COM1, (uint8_t)c);
}

void serial_write(const char *s, unsigned n) {
    for (unsigned i = 0; i < n; i++) serial_putc(s[i]);
}

void line_start(struct line *l) { l->len = 0; }

static void line_putc(struct line *l, char c) {
    if (l->len < sizeof l->buf - 1) l->buf[l->len++] = c;
}

void line_str(struct line *l, const char *s) {
    while (*s) line_putc(l, *s++);
}

void line_u64(struct line *l, uint64_t v) {
    char tmp[20];
    unsigned n = 0;
    do { tmp[n++] = (char)('0' + v % 10); v /= 10; } while (v);
    while (n) line_putc(l, tmp[--n]);
}

void line_hex(struct line *l, uint64_t v) {
    static const char digits[] = "0123456789abcdef";
    line_str(l, "0x");
    int started = 0;
    for (int shift = 60; shift >= 0; shift -= 4) {
        unsigned d = (v >> shift) & 0xF;
        if (d || started || shift == 0) { line_putc(l, digits[d]); started = 1; }
    }
}

void line_milli2(struct line *l, uint32_t milli) {
    uint32_t hundredths = (milli + 5) / 10;
    line_u64(l, hundredths / 100);
    line_putc(l, '.');
    line_putc(l, (char)('0' + (hundredths / 10) % 10));
    line_putc(l, (char)('0' + hundredths % 10));
}

void line_send(struct line *l) {
    l->buf[l->len++] = '\n';   /* room is always kept by line_putc */
    if (cpu_in_user_mode)
        cpu_write_serial(l->buf, l->len);
    else
        serial_write(l->buf, l->len);
    l->len = 0;
}
