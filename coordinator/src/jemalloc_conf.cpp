// jemalloc's options for the coordinator, read when jemalloc starts (malloc_conf is its hook for
// a program's own defaults; MALLOC_CONF in the environment still overrides them).
//
// Small per-thread caches. cpp-httplib serves each waiting request on a thread of its own, and
// each thread keeps a cache of the objects it freed, which an idle thread never gives back: with
// jemalloc's defaults the coordinator at 1,024 in flight (1,088 HTTP threads) held ~180 MB, with
// these ~63 MB, for the same CPU per transaction (docs/benchmarks.md, "Memory").
extern "C" {
extern const char* malloc_conf;
const char* malloc_conf = "tcache_nslots_small_max:8,tcache_nslots_large:4";
}
