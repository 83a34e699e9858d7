/*
 * The probe's main loop. Everything runs on one CPU; the only interrupt
 * handler counts LAPIC timer ticks. The loop fills memory (in slices, so the
 * heartbeat starts before the fill is done), then rewrites the working set at
 * the paced rate and verifies a bounded number of pages per tick, and halts
 * until the next tick whenever it has no budget left. When the loader gave a
 * framebuffer, every FRAME_TICKS it also drains keyboard and mouse and
 * repaints what changed on the desktop.
 */
#include <stdint.h>
#include "cpu.h"
#include "desktop.h"
#include "fb.h"
#include "i8042.h"
#include "input.h"
#include "io.h"
#include "kernel.h"
#include "idt.h"
#include "multiboot.h"
#include "paging.h"
#include "params.h"
#include "serial.h"
#include "timer.h"
#include "workload.h"

#define PAGE 4096ull
#define FILL_SLICE_PAGES 64u       /* between heartbeat checks while filling */
#define VERIFY_PER_TICK 128u       /* sweep pages per timer tick (reads only) */
#define REWRITE_SLICE_PAGES 64u    /* between heartbeat checks while rewriting */
#define FRAME_TICKS (TIMER_HZ / 20)  /* desktop frames: 20 per second */

extern char _image_end[];

static struct boot_info boot;
static struct params prm;
static struct clocks clk;
static struct layout_result lay;
static uint64_t tsc0;
static struct fb screen;
static int have_display;

static void fail(const char *what) {
    struct line l;
    line_start(&l);
    line_str(&l, "PROBE error: ");
    line_str(&l, what);
    line_send(&l);
    halt_forever();
}

static void print_boot_line(void) {
    struct line l;
    line_start(&l);
    line_str(&l, "PROBE boot mem=");
    line_u64(&l, lay.usable_bytes >> 20);
    line_str(&l, " fill=");
    line_u64(&l, lay.fill_pages * PAGE);
    line_str(&l, " ws=");
    line_u64(&l, lay.ws_pages * PAGE);
    line_str(&l, " rate=");
    line_u64(&l, prm.rate);
    line_str(&l, " beat=");
    line_u64(&l, prm.beat_ms);
    line_str(&l, " entropy=");
    line_milli2(&l, prm.entropy_milli);
    line_str(&l, " tsc_mhz=");
    line_u64(&l, clk.tsc_khz / 1000);
    line_str(&l, " timer_hz=");
    line_u64(&l, TIMER_HZ);
    if (lay.fill_clamped) {
        line_str(&l, " clamped_fill_from=");
        line_u64(&l, prm.fill);
    }
    if (prm.screen_busy) line_str(&l, " screen=busy");
    if (prm.unknown[0]) { line_str(&l, " unknown="); line_str(&l, prm.unknown); }
    if (prm.bad[0]) { line_str(&l, " bad="); line_str(&l, prm.bad); }
    line_send(&l);

    line_start(&l);
    line_str(&l, "PROBE layout table=");
    line_hex(&l, lay.table_phys);
    line_str(&l, " table_bytes=");
    line_u64(&l, lay.table_bytes);
    line_str(&l, " first_fill_page=");
    line_u64(&l, lay.first_fill_pfn);
    line_str(&l, " fill_pages=");
    line_u64(&l, lay.fill_pages);
    line_str(&l, " ram_ranges=");
    line_u64(&l, boot.nram);
    line_str(&l, boot.from_mmap ? " source=mmap" : " source=mem_upper");
    line_send(&l);
}

/* With no framebuffer (QEMU -kernel) nothing is printed and nothing set up. */
static void display_setup(void) {
    if (!boot.fb.present) return;
    const char *refused = fb_accept(&boot, to_phys(_image_end), &screen);
    struct line l;
    line_start(&l);
    if (refused) {
        line_str(&l, "PROBE display refused: ");
        line_str(&l, refused);
        line_send(&l);
        return;
    }
    line_str(&l, "PROBE display width=");
    line_u64(&l, (uint64_t)screen.width);
    line_str(&l, " height=");
    line_u64(&l, (uint64_t)screen.height);
    line_str(&l, " pitch=");
    line_u64(&l, (uint64_t)screen.stride * 4);
    line_str(&l, " addr=");
    line_hex(&l, to_phys(screen.base));
    line_send(&l);
    i8042_init();
    have_display = 1;
}

