// What every fuzz target shares: a property check that stops the run with
// a message (libFuzzer then saves the input as a crash file).
#ifndef PUSHGATE_FUZZ_FUZZ_CHECK_H_
#define PUSHGATE_FUZZ_FUZZ_CHECK_H_

#include <cstdio>
#include <cstdlib>
#include <string_view>

#define FUZZ_CHECK(condition, what)                                              \
  do {                                                                           \
    if (!(condition)) {                                                          \
      std::fprintf(stderr, "property violated: %s (%s)\n", what, #condition);    \
      std::abort();                                                              \
    }                                                                            \
  } while (0)

inline std::string_view AsText(const uint8_t* data, size_t size) {
  return std::string_view(reinterpret_cast<const char*>(data), size);
}

#endif  // PUSHGATE_FUZZ_FUZZ_CHECK_H_
