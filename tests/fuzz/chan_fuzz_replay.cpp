// tests/fuzz/chan_fuzz_replay.cpp — runs channel-fuzzer inputs without libFuzzer, so that the
// committed corpus and every regression input run in every build (g++, clang, the sanitizer
// passes), not only in the GORT_FUZZ one.
//
//   chan_fuzz_replay [--repeat N] [--print] [--log] <file or directory>...
//
// Each file (each regular file of a directory, in name order, except *.md) is decoded and run N
// times (default 1: inputs at GOMAXPROCS 2 schedule differently each time); --print shows the
// decoded program first, --log the log of each run. A violation aborts with the log
// (chan_program.hpp); a missing path is an error.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "chan_program.hpp"

namespace fs = std::filesystem;

int main(int argc, char** argv) {
  int repeat = 1;
  bool print = false;
  bool log = false;
  std::vector<fs::path> files;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--repeat" && i + 1 < argc) {
      repeat = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--print") {
      print = true;
    } else if (a == "--log") {
      log = true;
    } else if (fs::is_directory(a)) {
      std::vector<fs::path> in_dir;
      for (const fs::directory_entry& e : fs::directory_iterator(a)) {
        if (e.is_regular_file() && e.path().extension() != ".md") in_dir.push_back(e.path());
      }
      std::sort(in_dir.begin(), in_dir.end());
      files.insert(files.end(), in_dir.begin(), in_dir.end());
    } else if (fs::is_regular_file(a)) {
      files.emplace_back(a);
    } else {
      std::fprintf(stderr, "chan_fuzz_replay: %s: no such file or directory\n", argv[i]);
      return 2;
    }
  }
  for (const fs::path& f : files) {
    std::ifstream in(f, std::ios::binary);
    const std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                                          std::istreambuf_iterator<char>());
    const gort_fuzz::program p = gort_fuzz::decode(bytes.data(), bytes.size());
    if (print) std::printf("%s:\n%s", f.c_str(), gort_fuzz::describe(p).c_str());
    for (int r = 0; r < repeat; ++r) {
      std::string text;
      gort_fuzz::run_and_check(p, log ? &text : nullptr);
      if (log) std::printf("%s run %d:\n%s", f.c_str(), r + 1, text.c_str());
    }
  }
  std::printf("chan_fuzz_replay: %zu inputs, %d run(s) each, no violation\n", files.size(), repeat);
  return 0;
}
