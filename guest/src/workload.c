#include "workload.h"
#include "paging.h"

#define PAGE 4096ull
#define QWORDS_PER_PAGE 512u
#define MAX_REGIONS (MB_MAX_RANGES + 1)
#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME  0x100000001b3ull

/* Filled pages are numbered 0..fill_pages-1 across these physical runs, in
   address order; the working set is the first ws_pages of that numbering. */
struct region {
    uint64_t first_pfn;
    uint64_t npages;
};

/* The table the guest owns: one entry per filled page. */
struct page_entry {
    uint64_t checksum;
    uint64_t version;
};

static struct region regions[MAX_REGIONS];
static unsigned nregions;
static struct page_entry *table;
static uint64_t fill_pages, ws_pages, filled;
static unsigned random_qwords;
static uint64_t ws_cursor, sweep_cursor, verified;
static int corrupt;
static uint64_t corrupt_pfn;

static uint64_t pfn_of(uint64_t idx) {
    for (unsigned r = 0; r < nregions; r++) {
        if (idx < regions[r].npages) return regions[r].first_pfn + idx;
        idx -= regions[r].npages;
    }
    return 0;   /* unreachable for idx < fill_pages */
}

static uint64_t *page_ptr(uint64_t pfn) { return (uint64_t *)(uintptr_t)(pfn * PAGE); }