static void print_heartbeat(uint64_t seq, uint64_t ticks) {
    struct line l;
    uint64_t pfn = 0;
    line_start(&l);
    line_str(&l, "HB seq=");
    line_u64(&l, seq);
    line_str(&l, " ticks=");
    line_u64(&l, ticks);
    line_str(&l, " ms=");
    line_u64(&l, (rdtsc() - tsc0) / clk.tsc_khz);
    line_str(&l, " verified=");
    uint64_t verified = workload_verified();
    int corrupt = workload_corrupt(&pfn);
    line_u64(&l, verified);
    if (corrupt) {
        line_str(&l, " CORRUPT ");
        line_u64(&l, pfn);
    } else {
        line_str(&l, " ok");
    }
    line_send(&l);
    if (have_display) desktop_counters(seq, verified, corrupt, pfn);
}

static void print_simple(const char *s, const char *key, uint64_t v) {
    struct line l;
    line_start(&l);
    line_str(&l, s);
    if (key) { line_str(&l, key); line_u64(&l, v); }
    line_send(&l);
}

static void run(void) __attribute__((noreturn));

void kmain(uint32_t magic, uint32_t info) {
    serial_init();
    if (magic != MB_BOOT_MAGIC) fail("not started by a multiboot v1 loader (EAX is not 0x2BADB002)");
    if (multiboot_read(info, &boot) != 0) fail("multiboot info has neither a memory map nor mem_upper");
    params_parse(boot.cmdline, &prm);

    paging_init();
    cpu_init();
    idt_init();
    interrupt_controllers_init();
    if (clocks_calibrate(&clk) != 0) fail("PIT calibration failed (no PIT channel 2 on port 0x61?)");
    tsc0 = rdtsc();

    workload_layout(&boot, to_phys(_image_end), prm.fill, prm.ws, prm.entropy_milli, &lay);
    print_boot_line();
    display_setup();

    timer_start(&clk);
    cpu_run_user(run);
}

/* Ring 3 from here on (see cpu.h); interrupts are on. */
static void run(void) {
    const uint64_t beat_ticks = (uint64_t)prm.beat_ms * TIMER_HZ / 1000;
    uint64_t seq = 0, next_beat = beat_ticks;
    uint64_t last_tick = 0;
    uint64_t rate_credit = 0, verify_credit = 0;
    /* Credit is capped so a paused (e.g. migrated) guest does not burst. */
    const uint64_t rate_cap = prm.rate / 10 + PAGE;
    int ready = 0, corrupted_on_purpose = 0;
    uint64_t next_frame = 0;
    if (have_display) desktop_init(&screen, prm.screen_busy);

    for (;;) {
        uint64_t now = timer_ticks;
        if (now >= next_beat) {
            seq++;
            print_heartbeat(seq, now);
            next_beat += beat_ticks;
            if (next_beat <= now) next_beat = now + beat_ticks;
            if (prm.corrupt_after && ready && !corrupted_on_purpose && seq >= prm.corrupt_after) {
                corrupted_on_purpose = 1;
                print_simple("PROBE corrupt_injected ", "page=", workload_corrupt_one());
            }
        }

        /* Drawing is ring 3 and touches only what changed: a frame costs a
           few dozen scanline writes and one i8042 poll. */
        if (have_display && now >= next_frame) {
            input_pump();
            desktop_frame(now);
            next_frame = now + FRAME_TICKS;
        }

        if (!ready) {
            ready = workload_fill_step(FILL_SLICE_PAGES);
            if (ready) {
                print_simple("PROBE ready", 0, 0);
                last_tick = timer_ticks;
            }
            continue;
        }

        if (now != last_tick) {
            uint64_t d = now - last_tick;
            if (d > TIMER_HZ) d = TIMER_HZ;
            last_tick = now;
            rate_credit += prm.rate / TIMER_HZ * d;   /* no overflow: d <= TIMER_HZ */
            if (rate_credit > rate_cap) rate_credit = rate_cap;
            verify_credit += (uint64_t)VERIFY_PER_TICK * d;
            if (verify_credit > 4 * VERIFY_PER_TICK) verify_credit = 4 * VERIFY_PER_TICK;
        }

        unsigned work = 0;
        for (; work < REWRITE_SLICE_PAGES && rate_credit >= PAGE; work++) {
            workload_rewrite_one();
            rate_credit -= PAGE;
        }
        for (; verify_credit && work < 2 * REWRITE_SLICE_PAGES; work++) {
            workload_verify_one();
            verify_credit--;
        }
        if (work) continue;

        cpu_idle_until_tick_after(now);
    }
}
