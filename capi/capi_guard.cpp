#include "capi/capi_guard.h"

#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <new>

#include "common/error.h"
#include "common/error_kinds.h"

namespace mart::capi {
namespace {
thread_local std::string t_last_error;
}  // namespace

const char* last_error_text() {
  return t_last_error.c_str();
}

void fail(mart_status status, const std::string& message) {
  throw StatusError{status, message};
}

mart_status set_error(mart_status status, const std::string& message) {
  try {
    t_last_error = message;
  } catch (...) {  // out of memory while recording the message: keep the status
  }
  return status;
}

mart_status guarded_impl(const char* where, mart_status on_error, void (*invoke)(void*),
                         void* ctx) {
  const std::string w = std::string(where) + ": ";
  try {
    invoke(ctx);
    return MART_OK;
  } catch (const StatusError& e) {
    return set_error(e.status, w + e.message);
  } catch (const mart::CapacityError& e) {  // the job does not fit, whatever the call
    return set_error(MART_ERR_OUT_OF_MEMORY, w + e.what());
  } catch (const mart::NumericError& e) {  // training diverged
    return set_error(MART_ERR_NUMERIC, w + e.what());
  } catch (const mart::Error& e) {
    return set_error(on_error, w + e.what());
  } catch (const std::bad_alloc&) {
    return set_error(MART_ERR_OUT_OF_MEMORY,
                     w + "out of host memory (a buffer MART needed could not be allocated; "
                         "free memory or make the job smaller)");
  } catch (const std::filesystem::filesystem_error& e) {
    std::string path = e.path1().string();
    return set_error(MART_ERR_IO, w + "file system error" +
                                      (path.empty() ? "" : " on '" + path + "'") + ": " +
                                      e.code().message());
  } catch (const std::exception& e) {
    return set_error(MART_ERR_INTERNAL, w + "internal error (please report): " + e.what());
  } catch (...) {
    return set_error(MART_ERR_INTERNAL, w + "internal error (please report): unknown exception");
  }
}

void HandleRegistry::add(const void* h) {
  std::lock_guard<std::mutex> lk(mu_);
  live_.insert(h);
}

void HandleRegistry::require_live(const void* h) const {
  const HandleKind& k = kind_;
  if (h == nullptr)
    fail(MART_ERR_INVALID_HANDLE,
         str("`", k.arg, "` is NULL (make a ", k.type, " with ", k.create, ")"));
  if (live_.count(h) == 0)
    fail(MART_ERR_INVALID_HANDLE,
         str("`", k.arg, "` is not a live ", k.arg, " (already destroyed with ", k.destroy,
             ", or not made by ", k.create, ")"));
}

void HandleRegistry::set_busy(std::atomic<bool>& busy) const {
  bool expected = false;
  if (!busy.compare_exchange_strong(expected, true, std::memory_order_acquire))
    fail(MART_ERR_BUSY, str("the ", kind_.type,
                            " is in use by another thread (a handle is used by one thread at a "
                            "time: serialise the calls, or use one handle per thread)"));
}

void require_arg(const void* p, const char* name) {
  if (!p) fail(MART_ERR_INVALID_ARGUMENT, std::string("`") + name + "` is NULL");
}

char* dup_string(const std::string& s) {
  char* out = static_cast<char*>(std::malloc(s.size() + 1));
  if (!out) throw std::bad_alloc();
  std::memcpy(out, s.c_str(), s.size() + 1);
  return out;
}

}  // namespace mart::capi
