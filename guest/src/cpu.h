/* Privilege setup: the GDT with user segments and a TSS, and the drop to
   ring 3. The workload runs in ring 3 because this project's nested KVM (PVM)
   runs guest user mode natively but emulates guest kernel mode instruction by
   instruction (measured: ~5 us per instruction, even in the higher half), so
   only short interrupt handlers run in ring 0. Ring 3 reaches the kernel with
   int 0x80 / 0x81 (see boot.S for how PVM delivers those). */
#ifndef PROBE_CPU_H
#define PROBE_CPU_H

#define SEL_KERNEL_CODE 0x08
#define SEL_KERNEL_DATA 0x10
#define SEL_USER_DATA   0x18
#define SEL_USER_CODE   0x20
#define SEL_TSS         0x28

void cpu_init(void);
/* Runs fn in ring 3 on its own stack; never returns. */
__attribute__((noreturn)) void cpu_run_user(void (*fn)(void));
/* From ring 3: sleep until the next interrupt unless a tick already came. */
void cpu_idle_until_tick_after(unsigned long long seen);
/* From ring 3: write bytes to COM1 through the kernel. */
void cpu_write_serial(const char *s, unsigned n);
/* Set once the workload runs in ring 3: output then goes through int 0x81. */
extern int cpu_in_user_mode;

#endif
