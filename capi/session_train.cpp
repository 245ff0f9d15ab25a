// mart_session_train_step / eval_loss / logits / next_batch / step_params. Every array is checked
// (sizes, token ranges) before anything runs, so a refused call changes nothing.
#include <climits>
#include <cmath>
#include <cstring>
#include <span>
#include <vector>

#include "capi/session_handle.h"
#include "common/error_kinds.h"
#include "runtime/evaluation.h"
#include "runtime/lr_schedule.h"

using mart::capi::fail;
using mart::capi::require_arg;
using mart::capi::with_session;

namespace {

std::string S(int64_t v) {
  return std::to_string(v);
}

// B*T of the session.
size_t tokens_per_micro_batch(const mart_session& h) {
  const mart::JobConfig& c = h.session->config();
  return static_cast<size_t>(c.train.micro_batch) * c.train.seq_len;
}

// n_tokens must be a positive multiple of B*T; returns the number of micro-batches.
size_t micro_batch_count(const mart_session& h, size_t n_tokens) {
  const size_t per = tokens_per_micro_batch(h);
  if (n_tokens == 0 || n_tokens % per != 0)
    fail(MART_ERR_INVALID_ARGUMENT,
         "`n_tokens` is " + std::to_string(n_tokens) +
             "; it must be a positive multiple of micro_batch*seq_len = " + std::to_string(per) +
             " (one micro-batch per multiple; see mart_session_get_info)");
  return n_tokens / per;
}

// Inputs in [0, V); targets in [0, V) or negative (ignored).
void check_tokens(const mart_session& h, const int32_t* inputs, const int32_t* targets, size_t n) {
  const int32_t V = h.session->config().model.vocab_size;
  for (size_t i = 0; i < n; ++i)
    if (inputs[i] < 0 || inputs[i] >= V)
      fail(MART_ERR_INVALID_ARGUMENT, "`inputs[" + std::to_string(i) + "]` is " + S(inputs[i]) +
                                          ", outside the vocabulary [0, " + S(V) + ")");
  if (!targets) return;
  for (size_t i = 0; i < n; ++i)
    if (targets[i] >= V)
      fail(MART_ERR_INVALID_ARGUMENT, "`targets[" + std::to_string(i) + "]` is " + S(targets[i]) +
                                          ", outside the vocabulary [0, " + S(V) +
                                          ") (a negative target is ignored)");
}

// Valid (non-negative) targets in [begin, end).
uint64_t valid_targets(const int32_t* targets, size_t begin, size_t end) {
  uint64_t n = 0;
  for (size_t i = begin; i < end; ++i) n += targets[i] >= 0;
  return n;
}

std::vector<mart::MicroBatch> micro_batches(const mart_session& h, const int32_t* inputs,
                                            const int32_t* targets, size_t n_mb) {
  const size_t per = tokens_per_micro_batch(h);
  std::vector<mart::MicroBatch> mbs(n_mb);
  for (size_t m = 0; m < n_mb; ++m) {
    mbs[m].inputs.assign(inputs + m * per, inputs + (m + 1) * per);
    mbs[m].targets.assign(targets + m * per, targets + (m + 1) * per);
  }
  return mbs;
}

// The 1-based optimizer step a call means: `step`, or steps_done + 1 for 0.
int resolve_step(const mart_session& h, int64_t step, const char* name) {
  if (step < 0 || step > INT_MAX)
    fail(MART_ERR_INVALID_ARGUMENT, std::string("`") + name + "` is " + S(step) +
                                        "; it must be a 1-based step, or 0 for steps_done + 1");
  const int64_t s = step == 0 ? h.steps_done + 1 : step;
  if (s > INT_MAX) fail(MART_ERR_INVALID_ARGUMENT, "step " + S(s) + " is too large");
  return static_cast<int>(s);
}

mart::StepHyper step_hyper(const mart_session& h, const mart_step_params& p) {
  auto finite = [](const char* field, float v) {
    if (!std::isfinite(v))
      fail(MART_ERR_INVALID_ARGUMENT,
           std::string("`params.") + field + "` is not finite (" + std::to_string(v) + ")");
  };
  finite("lr", p.lr);
  finite("beta1", p.beta1);
  finite("beta2", p.beta2);
  finite("eps", p.eps);
  finite("weight_decay", p.weight_decay);
  finite("grad_clip", p.grad_clip);
  if (p.beta1 < 0 || p.beta1 >= 1 || p.beta2 < 0 || p.beta2 >= 1)
    fail(MART_ERR_INVALID_ARGUMENT, "`params.beta1` and `params.beta2` must lie in [0, 1) (got " +
                                        std::to_string(p.beta1) + ", " + std::to_string(p.beta2) +
                                        "); mart_session_step_params gives the job's values");
  if (p.grad_clip < 0)
    fail(MART_ERR_INVALID_ARGUMENT, "`params.grad_clip` is negative; 0 turns clipping off");
  mart::StepHyper hy;
  hy.lr = p.lr;
  hy.beta1 = p.beta1;
  hy.beta2 = p.beta2;
  hy.eps = p.eps;
  hy.weight_decay = p.weight_decay;
  hy.grad_clip = p.grad_clip;
  hy.step = resolve_step(h, p.step, "params.step");
  return hy;
}

}  // namespace

