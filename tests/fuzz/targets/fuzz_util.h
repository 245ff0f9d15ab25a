// Shared by every fuzz target. The one rule: a damaged input may only be refused with a
// mart::Error (a message naming the file and the field). Any other exception, a crash, a hang or
// a sanitizer report is a finding. Readers that take a path get the input through a scratch file.
#pragma once
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <typeinfo>

#include "common/error.h"

namespace mart::fuzz {

// Runs `f`; returns normally when it succeeds or throws mart::Error, and aborts (a libFuzzer crash,
// a failed replay) on anything else, printing the exception's type and message first so the
// report says which raw library error escaped.
template <class F>
void expect_only_mart_errors(F&& f) {
  try {
    f();
  } catch (const mart::Error&) {
    // A clean refusal: the accepted outcome for a damaged input.
  } catch (const std::exception& e) {
    std::fprintf(stderr, "FUZZ FINDING: uncaught %s (not mart::Error): %s\n", typeid(e).name(),
                 e.what());
    std::abort();
  } catch (...) {
    std::fprintf(stderr, "FUZZ FINDING: uncaught non-std exception\n");
    std::abort();
  }
}

// A file in $TMPDIR (or /tmp) private to this process, rewritten with each input and removed at
// exit. One per target: readers under test map or open a path.
class ScratchFile {
 public:
  explicit ScratchFile(const std::string& tag) {
    const char* dir = std::getenv("TMPDIR");
    path_ = std::string(dir && *dir ? dir : "/tmp") + "/mart-fuzz-" + tag + "-" +
            std::to_string(getpid());
  }
  ~ScratchFile() { std::remove(path_.c_str()); }
  ScratchFile(const ScratchFile&) = delete;
  ScratchFile& operator=(const ScratchFile&) = delete;

  // Replaces the file's contents with `data`; aborts if the scratch file cannot be written (a
  // broken harness must not pass as "no findings").
  const std::string& write(const uint8_t* data, size_t size) {
    FILE* f = std::fopen(path_.c_str(), "wb");
    const bool ok = f && (size == 0 || std::fwrite(data, 1, size, f) == size);
    if (!f || std::fclose(f) != 0 || !ok) {
      std::fprintf(stderr, "fuzz harness: cannot write scratch file %s\n", path_.c_str());
      std::abort();
    }
    return path_;
  }

 private:
  std::string path_;
};

}  // namespace mart::fuzz
