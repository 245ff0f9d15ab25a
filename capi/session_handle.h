// The session handle behind mart_session: the Session (runtime/session.h), the training state
// `mart train` keeps beside it (steps done, tokens seen, the data streams), and the access rule
// every mart_session_* call follows (capi_guard.h: HandleRegistry, HandleLease).
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

#include "capi/capi_guard.h"
#include "runtime/data/data_loader.h"
#include "runtime/data/markov_corpus.h"
#include "runtime/session.h"

struct mart_session {
  std::unique_ptr<mart::Session> session;
  std::atomic<bool> busy{false};
  int64_t steps_done = 0;  // optimizer steps (TrainState::step in checkpoints)
  uint64_t tokens_seen = 0;
  double best_val_loss = 0;  // carried through checkpoints; 0: none
  // The job's data streams, built on first use exactly as the Trainer builds them.
  std::shared_ptr<const mart::MarkovSource> markov;
  std::unique_ptr<mart::DataLoader> train_data, val_data;
  bool data_built = false;
  std::unordered_map<std::string, int> index_of;  // Hugging Face name -> tensor index
};

namespace mart::capi {

// Live sessions (HandleRegistry: "is live" + "mark busy" in one step).
HandleRegistry& session_registry();

// guarded() with the session leased (live, and busy for the call): body(mart_session&).
// MART_ERR_INVALID_HANDLE for a NULL or destroyed handle, MART_ERR_BUSY when another thread is
// inside a call on it.
template <class F>
mart_status with_session(const char* where, mart_status on_error, mart_session* h, F&& body) {
  return guarded(where, on_error, [&] {
    HandleLease<mart_session> lease(session_registry(), h);
    body(*h);
  });
}

// The job's training and validation streams (the Trainer's: from_markov with train.seed and
// train.seed ^ "valid", or from_shards), built on first use. val_loader: nullptr when the job has
// no validation data.
DataLoader& train_loader(mart_session& h);
DataLoader* val_loader(mart_session& h);

}  // namespace mart::capi
