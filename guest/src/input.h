/* Drains the keyboard and mouse once per frame: each key is printed on
   serial (`KEY a`, `KEY A`, `KEY space`, `KEY enter`, `KEY backspace`,
   `KEY tab`) and typed into the desktop; mouse packets move the pointer,
   and each button press prints `CLICK <x> <y>`. Ring 3. */
#ifndef PROBE_INPUT_H
#define PROBE_INPUT_H

void input_pump(void);

#endif