static uint64_t mix64(uint64_t x) {
    x ^= x >> 30; x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27; x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* Writes the page's pattern for `version` and returns its checksum. The
   first random_qwords qwords are a pseudo-random stream (incompressible), the
   rest one repeated qword: both are functions of page number and version. */
static uint64_t write_pattern(uint64_t pfn, uint64_t version) {
    volatile uint64_t *p = page_ptr(pfn);
    uint64_t state = mix64(pfn * 0x9e3779b97f4a7c15ull ^ (version << 1) ^ 1);
    uint64_t h = FNV_OFFSET;
    unsigned i = 0;
    for (; i < random_qwords; i++) {
        state ^= state << 13; state ^= state >> 7; state ^= state << 17;
        p[i] = state;
        h = (h ^ state) * FNV_PRIME;
    }
    uint64_t fixed = 0x5a5a000000000000ull ^ (pfn << 20) ^ version;
    for (; i < QWORDS_PER_PAGE; i++) {
        p[i] = fixed;
        h = (h ^ fixed) * FNV_PRIME;
    }
    return h;
}

/* Each step (xor, multiply by an odd constant) is a bijection, so changing
   any single qword changes the result. */
static uint64_t checksum(uint64_t pfn) {
    const volatile uint64_t *p = page_ptr(pfn);
    uint64_t h = FNV_OFFSET;
    for (unsigned i = 0; i < QWORDS_PER_PAGE; i++) h = (h ^ p[i]) * FNV_PRIME;
    return h;
}

static void verify_idx(uint64_t idx) {
    uint64_t pfn = pfn_of(idx);
    if (checksum(pfn) != table[idx].checksum && !corrupt) {
        corrupt = 1;
        corrupt_pfn = pfn;
    }
    verified++;
}

void workload_layout(const struct boot_info *bi, uint64_t image_end, uint64_t fill_bytes,
                     uint64_t ws_bytes, uint32_t entropy_milli, struct layout_result *out) {
    /* Usable runs: RAM above the image, page-aligned, within what we can map. */
    struct region runs[MB_MAX_RANGES];
    unsigned nruns = 0;
    uint64_t usable = 0, total_pages = 0;
    uint64_t low_pfn = (image_end + PAGE - 1) / PAGE;
    for (unsigned i = 0; i < bi->nram; i++) {
        uint64_t b = bi->ram[i].base, e = b + bi->ram[i].length;
        usable += bi->ram[i].length;
        if (e > PAGING_MAX_PHYS) e = PAGING_MAX_PHYS;
        uint64_t first = (b + PAGE - 1) / PAGE, end = e / PAGE;
        if (first < low_pfn) first = low_pfn;
        if (end <= first) continue;
        runs[nruns].first_pfn = first;
        runs[nruns].npages = end - first;
        total_pages += end - first;
        nruns++;
    }
    /* Sort by address (insertion sort; a handful of entries). */
    for (unsigned i = 1; i < nruns; i++)
        for (unsigned j = i; j > 0 && runs[j - 1].first_pfn > runs[j].first_pfn; j--) {
            struct region t = runs[j]; runs[j] = runs[j - 1]; runs[j - 1] = t;
        }

    /* The table goes at the start of the largest run; the fill gets the rest. */
    unsigned big = 0;
    for (unsigned i = 1; i < nruns; i++) if (runs[i].npages > runs[big].npages) big = i;
    uint64_t want = fill_bytes / PAGE;
    const uint64_t per_table_page = PAGE / sizeof(struct page_entry);
    uint64_t cap = 0;
    if (nruns) {
        /* pages p, table t = ceil(p / per_table_page): need p + t <= total and t <= largest run */
        cap = total_pages - (total_pages + per_table_page) / (per_table_page + 1);
        uint64_t by_big = runs[big].npages * per_table_page;
        if (cap > by_big) cap = by_big;
    }
    fill_pages = want < cap ? want : cap;
    uint64_t table_pages = (fill_pages + per_table_page - 1) / per_table_page;

    nregions = 0;
    uint64_t left = fill_pages;
    for (unsigned i = 0; i < nruns && left; i++) {
        uint64_t first = runs[i].first_pfn, n = runs[i].npages;
        if (i == big) { first += table_pages; n -= table_pages; }
        if (!n) continue;
        if (n > left) n = left;
        regions[nregions].first_pfn = first;
        regions[nregions].npages = n;
        nregions++;
        left -= n;
    }
    fill_pages -= left;   /* defensive: never claim pages we did not place */

    uint64_t top = 0;
    if (nruns) top = (runs[big].first_pfn + table_pages) * PAGE;
    for (unsigned r = 0; r < nregions; r++) {
        uint64_t e = (regions[r].first_pfn + regions[r].npages) * PAGE;
        if (e > top) top = e;
    }
    paging_map_up_to(top);

    table = nruns ? (struct page_entry *)(uintptr_t)(runs[big].first_pfn * PAGE) : 0;
    ws_pages = ws_bytes / PAGE;
    if (ws_pages > fill_pages) ws_pages = fill_pages;
    random_qwords = (unsigned)((uint64_t)entropy_milli * QWORDS_PER_PAGE / 1000);
    filled = ws_cursor = sweep_cursor = verified = 0;
    corrupt = 0;

    out->usable_bytes = usable;
    out->fill_pages = fill_pages;
    out->ws_pages = ws_pages;
    out->table_phys = nruns ? runs[big].first_pfn * PAGE : 0;
    out->table_bytes = table_pages * PAGE;
    out->first_fill_pfn = nregions ? regions[0].first_pfn : 0;
    out->fill_clamped = fill_pages < want;
}

int workload_fill_step(unsigned max_pages) {
    for (unsigned n = 0; n < max_pages && filled < fill_pages; n++, filled++) {
        table[filled].version = 0;
        table[filled].checksum = write_pattern(pfn_of(filled), 0);
    }
    return filled == fill_pages;
}

void workload_rewrite_one(void) {
    if (!ws_pages) return;
    uint64_t idx = ws_cursor;
    ws_cursor = (ws_cursor + 1) % ws_pages;
    verify_idx(idx);
    uint64_t v = ++table[idx].version;
    table[idx].checksum = write_pattern(pfn_of(idx), v);
}

void workload_verify_one(void) {
    if (!fill_pages) return;
    verify_idx(sweep_cursor);
    sweep_cursor = (sweep_cursor + 1) % fill_pages;
}

uint64_t workload_corrupt_one(void) {
    if (!fill_pages) return 0;
    uint64_t pfn = pfn_of(fill_pages - 1);   /* last page: outside any smaller working set */
    volatile uint8_t *b = (volatile uint8_t *)page_ptr(pfn);
    b[1234] ^= 0x01;
    return pfn;
}

uint64_t workload_verified(void) { return verified; }

int workload_corrupt(uint64_t *pfn) {
    if (corrupt) *pfn = corrupt_pfn;
    return corrupt;
}
