#include "capi/session_handle.h"

#include <mutex>

#include "config/job_config.h"
#include "runtime/data/job_data.h"

namespace mart::capi {
namespace {

std::mutex& lease_mutex() {
  static std::mutex mu;
  return mu;
}

void check_live(mart_session* h) {
  if (h == nullptr) fail(MART_ERR_INVALID_HANDLE, "`session` is NULL");
  if (!session_registry().contains(h))
    fail(MART_ERR_INVALID_HANDLE,
         "`session` is not a live session (already destroyed with mart_session_destroy, or not "
         "made by mart_session_create)");
}

void mark_busy(mart_session* h) {
  bool expected = false;
  if (!h->busy.compare_exchange_strong(expected, true, std::memory_order_acquire))
    fail(MART_ERR_BUSY,
         "the session is in use by another thread (a session is used by one thread at a time: "
         "serialise the calls, or use one session per thread)");
}

}  // namespace

HandleRegistry& session_registry() {
  static HandleRegistry r;
  return r;
}

SessionLease::SessionLease(mart_session* h) : h_(h) {
  std::lock_guard<std::mutex> lk(lease_mutex());
  check_live(h);
  mark_busy(h);
}

SessionLease::~SessionLease() {
  h_->busy.store(false, std::memory_order_release);
}

void register_session(mart_session* h) {
  std::lock_guard<std::mutex> lk(lease_mutex());
  session_registry().add(h);
}

void unregister_session(mart_session* h) {
  std::lock_guard<std::mutex> lk(lease_mutex());
  check_live(h);
  mark_busy(h);  // never released: the handle is about to be freed
  session_registry().remove(h);
}

namespace {

void build_data(mart_session& h) {
  JobData d = make_job_data(h.session->config());
  h.markov = std::move(d.markov);
  h.train_data = std::move(d.train);
  h.val_data = std::move(d.val);
  h.data_built = true;
}

}  // namespace

DataLoader& train_loader(mart_session& h) {
  if (!h.data_built) build_data(h);
  return *h.train_data;
}

DataLoader* val_loader(mart_session& h) {
  if (!h.data_built) build_data(h);
  return h.val_data.get();
}

}  // namespace mart::capi
