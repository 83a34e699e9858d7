/*
 * Multiboot v1 entry. The loader leaves us in 32-bit protected mode with
 * paging off, EAX = 0x2BADB002 and EBX = the multiboot info (physical).
 * On this project's nested KVM, code in that mode is emulated and an iret or
 * an interrupt there kills the VM, so the 32-bit part does nothing but switch
 * to long mode: the page tables are static data (identity map of the first
 * 4 GiB with 2 MiB pages), so no loops run before paging is on.
 */
#define MB_MAGIC  0x1BADB002
#define MB_FLAGS  0x00000003          /* page-align modules, want mem_* / mmap */

#define KERNEL_HIGH 0xFFFFFFFF80000000
#define PTE_P     0x001
#define PTE_RW    0x002
#define PTE_US    0x004               /* user-accessible: the workload runs in ring 3 */
#define PTE_PS    0x080               /* 2 MiB page in a page directory */

    .section .multiboot, "a"
    .balign 4
    .long MB_MAGIC
    .long MB_FLAGS
    .long -(MB_MAGIC + MB_FLAGS)

    .section .text.boot, "ax"
    .code32
    .globl _start
_start:
    cli
    mov     %eax, %edi                /* keep magic and info pointer for kmain */
    mov     %ebx, %esi
    lgdt    boot_gdt_ptr
    mov     $boot_pml4, %eax
    mov     %eax, %cr3
    mov     %cr4, %eax
    or      $0x20, %eax               /* CR4.PAE */
    mov     %eax, %cr4
    mov     $0xC0000080, %ecx         /* EFER */
    rdmsr
    or      $0x100, %eax              /* EFER.LME */
    wrmsr
    mov     %cr0, %eax
    and     $0x9FFFFFFF, %eax         /* clear CR0.CD and CR0.NW: caches on */
    or      $0x80000001, %eax         /* CR0.PG | CR0.PE */
    mov     %eax, %cr0
    ljmp    $0x08, $long_entry

    .code64
long_entry:
    /* Continue at the kernel's higher-half alias (KERNEL_HIGH + physical):
       see the note at boot_pml4. The C code is position-independent with
       hidden symbols (kernel.h), so it runs there unchanged. */
    movabs  $KERNEL_HIGH, %rax
    lea     high_entry(%rip), %rbx
    add     %rax, %rbx
    jmp     *%rbx
high_entry:
    mov     $0x10, %eax
    mov     %eax, %ds
    mov     %eax, %es
    mov     %eax, %ss
    mov     %eax, %fs
    mov     %eax, %gs
    lea     boot_stack_top(%rip), %rsp
    xor     %ebp, %ebp
    mov     %edi, %edi                /* upper halves are undefined after the switch */
    mov     %esi, %esi
    call    kmain
1:  cli
    hlt
    jmp     1b

/* ---- interrupt entry points (64-bit IDT, installed by idt.c) ---- */

    .text
    /* LAPIC timer: count the tick and acknowledge; nothing else runs here. */
    .globl  timer_isr
timer_isr:
    push    %rax
    incq    timer_ticks(%rip)
    mov     $0xFEE000B0, %eax         /* LAPIC EOI register */
    movl    $0, (%rax)
    pop     %rax
    iretq

    /*
     * Ring 3 asks the kernel for three things with software interrupts:
     *   int 0x80 (SYS_IDLE):  RDI = the tick count it last saw; sleep until
     *                         the next interrupt unless a tick came since.
     *   int 0x81 (SYS_WRITE): RDI = bytes, RSI = length: write them to COM1.
     *   int 0x82 (SYS_INPUT): RDI = u16 buffer, RSI = capacity: drain the
     *                         i8042 (see i8042.h); RAX = entries written.
     * Ring 3 cannot do these itself: hlt is privileged, and under this
     * project's nested KVM (PVM) port I/O from ring 3 faults even with IOPL 3.
     * PVM also turns `int n` in ring 3 into #UD, so ud_isr recognises the
     * two instructions and runs the same handlers; on other hypervisors the
     * DPL-3 gates are taken directly. Interrupt and exception handlers run
     * emulated under PVM, where port I/O works.
     */
    .globl  idle_isr
idle_isr:
    cmp     timer_ticks(%rip), %rdi
    jne     1f
    sti                               /* the gate cleared IF; sti's shadow */
    hlt                               /* means no tick slips in before hlt */
1:  iretq

    .globl  serial_isr
serial_isr:
    push    %rax
    push    %rcx
    push    %rdx
    push    %rsi
    push    %rdi
    push    %r8
    push    %r9
    push    %r10
    push    %r11
    push    %rbp
    mov     %rsp, %rbp
    and     $-16, %rsp
    call    serial_write
    mov     %rbp, %rsp
    pop     %rbp
    pop     %r11
    pop     %r10
    pop     %r9
    pop     %r8
    pop     %rdi
    pop     %rsi
    pop     %rdx
    pop     %rcx
    pop     %rax
    iretq

    /* Each entry is status << 8 | data, read as a pair with interrupts off,
       so the status's aux bit (0x20) says whose byte it is. At most 64
       (I8042_POLL_MAX) per call. */
    .globl  input_isr
input_isr:
    push    %rcx
    push    %rdx
    xor     %ecx, %ecx
    cmp     $64, %rsi
    jbe     1f
    mov     $64, %esi
