// Runs a reader against a FIFO without hanging the test binary when the reader wrongly blocks:
// the call runs on a thread; if it has not returned after a generous timeout, the guard opens the
// FIFO for writing (which releases a reader blocked in open()) and closes it (EOF releases one
// blocked in read()), then reports the hang as a failure.
#pragma once
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <future>
#include <string>

#include "common/error.h"

namespace mart::test {

// mkfifo at `path`; fails the test when it cannot.
inline void make_fifo(const std::string& path) {
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0) << "mkfifo " << path;
}

// The mart::Error message `fn` throws; "" when it returned normally, "HANG" when it blocked.
inline std::string error_without_hang(const std::string& fifo, const std::function<void()>& fn) {
  auto fut = std::async(std::launch::async, [fn]() -> std::string {
    try {
      fn();
    } catch (const Error& e) {
      return e.what();
    } catch (const std::exception& e) {
      return std::string("non-mart exception: ") + e.what();
    }
    return "";
  });
  if (fut.wait_for(std::chrono::seconds(60)) == std::future_status::ready) return fut.get();
  for (int i = 0;
       i < 100 && fut.wait_for(std::chrono::milliseconds(100)) != std::future_status::ready; ++i) {
    const int fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK);
    if (fd >= 0) ::close(fd);
  }
  ADD_FAILURE() << "reading the FIFO " << fifo << " blocked for 60 s instead of being refused";
  return "HANG";
}

}  // namespace mart::test
