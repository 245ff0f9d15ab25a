#include "capi/session_handle.h"

#include <mutex>

#include "config/job_config.h"

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
  const JobConfig& cfg = h.session->config();
  LoaderOptions lo;
  lo.batch_size = cfg.train.micro_batch;
  lo.seq_len = cfg.train.seq_len;
  lo.vocab_size = static_cast<uint32_t>(cfg.model.vocab_size);
  if (cfg.data.source == "synthetic") {
    MarkovSpec ms;
    ms.vocab = cfg.data.synthetic_vocab;
    ms.order = cfg.data.synthetic_order;
    ms.branching = cfg.data.synthetic_branching;
    ms.seed = cfg.data.synthetic_seed;
    h.markov = std::make_shared<MarkovSource>(ms);
    h.train_data =
        std::make_unique<DataLoader>(DataLoader::from_markov(h.markov, cfg.train.seed, lo));
    h.val_data = std::make_unique<DataLoader>(
        DataLoader::from_markov(h.markov, cfg.train.seed ^ 0x76616c6964ull, lo));
  } else {
    h.train_data = std::make_unique<DataLoader>(DataLoader::from_shards(cfg.data.train_pattern, lo));
    if (!cfg.data.val_pattern.empty())
      h.val_data = std::make_unique<DataLoader>(DataLoader::from_shards(cfg.data.val_pattern, lo));
  }
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
