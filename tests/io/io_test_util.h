// Shared helpers for the io tests: a scratch directory per test and whole-file read/write.
#pragma once
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "common/error.h"
#include "tests/common/test_util.h"

namespace mart::test {

using testutil::error_of;
using testutil::has;
using testutil::read_all;
using testutil::TempDir;
using testutil::write_all;

}  // namespace mart::test
