// Validation loss defined in sequences and tokens, not micro-batches: `sequences` windows read in
// order from a loader, run through the forward pass in whatever micro-batch the session's plan has
// (the last micro-batch padded with ignored targets), and every target's loss summed in one fixed
// order (sequence by sequence, token by token, in double). The result therefore covers the same
// tokens whatever the plan, and is bitwise the same for plans that compute each token's loss the
// same way (a different micro-batch size may round the matmuls differently: ~1e-7 relative).
#pragma once
#include <cstdint>
#include <functional>

#include "runtime/data/data_loader.h"
#include "runtime/session.h"

namespace mart {

struct EvalResult {
  double loss = 0;  // mean over `tokens` targets, nats
  uint64_t sequences = 0;
  uint64_t tokens = 0;
  double perplexity() const;
};

// Adds the first `rows` sequences' losses (token_losses: [rows or more][seq_len], from
// Session::eval_token_losses) to *total, sequence by sequence, token by token: the one summation
// order every evaluation uses (the trainer, `mart eval`, mart_session_eval_loss).
void add_sequence_losses(const std::vector<double>& token_losses, int rows, int seq_len,
                         double* total);

// Reads `sequences` rows from `data` (from its current position; the caller resets it).
// progress (optional, for an [eval] progress line): (sequences evaluated, `sequences`) after each
// micro-batch.
EvalResult evaluate_sequences(
    Session& session, DataLoader& data, uint64_t sequences,
    const std::function<void(uint64_t done, uint64_t total)>& progress = {});

}  // namespace mart