extern "C" {

mart_status mart_session_step_params(mart_session* session, int64_t step, mart_step_params* out) {
  return with_session("mart_session_step_params", MART_ERR_INTERNAL, session, [&](mart_session& h) {
    require_arg(out, "out");
    const int s = resolve_step(h, step, "step");
    const mart::TrainConfig& t = h.session->config().train;
    mart_step_params p{};
    p.lr = mart::lr_at(t, s - 1);  // lr_at takes the 0-based step about to run
    p.beta1 = t.beta1;
    p.beta2 = t.beta2;
    p.eps = t.eps;
    p.weight_decay = t.weight_decay;
    p.grad_clip = t.grad_clip;
    p.step = s;
    *out = p;
  });
}

mart_status mart_session_train_step(mart_session* session, const int32_t* inputs,
                                    const int32_t* targets, size_t n_tokens,
                                    mart_step_params params, mart_step_result* out) {
  return with_session("mart_session_train_step", MART_ERR_INTERNAL, session, [&](mart_session& h) {
    require_arg(inputs, "inputs");
    require_arg(targets, "targets");
    require_arg(out, "out");
    const size_t n_mb = micro_batch_count(h, n_tokens);
    check_tokens(h, inputs, targets, n_tokens);
    if (valid_targets(targets, 0, n_tokens) == 0)
      fail(MART_ERR_INVALID_ARGUMENT,
           "every target is negative (ignored), so the step has nothing to learn from");
    const mart::StepHyper hy = step_hyper(h, params);
    const std::string reload =
        "; the weights and steps_done are now unspecified: reload them "
        "(mart_session_load_checkpoint restores both) and lower the learning rate";
    mart::StepResult r;
    try {
      r = h.session->train_step(micro_batches(h, inputs, targets, n_mb), hy);
    } catch (const mart::NumericError& e) {  // a non-finite gradient norm: AdamW did not finish
      fail(MART_ERR_NUMERIC, e.what() + reload);
    }
    ++h.steps_done;
    h.tokens_seen += r.tokens;
    if (!std::isfinite(r.loss))
      fail(MART_ERR_NUMERIC, "step " + S(h.steps_done) + " gave loss " + std::to_string(r.loss) +
                                 " (gradient norm " + std::to_string(r.grad_norm) + ")" + reload);
    mart_step_result res{};
    res.loss = r.loss;
    res.grad_norm = r.grad_norm;
    res.tokens = r.tokens;
    res.seconds = r.seconds;
    res.step = h.steps_done;
    *out = res;
  });
}

mart_status mart_session_eval_loss(mart_session* session, const int32_t* inputs,
                                   const int32_t* targets, size_t n_tokens, double* out_loss) {
  return with_session("mart_session_eval_loss", MART_ERR_INTERNAL, session, [&](mart_session& h) {
    require_arg(inputs, "inputs");
    require_arg(targets, "targets");
    require_arg(out_loss, "out_loss");
    const size_t n_mb = micro_batch_count(h, n_tokens);
    check_tokens(h, inputs, targets, n_tokens);
    const size_t per = tokens_per_micro_batch(h);
    for (size_t m = 0; m < n_mb; ++m)
      if (valid_targets(targets, m * per, (m + 1) * per) == 0)
        fail(MART_ERR_INVALID_ARGUMENT,
             "micro-batch " + std::to_string(m) + " (`targets[" + std::to_string(m * per) + ".." +
                 std::to_string((m + 1) * per) +
                 ")`) has no valid target (all negative); every micro-batch needs one");
    // The Trainer's validation (runtime/evaluation.h): every target's loss summed sequence by
    // sequence in one fixed order, over the valid targets.
    double sum = 0;
    std::vector<double> token_losses;
    const mart::JobConfig& c = h.session->config();
    for (const mart::MicroBatch& mb : micro_batches(h, inputs, targets, n_mb)) {
      h.session->eval_token_losses(mb, &token_losses);
      mart::add_sequence_losses(token_losses, c.train.micro_batch, c.train.seq_len, &sum);
    }
    const double loss = sum / static_cast<double>(valid_targets(targets, 0, n_tokens));
    if (!std::isfinite(loss))
      fail(MART_ERR_NUMERIC, "the evaluation loss is " + std::to_string(loss) +
                                 " (the weights hold non-finite values: reload them)");
    *out_loss = loss;
  });
}

mart_status mart_session_logits(mart_session* session, const int32_t* inputs, size_t n_tokens,
                                float* logits, size_t n_logits) {
  return with_session("mart_session_logits", MART_ERR_INTERNAL, session, [&](mart_session& h) {
    require_arg(inputs, "inputs");
    require_arg(logits, "logits");
    const size_t per = tokens_per_micro_batch(h);
    const size_t V = static_cast<size_t>(h.session->config().model.vocab_size);
    if (n_tokens != per)
      fail(MART_ERR_INVALID_ARGUMENT,
           "`n_tokens` is " + std::to_string(n_tokens) +
               "; it must be micro_batch*seq_len = " + std::to_string(per) + " (one micro-batch)");
    if (n_logits != per * V)
      fail(MART_ERR_INVALID_ARGUMENT,
           "`n_logits` is " + std::to_string(n_logits) +
               "; it must be micro_batch*seq_len*vocab_size = " + std::to_string(per * V));
    check_tokens(h, inputs, nullptr, n_tokens);
    mart::MicroBatch mb;
    mb.inputs.assign(inputs, inputs + n_tokens);
    mb.targets.assign(n_tokens, -1);  // forward only: no target is read
    std::vector<float> out;
    h.session->executor().forward_logits(mb, &out);
    std::memcpy(logits, out.data(), out.size() * sizeof(float));
  });
}

mart_status mart_session_next_batch(mart_session* session, int32_t split, int32_t restart,
                                    int32_t* inputs, int32_t* targets, size_t n_tokens) {
  // Building the streams reads token shards: their failures are file errors.
  return with_session("mart_session_next_batch", MART_ERR_IO, session, [&](mart_session& h) {
    require_arg(inputs, "inputs");
    require_arg(targets, "targets");
    if (split != 0 && split != 1)
      fail(MART_ERR_INVALID_ARGUMENT,
           "`split` is " + S(split) + "; it must be 0 (training) or 1 (validation)");
    if (restart != 0 && restart != 1)
      fail(MART_ERR_INVALID_ARGUMENT, "`restart` is " + S(restart) + "; it must be 0 or 1");
    if (split == 0 && restart)
      fail(MART_ERR_INVALID_ARGUMENT,
           "`restart` is 1 for split 0: the training stream continues across calls and "
           "checkpoints (only the validation stream restarts)");
    const size_t n_mb = micro_batch_count(h, n_tokens);
    mart::DataLoader* d = split == 0 ? &mart::capi::train_loader(h) : mart::capi::val_loader(h);
    if (!d)
      fail(MART_ERR_CONFIG,
           "the job has no validation data (data.source shards without data.val_pattern)");
    if (restart) d->reset();
    // Filled aside and copied at the end: a failing shard leaves the caller's arrays untouched.
    const size_t per = tokens_per_micro_batch(h);
    std::vector<int32_t> in(n_tokens), tg(n_tokens);
    for (size_t m = 0; m < n_mb; ++m)
      d->next(std::span<int32_t>(in.data() + m * per, per),
              std::span<int32_t>(tg.data() + m * per, per));
    std::memcpy(inputs, in.data(), n_tokens * sizeof(int32_t));
    std::memcpy(targets, tg.data(), n_tokens * sizeof(int32_t));
  });
}

}  // extern "C"
