#include "params.h"

#define MIB (1ull << 20)

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static int key_is(const char *k, unsigned klen, const char *name) {
    unsigned i = 0;
    for (; i < klen; i++)
        if (!name[i] || name[i] != k[i]) return 0;
    return name[i] == 0;
}

/* Appends ",word" (or "word") to a bounded list, truncating quietly. */
static void list_add(char *list, unsigned cap, const char *w, unsigned wlen) {
    unsigned n = 0;
    while (list[n]) n++;
    if (n && n + 1 < cap) list[n++] = ',';
    for (unsigned i = 0; i < wlen && n + 1 < cap; i++) list[n++] = w[i];
    list[n] = 0;
}

/* Decimal digits with overflow check; returns digits consumed, 0 if none or overflow. */
static unsigned parse_u64(const char *s, unsigned len, uint64_t *out) {
    uint64_t v = 0;
    unsigned i = 0;
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (~0ull - d) / 10) return 0;
        v = v * 10 + d;
    }
    *out = v;
    return i;
}

/* "64M", "512K", "2G", "4096": bytes. */
static int parse_size(const char *s, unsigned len, uint64_t *out) {
    uint64_t v;
    unsigned n = parse_u64(s, len, &v);
    if (!n) return -1;
    uint64_t mul = 1;
    if (n < len) {
        if (n + 1 != len) return -1;
        switch (s[n]) {
        case 'k': case 'K': mul = 1ull << 10; break;
        case 'm': case 'M': mul = 1ull << 20; break;
        case 'g': case 'G': mul = 1ull << 30; break;
        case 't': case 'T': mul = 1ull << 40; break;
        default: return -1;
        }
    }
    if (v > ~0ull / mul) return -1;
    *out = v * mul;
    return 0;
}

/* "100ms", "2s", "250" (ms): 10 ms .. 1 hour. */
static int parse_duration_ms(const char *s, unsigned len, uint32_t *out) {
    uint64_t v;
    unsigned n = parse_u64(s, len, &v);
    if (!n) return -1;
    if (n == len || (len - n == 2 && s[n] == 'm' && s[n + 1] == 's')) {
        /* milliseconds */
    } else if (len - n == 1 && s[n] == 's') {
        if (v > 3600) return -1;
        v *= 1000;
    } else {
        return -1;
    }
    if (v < 10 || v > 3600000) return -1;
    *out = (uint32_t)v;
    return 0;
}

/* "0.3", ".25", "1", "1.0": thousandths in 0..1000. */
static int parse_fraction_milli(const char *s, unsigned len, uint32_t *out) {
    uint64_t whole = 0;
    unsigned i = parse_u64(s, len, &whole);
    if (whole > 1) return -1;
    uint64_t milli = whole * 1000;
    if (i < len) {
        if (s[i] != '.') return -1;
        i++;
        uint64_t scale = 100;
        unsigned digits = 0;
        for (; i < len; i++, digits++) {
            if (s[i] < '0' || s[i] > '9') return -1;
            milli += (uint64_t)(s[i] - '0') * scale;
            scale /= 10;
        }
        if (!digits && len == 1) return -1;   /* a bare "." */
    } else if (len == 0) {
        return -1;
    }
    if (milli > 1000) return -1;
    *out = (uint32_t)milli;
    return 0;
}

void params_parse(const char *cmd, struct params *p) {
    p->fill = 16 * MIB;
    p->ws = 4 * MIB;
    p->rate = 4 * MIB;
    p->beat_ms = 100;
    p->entropy_milli = 300;
    p->corrupt_after = 0;
    p->screen_busy = 0;
    p->unknown[0] = 0;
    p->bad[0] = 0;

    unsigned word_no = 0;
    const char *s = cmd;
    for (;;) {
        while (*s && is_space(*s)) s++;
        if (!*s) break;
        const char *w = s;
        while (*s && !is_space(*s)) s++;
        unsigned wlen = (unsigned)(s - w);
        unsigned eq = 0;
        while (eq < wlen && w[eq] != '=') eq++;
        word_no++;
        if (eq == wlen) {
            /* GRUB and QEMU put the kernel's path first: skip that word. */
            if (word_no != 1) list_add(p->unknown, sizeof p->unknown, w, wlen);
            continue;
        }
        const char *v = w + eq + 1;
        unsigned vlen = wlen - eq - 1;
        int rc = 0;
        uint64_t n64;
        if (key_is(w, eq, "fill")) rc = parse_size(v, vlen, &p->fill);
        else if (key_is(w, eq, "ws")) rc = parse_size(v, vlen, &p->ws);
        else if (key_is(w, eq, "rate")) rc = parse_size(v, vlen, &p->rate);
        else if (key_is(w, eq, "beat")) rc = parse_duration_ms(v, vlen, &p->beat_ms);
        else if (key_is(w, eq, "entropy")) rc = parse_fraction_milli(v, vlen, &p->entropy_milli);
        else if (key_is(w, eq, "corrupt_after")) {
            rc = (parse_u64(v, vlen, &n64) == vlen && vlen && n64 > 0 && n64 < 0xFFFFFFFFull) ? 0 : -1;
            if (!rc) p->corrupt_after = (uint32_t)n64;
        } else if (key_is(w, eq, "screen")) {
            if (key_is(v, vlen, "busy")) p->screen_busy = 1;
            else if (key_is(v, vlen, "idle")) p->screen_busy = 0;
            else rc = -1;
        } else {
            list_add(p->unknown, sizeof p->unknown, w, eq);
            continue;
        }
        if (rc) list_add(p->bad, sizeof p->bad, w, eq);
    }
}
