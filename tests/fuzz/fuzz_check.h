// FUZZ_CHECK: the fuzz targets' assertion. A broken property prints where and why, then aborts,
// which libFuzzer reports as a crash and saves the input for (in any build type: not assert()).
#pragma once

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond)                                                                    \
  do {                                                                                      \
    if (!(cond)) {                                                                          \
      std::fprintf(stderr, "%s:%d: fuzz property broken: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                         \
    }                                                                                       \
  } while (0)
