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

// What error messages call a kind of handle: the argument name, the C type, and the functions
// that make and free it.
struct HandleKind {
  const char* arg;      // "session"
  const char* type;     // "mart_session"
  const char* create;   // "mart_session_create"
  const char* destroy;  // "mart_session_destroy"
};

// Live handles of one kind (sessions, adamw objects), each with a `std::atomic<bool> busy`.
// "Is it live" and "mark it busy" happen under one lock, so a destroy on one thread cannot free a
// handle between another thread's check and its use. Thread-safe.
class HandleRegistry {
 public:
  explicit HandleRegistry(HandleKind kind) : kind_(kind) {}
  void add(const void* h);
  // Marks h busy: MART_ERR_INVALID_HANDLE for NULL or a handle not live, MART_ERR_BUSY when
  // another thread is inside a call on it. h->busy is touched only once h is known live.
  template <class Handle>
  void acquire(Handle* h) {
    std::lock_guard<std::mutex> lk(mu_);
    require_live(h);
    set_busy(h->busy);
  }
  // acquire(), then h is no longer live (it stays busy: the caller frees it next).
  template <class Handle>
  void acquire_and_remove(Handle* h) {
    std::lock_guard<std::mutex> lk(mu_);
    require_live(h);
    set_busy(h->busy);
    live_.erase(h);
  }
  const HandleKind& kind() const { return kind_; }

 private:
  void require_live(const void* h) const;  // under mu_
  void set_busy(std::atomic<bool>& busy) const;

  const HandleKind kind_;
  std::mutex mu_;
  std::unordered_set<const void*> live_;
};

// A call's hold on a live handle (HandleRegistry::acquire), released when the call ends.
template <class Handle>
class HandleLease {
 public:
  HandleLease(HandleRegistry& registry, Handle* h) : h_(h) { registry.acquire(h); }
  ~HandleLease() { h_->busy.store(false, std::memory_order_release); }
  HandleLease(const HandleLease&) = delete;
  HandleLease& operator=(const HandleLease&) = delete;

 private:
  Handle* h_;
};

// Throws MART_ERR_INVALID_ARGUMENT "`name` is NULL" when p is null.
void require_arg(const void* p, const char* name);

// Copies s into a malloc'ed string the caller frees with mart_string_free.
char* dup_string(const std::string& s);

}  // namespace mart::capi
