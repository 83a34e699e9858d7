/* COM1 (8250 at 0x3F8), polled output, and a small line builder so every
   line goes out whole. */
#ifndef PROBE_SERIAL_H
#define PROBE_SERIAL_H
#include <stdint.h>

void serial_init(void);
void serial_write(const char *s, unsigned n);

struct line {
    char buf[512];
    unsigned len;
};
void line_start(struct line *l);
void line_str(struct line *l, const char *s);
void line_u64(struct line *l, uint64_t v);
void line_hex(struct line *l, uint64_t v);
/* v in thousandths, printed with two decimals (rounded): 300 -> "0.30". */
void line_milli2(struct line *l, uint32_t milli);
/* Appends '\n' and writes the line out. */
void line_send(struct line *l);

#endif
