// Helpers every test folder uses: a self-removing temporary directory, whole-file reads and writes,
// and error-message checks. Header-only (tests/common has no sources, so no test binary); each
// folder's own util header pulls these into its namespace.
#pragma once
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>

#include "common/error.h"

namespace mart::testutil {

// A fresh directory under the system temp dir, named after the process, a counter, the optional
// tag and the running test; removed with its contents (read-only parts included) when it dies.
class TempDir {
 public:
  explicit TempDir(const std::string& tag = "") {
    static int counter = 0;
    std::string name = "mart_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
    if (!tag.empty()) name += "_" + tag;
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    if (info) name += std::string("_") + info->name();
    for (char& ch : name)
      if (ch == '/') ch = '_';  // parameterised test names contain '/'
    path_ = std::filesystem::temp_directory_path() / name;
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    // A test may have made it read-only (atomic-write tests): give write access back first.
    std::filesystem::permissions(path_, std::filesystem::perms::owner_all,
                                 std::filesystem::perm_options::add, ec);
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void write_all(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// The message of the mart::Error `fn` throws; fails the test if it throws nothing.
template <class Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const mart::Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a mart::Error";
  return "";
}

// EXPECT_TRUE(has(msg, "expected 2048 bytes")): substring check that prints both on failure.
inline ::testing::AssertionResult has(const std::string& text, const std::string& needle) {
  if (text.find(needle) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "'" << needle << "' not found in: " << text;
}

}  // namespace mart::testutil
