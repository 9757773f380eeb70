// tests/fuzz/chan_fuzz.cpp — the libFuzzer entry point of the channel fuzzer (built with
// GORT_FUZZ=ON; docs/fuzzing.md). Each input is decoded into a channel program, run on a fresh
// gort runtime and checked against the sequential model (chan_program.hpp); a violation aborts,
// which libFuzzer reports as a crash and saves the input.
#include <cstddef>
#include <cstdint>

#include "chan_program.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  gort_fuzz::run_and_check(gort_fuzz::decode(data, size));
  return 0;
}
