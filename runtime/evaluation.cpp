#include "runtime/evaluation.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"

namespace mart {

double EvalResult::perplexity() const {
  return std::exp(loss);
}

void add_sequence_losses(const std::vector<double>& token_losses, int rows, int seq_len,
                         double* total) {
  const size_t T = static_cast<size_t>(seq_len);
  for (size_t b = 0; b < static_cast<size_t>(rows); ++b) {
    double seq = 0;
    for (size_t t = 0; t < T; ++t) seq += token_losses[b * T + t];
    *total += seq;
  }
}

EvalResult evaluate_sequences(Session& session, DataLoader& data, uint64_t sequences,
                              const std::function<void(uint64_t, uint64_t)>& progress) {
  MART_CHECK(sequences > 0, "evaluation: no sequences to evaluate");
  const int B = session.config().train.micro_batch, T = session.config().train.seq_len;
  MART_CHECK(data.options().seq_len == T, "evaluation: the data loader reads sequences of ",
             data.options().seq_len, " tokens but the model runs ", T);
  const size_t row_len = static_cast<size_t>(T);
  MicroBatch mb;
  mb.inputs.resize(static_cast<size_t>(B) * row_len);
  mb.targets.resize(static_cast<size_t>(B) * row_len);
  std::vector<int32_t> row(row_len + 1);
  std::vector<double> losses;
  EvalResult r;
  double total = 0;
  while (r.sequences < sequences) {
    const int rows = static_cast<int>(std::min<uint64_t>(B, sequences - r.sequences));
    for (int b = 0; b < B; ++b) {
      auto in = mb.inputs.begin() + static_cast<std::ptrdiff_t>(b * row_len);
      auto tg = mb.targets.begin() + static_cast<std::ptrdiff_t>(b * row_len);
      if (b < rows) {
        data.next_window(row);
        std::copy(row.begin(), row.end() - 1, in);
        std::copy(row.begin() + 1, row.end(), tg);
      } else {  // padding: its targets are ignored (loss 0) and it is not counted
        std::fill(in, in + static_cast<std::ptrdiff_t>(row_len), 0);
        std::fill(tg, tg + static_cast<std::ptrdiff_t>(row_len), -1);
      }
    }
    session.eval_token_losses(mb, &losses);
    add_sequence_losses(losses, rows, T, &total);
    r.sequences += static_cast<uint64_t>(rows);
    r.tokens += static_cast<uint64_t>(rows) * row_len;
    if (progress) progress(r.sequences, sequences);
  }
  r.loss = total / static_cast<double>(r.tokens);
  return r;
}

}  // namespace mart
