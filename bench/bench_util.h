// What every benchmark executable does the same way: print its result object as one
// "JSON {...}" line (the side-by-side scripts in bench/ parse it), optionally write it to a
// file, and turn an exception into a message naming the benchmark and exit status 1.
#pragma once
#include <cstdio>
#include <exception>
#include <fstream>
#include <string>

#include "common/error.h"

namespace mart::bench {

inline void emit_json(const char* bench, const std::string& json, const std::string& path) {
  std::printf("JSON %s\n", json.c_str());
  if (path.empty()) return;
  std::ofstream f(path);
  MART_CHECK(f.good(), bench, ": cannot write ", path);
  f << json << "\n";
}

inline int bench_main(const char* bench, int (*run)(int, char**), int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    const std::string msg = e.what();
    if (msg.rfind(bench, 0) == 0)  // already names the benchmark
      std::fprintf(stderr, "%s\n", msg.c_str());
    else
      std::fprintf(stderr, "%s: %s\n", bench, msg.c_str());
    return 1;
  }
}

}  // namespace mart::bench