1:  cmp     %rsi, %rcx
    jae     2f
    in      $0x64, %al
    test    $1, %al                   /* output buffer full? */
    jz      2f
    mov     %al, %dl
    in      $0x60, %al
    mov     %dl, %ah
    mov     %ax, (%rdi,%rcx,2)
    inc     %rcx
    jmp     1b
2:  mov     %rcx, %rax
    pop     %rdx
    pop     %rcx
    iretq

    .globl  ud_isr
ud_isr:
    testb   $3, 8(%rsp)               /* from ring 3? */
    jz      isr6
    push    %rax
    mov     8(%rsp), %rax             /* faulting RIP */
    cmpw    $0x80CD, (%rax)           /* int $0x80 */
    je      3f
    cmpw    $0x81CD, (%rax)           /* int $0x81 */
    je      4f
    cmpw    $0x82CD, (%rax)           /* int $0x82 */
    je      5f
    pop     %rax
    jmp     isr6
3:  addq    $2, 8(%rsp)
    pop     %rax
    jmp     idle_isr
4:  addq    $2, 8(%rsp)
    pop     %rax
    jmp     serial_isr
5:  addq    $2, 8(%rsp)
    pop     %rax
    jmp     input_isr

    /* enter_user(rip, rsp): drop to ring 3 with IF=1. Never returns. */
    .globl  enter_user
enter_user:
    pushq   $0x1B                     /* SS: user data, RPL 3 */
    pushq   %rsi                      /* RSP */
    pushq   $0x202                    /* RFLAGS: IF */
    pushq   $0x23                     /* CS: user code, RPL 3 */
    pushq   %rdi                      /* RIP */
    iretq

    /* Spurious LAPIC vector and masked-PIC strays: no EOI by definition. */
    .globl  spurious_isr
spurious_isr:
    iretq

    .macro ISR_NOERR n
isr\n:
    pushq   $0
    pushq   $\n
    jmp     isr_common
    .endm
    .macro ISR_ERR n
isr\n:
    pushq   $\n
    jmp     isr_common
    .endm

    .irp n, 0,1,2,3,4,5,6,7,9,15,16,18,19,20,22,23,24,25,26,27,28,31
    ISR_NOERR \n
    .endr
    .irp n, 8,10,11,12,13,14,17,21,29,30
    ISR_ERR \n
    .endr

/* Exceptions are fatal for the probe: report vector, error code, RIP, CR2. */
isr_common:
    mov     (%rsp), %rdi              /* vector */
    mov     8(%rsp), %rsi             /* error code */
    mov     16(%rsp), %rdx            /* faulting RIP */
    mov     %cr2, %rcx
    and     $-16, %rsp
    call    fault_report              /* does not return */
2:  cli
    hlt
    jmp     2b

    .section .rodata
    .balign 8
    .globl  isr_exception_table
isr_exception_table:
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .quad   isr\n
    .endr

/* ---- GDT: null, 64-bit code (0x08), data (0x10) ---- */
    .balign 8
boot_gdt:
    .quad   0
    .quad   0x00AF9A000000FFFF
    .quad   0x00CF92000000FFFF
boot_gdt_end:
boot_gdt_ptr:
    .word   boot_gdt_end - boot_gdt - 1
    .quad   boot_gdt

/* ---- page tables ----
 * Identity map of the first 4 GiB (paging.c adds more), plus the first GiB
 * again at KERNEL_HIGH, where the kernel image runs, as a conventional kernel
 * does: kernel addresses never collide with the RAM the workload addresses.
 * Every entry is user-accessible because the workload runs in ring 3 (see
 * cpu.h: under PVM, ring 0 is emulated wherever it runs). */
    .section .data.pagetables, "aw"
    .balign 4096
    .globl  boot_pml4, boot_pdpt, boot_pd
boot_pml4:
    .quad   boot_pdpt + (PTE_P | PTE_RW | PTE_US)
    .fill   510, 8, 0
    .quad   boot_pdpt_high + (PTE_P | PTE_RW | PTE_US)
boot_pdpt_high:
    .fill   510, 8, 0
    .quad   boot_pd + (PTE_P | PTE_RW | PTE_US)
    .quad   0
boot_pdpt:
    .quad   boot_pd + 0x0000 + (PTE_P | PTE_RW | PTE_US)
    .quad   boot_pd + 0x1000 + (PTE_P | PTE_RW | PTE_US)
    .quad   boot_pd + 0x2000 + (PTE_P | PTE_RW | PTE_US)
    .quad   boot_pd + 0x3000 + (PTE_P | PTE_RW | PTE_US)
    .fill   508, 8, 0
boot_pd:
    .quad   boot_pt0 + (PTE_P | PTE_RW | PTE_US)
    .set    page, 1
    .rept   2047
    .quad   (page << 21) | (PTE_P | PTE_RW | PTE_US | PTE_PS)
    .set    page, page + 1
    .endr

/* The first 2 MiB in 4 KiB pages: it holds the legacy VGA/ROM hole, and a
   2 MiB page must not span ranges of different memory types. */
boot_pt0:
    .set    page, 0
    .rept   512
    .quad   (page << 12) | (PTE_P | PTE_RW | PTE_US)
    .set    page, page + 1
    .endr

    .bss
    .balign 16
boot_stack:
    .skip   65536
boot_stack_top:
