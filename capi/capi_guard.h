// The C API's boundary: every exported function runs its body through guarded(), which turns
// any C++ exception into a mart_status and the thread-local message mart_last_error() returns,
// so no exception and no raw library message crosses into C. Handles are checked against a
// registry of live handles, and a per-handle busy flag enforces "one thread at a time".
#pragma once
#include <atomic>
#include <mutex>
#include <string>
#include <unordered_set>

#include "mart/mart.h"

namespace mart::capi {

// Thrown inside a guarded body to return a specific status with a message.
struct StatusError {
  mart_status status;
  std::string message;
};
[[noreturn]] void fail(mart_status status, const std::string& message);

// Records `message` as this thread's last error and returns `status`.
mart_status set_error(mart_status status, const std::string& message);

// Runs body(); mart::Error becomes `on_error` (the category of the call: MART_ERR_CONFIG for
// config parsing, MART_ERR_IO for files, ...), StatusError its own status, the kinds of
// common/error_kinds.h MART_ERR_OUT_OF_MEMORY / _NUMERIC, std::bad_alloc MART_ERR_OUT_OF_MEMORY,
// std::filesystem_error MART_ERR_IO, anything else MART_ERR_INTERNAL. `where` names the C function
// in the message ("mart_session_create: ...").
mart_status guarded_impl(const char* where, mart_status on_error, void (*invoke)(void*), void* ctx);

template <class F>
mart_status guarded(const char* where, mart_status on_error, F&& body) {
  return guarded_impl(
      where, on_error, [](void* c) { (*static_cast<F*>(c))(); }, &body);
}

// Live handles of one kind (sessions, adamw objects). Thread-safe.
class HandleRegistry {
 public:
  void add(const void* h);
  void remove(const void* h);
  bool contains(const void* h) const;

 private:
  mutable std::mutex mu_;
  std::unordered_set<const void*> live_;
};

// Marks a handle busy for the duration of a call; a second thread finds it busy and gets
// MART_ERR_BUSY. Construct only after the handle was found live.
class BusyScope {
 public:
  BusyScope(std::atomic<bool>& busy, const char* kind);
  ~BusyScope() { busy_.store(false, std::memory_order_release); }
  BusyScope(const BusyScope&) = delete;
  BusyScope& operator=(const BusyScope&) = delete;

 private:
  std::atomic<bool>& busy_;
};

// Throws MART_ERR_INVALID_ARGUMENT "`name` is NULL" when p is null.
void require_arg(const void* p, const char* name);

// Copies s into a malloc'ed string the caller frees with mart_string_free.
char* dup_string(const std::string& s);

}  // namespace mart::capi
