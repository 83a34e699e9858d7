/* Scancode set 1 (what the i8042 hands the guest with translation on) to
   the keys the desktop uses, US layout. */
#ifndef PROBE_KEYBOARD_H
#define PROBE_KEYBOARD_H
#include <stdint.h>

/* Feeds one byte from the keyboard. Returns the character a key press
   produced (shift and caps lock applied; '\n' enter, '\b' backspace, '\t'
   tab), or 0 for releases, modifiers, prefixes and keys without one. */
char keyboard_feed(uint8_t scancode);

#endif
