#include "keyboard.h"

#define SC_LSHIFT 0x2A
#define SC_RSHIFT 0x36
#define SC_CAPS 0x3A
#define SC_BREAK 0x80
#define SC_EXTENDED 0xE0      /* one more byte follows: arrows, right ctrl, keypad enter, ... */
#define SC_PAUSE 0xE1         /* two more bytes follow (pause) */
#define KEYS 0x3A             /* make codes covered by the tables below */

static const char plain[KEYS] = {
    0, 0, '1', '2', '3', '4', '5', '6', '7', '8', '9', '0', '-', '=', '\b', '\t',
    'q', 'w', 'e', 'r', 't', 'y', 'u', 'i', 'o', 'p', '[', ']', '\n', 0,
    'a', 's', 'd', 'f', 'g', 'h', 'j', 'k', 'l', ';', '\'', '`', 0, '\\',
    'z', 'x', 'c', 'v', 'b', 'n', 'm', ',', '.', '/', 0, 0, 0, ' ',
};
static const char shifted[KEYS] = {
    0, 0, '!', '@', '#', '$', '%', '^', '&', '*', '(', ')', '_', '+', '\b', '\t',
    'Q', 'W', 'E', 'R', 'T', 'Y', 'U', 'I', 'O', 'P', '{', '}', '\n', 0,
    'A', 'S', 'D', 'F', 'G', 'H', 'J', 'K', 'L', ':', '"', '~', 0, '|',
    'Z', 'X', 'C', 'V', 'B', 'N', 'M', '<', '>', '?', 0, 0, 0, ' ',
};

static int lshift, rshift, caps;
static unsigned skip;         /* bytes of an extended sequence still to ignore */

char keyboard_feed(uint8_t sc) {
    if (skip) { skip--; return 0; }
    if (sc == SC_EXTENDED) { skip = 1; return 0; }
    if (sc == SC_PAUSE) { skip = 2; return 0; }
    int up = sc & SC_BREAK;
    uint8_t code = sc & (uint8_t)~SC_BREAK;
    if (code == SC_LSHIFT) { lshift = !up; return 0; }
    if (code == SC_RSHIFT) { rshift = !up; return 0; }
    if (up) return 0;
    if (code == SC_CAPS) { caps = !caps; return 0; }
    if (code >= KEYS) return 0;
    int shift = lshift || rshift;
    char c = plain[code];
    if (caps && c >= 'a' && c <= 'z') shift = !shift;
    return shift ? shifted[code] : c;
}
