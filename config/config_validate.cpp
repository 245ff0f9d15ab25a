#include "config/config_validate.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "common/error.h"
#include "config/config_limits.h"
#include "config/job_name.h"

namespace mart {
namespace {

const std::vector<std::string> kBackends = {"cpu", "cuda", "auto"};
const std::vector<std::string> kSources = {"synthetic", "shards"};
const std::vector<std::string> kMemoryModes = {"resident", "manual", "auto"};
const std::vector<std::string> kDataOrders = {"random", "shuffle", "sequential"};
// train.stop_signals: the names runtime/preemption.cpp maps to signal numbers.
const std::vector<std::string> kStopSignals = {"TERM", "INT",  "USR1", "USR2",
                                               "HUP",  "QUIT", "XCPU"};

// The Markov corpus (runtime/data/markov_corpus.h) refuses more contexts or table entries than
// these; checking here reports it with the other config problems, before any work starts.
constexpr long long kMaxMarkovContexts = 1LL << 22;
constexpr long long kMaxMarkovEntries = 1LL << 26;

bool one_of(const std::string& s, const std::vector<std::string>& options) {
  return std::find(options.begin(), options.end(), s) != options.end();
}

std::string list(const std::vector<std::string>& options) {
  std::string out;
  for (const std::string& o : options) out += (out.empty() ? "" : ", ") + o;
  return out;
}

// Collects messages; `need(cond, parts...)` records one when cond is false.
struct Problems {
  std::vector<std::string> out;
  template <class... Args>
  void need(bool cond, const Args&... parts) {
    if (!cond) out.push_back(str(parts...));
  }
  void positive(int v, const char* path) { need(v > 0, path, " = ", v, ": must be at least 1"); }
  void non_negative(int v, const char* path, const char* zero_means) {
    need(v >= 0, path, " = ", v, ": must be >= 0 (0 ", zero_means, ")");
  }
};

void check_model(const ModelConfig& m, Problems& p) {
  p.positive(m.n_layer, "model.n_layer");
  p.positive(m.d_model, "model.d_model");
  p.positive(m.n_head, "model.n_head");
  p.positive(m.n_kv_head, "model.n_kv_head");
  p.positive(m.d_ff, "model.d_ff");
  p.positive(m.vocab_size, "model.vocab_size");
  p.positive(m.max_seq_len, "model.max_seq_len");
  p.need(m.norm_eps > 0, "model.norm_eps = ", m.norm_eps, ": must be > 0 (it keeps the norm's ",
         "division finite; 1e-5 is usual)");
  p.need(m.init_std > 0, "model.init_std = ", m.init_std, ": must be > 0 (0.02 is usual)");
  const ModelFamilyTraits& fam = family_traits(m.family);
  const bool rope = fam.positions == PositionKind::Rope;
  if (rope)
    p.need(m.rope_theta > 0, "model.rope_theta = ", m.rope_theta,
           ": must be > 0 (RoPE base; 10000 for Llama 2, 500000 for Llama 3)");
  if (m.d_model > 0 && m.n_head > 0) {
    p.need(m.d_model % m.n_head == 0, "model.n_head = ", m.n_head,
           " does not divide model.d_model = ", m.d_model,
           ": every head needs d_model / n_head channels; pick a divisor of d_model");
    if (rope && m.d_model % m.n_head == 0)
      p.need(m.head_size() % 2 == 0, "model.d_model / model.n_head = ", m.head_size(),
             " is odd: RoPE rotates channel pairs, so the head size must be even");
  }
  if (m.n_head > 0 && m.n_kv_head > 0) {
    if (!fam.grouped_query_attention)
      p.need(m.n_kv_head == m.n_head, "model.n_kv_head = ", m.n_kv_head,
             " but model.n_head = ", m.n_head, ": ", fam.display,
             " has no grouped-query attention; set n_kv_head to ", m.n_head,
             " (or use family: llama)");
    else
      p.need(m.n_head % m.n_kv_head == 0, "model.n_kv_head = ", m.n_kv_head,
             " does not divide model.n_head = ", m.n_head,
             ": each kv head serves n_head / n_kv_head query heads; pick a divisor of n_head");
  }
  if (fam.always_tied)
    p.need(m.tied_embeddings, "model.tied_embeddings = false: ", fam.display,
           " always ties its output projection to the token embedding; set it to true (or use "
           "family: llama)");
}

void check_data(const JobConfig& c, Problems& p) {
  const DataConfig& d = c.data;
  p.need(one_of(d.order, kDataOrders), "data.order = '", d.order, "': unknown; use one of ",
         list(kDataOrders), " (random: uniformly random windows, as nanoGPT)");
  p.need(one_of(d.source, kSources), "data.source = '", d.source, "': unknown; use one of ",
         list(kSources));
  if (d.source == "shards")
    p.need(!d.train_pattern.empty(), "data.source = shards needs data.train_pattern (a glob of ",
           "token shard files, e.g. data/tinyshakespeare.bin from `mart prepare-data`)");
  if (d.source != "synthetic") return;
  p.need(d.synthetic_vocab >= 2, "data.synthetic_vocab = ", d.synthetic_vocab,
         ": must be at least 2 symbols");
  p.need(d.synthetic_vocab <= c.model.vocab_size, "data.synthetic_vocab = ", d.synthetic_vocab,
         " exceeds model.vocab_size = ", c.model.vocab_size,
         ": the model could not embed those tokens; lower synthetic_vocab or raise vocab_size");
  p.need(d.synthetic_order >= 0, "data.synthetic_order = ", d.synthetic_order,
         ": must be >= 0 (the Markov chain's context length; 0 draws symbols independently)");
  p.need(d.synthetic_branching >= 1 && d.synthetic_branching <= std::max(d.synthetic_vocab, 1),
         "data.synthetic_branching = ", d.synthetic_branching, ": must be between 1 and ",
         "data.synthetic_vocab = ", d.synthetic_vocab);
  if (d.synthetic_vocab >= 2 && d.synthetic_order >= 0) {
    long long contexts = 1;
    for (int i = 0; i < d.synthetic_order && contexts <= kMaxMarkovContexts; ++i)
      contexts *= d.synthetic_vocab;
    p.need(contexts <= kMaxMarkovContexts,
           "data.synthetic_vocab^data.synthetic_order = ", d.synthetic_vocab, "^",
           d.synthetic_order, " exceeds 2^22 Markov contexts: the ",
           "transition table would be too large; lower synthetic_order or synthetic_vocab");
    if (contexts <= kMaxMarkovContexts && d.synthetic_branching >= 1)
      p.need(contexts * d.synthetic_branching <= kMaxMarkovEntries, "data.synthetic_vocab^",
             "synthetic_order x synthetic_branching = ", contexts, " x ", d.synthetic_branching,
             " exceeds 2^26 Markov table entries; lower synthetic_branching, order or vocab");
  }
}

void check_train(const JobConfig& c, Problems& p) {
  const TrainConfig& t = c.train;
  p.positive(t.micro_batch, "train.micro_batch");
  p.positive(t.seq_len, "train.seq_len");
  p.positive(t.grad_accum, "train.grad_accum");
  p.non_negative(t.steps, "train.steps", "evaluates only (needs validation data)");
  p.need(t.seq_len <= c.model.max_seq_len, "train.seq_len = ", t.seq_len,
         " exceeds model.max_seq_len = ", c.model.max_seq_len,
         ": the model has no positions beyond that; lower seq_len or raise max_seq_len");
  p.need(t.lr > 0, "train.lr = ", t.lr, ": the learning rate must be > 0");
  p.need(t.min_lr_ratio >= 0 && t.min_lr_ratio <= 1, "train.min_lr_ratio = ", t.min_lr_ratio,
         ": must be in [0, 1] (the cosine schedule ends at lr * min_lr_ratio)");
  p.need(t.warmup_steps >= 0, "train.warmup_steps = ", t.warmup_steps, ": must be >= 0");
  // warmup_steps > steps is allowed: the trainer clamps it to the run with a note.
  p.need(t.weight_decay >= 0, "train.weight_decay = ", t.weight_decay, ": must be >= 0");
  p.need(t.beta1 >= 0 && t.beta1 < 1, "train.beta1 = ", t.beta1,
         ": must be in [0, 1) (AdamW's first-moment decay; 0.9 is usual)");
  p.need(t.beta2 >= 0 && t.beta2 < 1, "train.beta2 = ", t.beta2,
         ": must be in [0, 1) (AdamW's second-moment decay; 0.95 or 0.999 is usual)");
  p.need(t.eps > 0, "train.eps = ", t.eps, ": must be > 0 (AdamW's denominator guard; 1e-8)");
  p.need(t.grad_clip >= 0, "train.grad_clip = ", t.grad_clip, ": must be >= 0 (0 disables)");
  p.non_negative(t.eval_every, "train.eval_every", "disables periodic validation");
  if (t.eval_every > 0 && t.eval_batches == 0) p.positive(t.eval_sequences, "train.eval_sequences");
  p.non_negative(t.eval_batches, "train.eval_batches", "means eval_sequences is used");
  p.non_negative(t.checkpoint_every, "train.checkpoint_every", "saves only at the end");
  p.positive(t.log_every, "train.log_every");
  p.non_negative(t.trace_step, "train.trace_step", "writes no timeline");
  // The default may exceed a short run's steps (it then traces nothing); a chosen step may not.
  p.need(t.trace_step <= std::max(t.steps, kDefaultTraceStep), "train.trace_step = ", t.trace_step,
         " is past train.steps = ", t.steps,
         ": that step never runs, so no timeline would be written; choose a step <= train.steps, "
         "or 0 for none");
  try {
    max_time_seconds(t.max_time);
  } catch (const Error& e) {
    p.out.push_back(e.what());
  }
  for (size_t i = 0; i < t.stop_signals.size(); ++i)
    p.need(one_of(t.stop_signals[i], kStopSignals), "train.stop_signals[", i, "] = '",
           t.stop_signals[i], "': unknown; use names from ", list(kStopSignals),
           " (without SIG), or [] to leave signals alone");
}

void check_memory(const MemoryConfig& m, Problems& p) {
  p.need(one_of(m.mode, kMemoryModes), "memory.mode = '", m.mode, "': unknown; use one of ",
         list(kMemoryModes));
  p.need(m.n_persist >= -1, "memory.n_persist = ", m.n_persist,
         ": must be >= 0, or -1 for every chunk");
  if (m.mode == "manual")
    p.need(
        m.n_buffer >= 1, "memory.n_buffer = ", m.n_buffer, ": memory.mode = manual needs at ",
        "least 1 device buffer to stream offloaded chunks through (2 overlaps copy and compute)");
  else
    p.non_negative(m.n_buffer, "memory.n_buffer", "is fine when nothing is offloaded");
}

// "n_swap/n_checkpoint/n_compress/n_compress_swap" and "1/0/0/2": the count keys and values.
std::string count_keys(const char* sep) {
  std::string out;
  for (const ActModeTraits& t : kActModeTraits)
    if (t.count_key) out += std::string(out.empty() ? "" : sep) + t.count_key;
  return out;
}
std::string count_values(const ModeCounts& c, const char* sep) {
  std::string out;
  for (const ActModeTraits& t : kActModeTraits)
    if (t.count_key) out += (out.empty() ? "" : sep) + std::to_string(c[t.mode]);
  return out;
}

void check_activations(const JobConfig& c, Problems& p) {
  const ActivationConfig& a = c.activations;
  const int n_layer = c.model.n_layer;
  for (const ActModeTraits& t : kActModeTraits)
    if (t.count_key)
      p.need(a.counts[t.mode] >= 0, "activations.", t.count_key, " = ", a.counts[t.mode],
             ": must be >= 0 (0 puts no block in ", t.name, ")");
  p.need(a.eb > 0 && std::isfinite(a.eb), "activations.eb = ", a.eb,
         ": the compression error bound must be finite and > 0 (1e-3 is usual)");
  p.need(a.payload_fraction > 0 && a.payload_fraction <= 2,
         "activations.payload_fraction = ", a.payload_fraction,
         ": must be in (0, 2], the payload bytes a compressed block may use per raw activation "
         "byte (0.5 is usual; encodings that need more are recomputed instead)");
  if (a.modes.empty()) {
    long long special = 0;
    for (int n : a.counts.n) special += n;  // the Keep entry is 0 (keep takes the rest)
    p.need(special <= n_layer, "activations.", count_keys(" + "), " = ",
           count_values(a.counts, " + "), " = ", special, " exceeds model.n_layer = ", n_layer,
           ": each block has one mode; lower the counts");
    return;
  }
  ModeCounts listed;
  for (size_t i = 0; i < a.modes.size(); ++i) {
    const ActModeTraits* t = nullptr;
    for (const ActModeTraits& x : kActModeTraits)
      if (a.modes[i] == x.name) t = &x;
    p.need(t != nullptr, "activations.modes[", i, "] = '", a.modes[i],
           "': unknown block mode; use one of ", act_mode_choices());
    if (t) ++listed[t->mode];
  }
  p.need(static_cast<int>(a.modes.size()) == n_layer, "activations.modes lists ", a.modes.size(),
         " modes but model.n_layer = ", n_layer, ": give one per block (or leave modes empty ",
         "and use ", count_keys("/"), ")");
  // Both spellings at once must agree, or the counts would silently be ignored.
  const bool counts_given = a.counts != ModeCounts{};
  ModeCounts listed_placed = listed;
  listed_placed[ActMode::Keep] = 0;
  std::vector<std::string> has;  // "1 swap", "0 checkpoint", ...
  for (const ActModeTraits& t : kActModeTraits)
    if (t.count_key) has.push_back(std::to_string(listed[t.mode]) + " " + t.name);
  std::string has_text;
  for (size_t i = 0; i < has.size(); ++i)
    has_text += (i == 0 ? "" : i + 1 == has.size() ? " and " : ", ") + has[i];
  p.need(!counts_given || a.counts == listed_placed, "activations.modes has ", has_text,
         " blocks but ", count_keys("/"), " say ", count_values(a.counts, "/"),
         ": modes wins when given, so set the counts to 0 (or make them match)");
}

// The limit table's findings (config_limits.h), except for a key a rule above already reported
// (n_layer = 0 says "must be at least 1" once, not twice).
void add_limit_problems(const JobConfig& c, Problems& p) {
  for (const std::string& lim : limit_problems(c)) {
    const std::string key = lim.substr(0, lim.find(" = "));
    bool reported = false;
    for (const std::string& s : p.out) reported = reported || s.rfind(key + " ", 0) == 0;
    if (!reported) p.out.push_back(lim);
  }
}

// A non-negative decimal number (the whole text), or -1.
double plain_number(const std::string& s) {
  if (s.empty() || s.find_first_not_of("0123456789.") != std::string::npos) return -1;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size() && std::isfinite(v) ? v : -1;
}

}  // namespace

double max_time_seconds(const std::string& text) {
  const auto bad = [&](const char* why) {
    return Error(str("train.max_time = '", text, "': ", why, "; write seconds (e.g. 3600), ",
                     "H:MM:SS or D-H:MM:SS (e.g. 1-12:00:00), or 0 for no limit"));
  };
  std::string s = text;
  double days = 0;
  if (size_t dash = s.find('-'); dash != std::string::npos && s.find(':') != std::string::npos) {
    days = plain_number(s.substr(0, dash));
    if (days < 0 || days != std::floor(days)) throw bad("the day count is not a whole number");
    s = s.substr(dash + 1);
  }
  double total = 0;
  if (s.find(':') == std::string::npos) {
    total = plain_number(s);
    if (total < 0) throw bad("not a non-negative number of seconds");
  } else {
    size_t c1 = s.find(':'), c2 = s.find(':', c1 + 1);
    if (c2 == std::string::npos || s.find(':', c2 + 1) != std::string::npos)
      throw bad("expected hours, minutes and seconds");
    double h = plain_number(s.substr(0, c1)), m = plain_number(s.substr(c1 + 1, c2 - c1 - 1));
    double sec = plain_number(s.substr(c2 + 1));
    if (h < 0 || m < 0 || sec < 0 || m >= 60 || sec >= 60 || h != std::floor(h) ||
        m != std::floor(m) || c2 - c1 != 3)
      throw bad("expected H:MM:SS with minutes and seconds below 60");
    total = h * 3600 + m * 60 + sec;
  }
  total += days * 86400;
  // A year: beyond it the limit is a typo, and the value must stay exact as a double.
  if (total > 366.0 * 86400) throw bad("more than a year");
  return total;
}

std::vector<std::string> config_problems(const JobConfig& c) {
  Problems p;
  const std::string name_why = job_name_problem(c.name);
  p.need(name_why.empty(), name_why);
  p.need(one_of(c.backend, kBackends), "backend = '", c.backend, "': unknown; use one of ",
         list(kBackends));
  check_model(c.model, p);
  check_data(c, p);
  check_train(c, p);
  check_memory(c.memory, p);
  check_activations(c, p);
  add_limit_problems(c, p);
  return p.out;
}

void validate(const JobConfig& c, const std::string& origin) {
  std::vector<std::string> problems = config_problems(c);
  if (problems.empty()) return;
  std::string msg = origin.empty() ? "invalid job config:" : "invalid job config (" + origin + "):";
  for (const std::string& s : problems) msg += "\n  " + s;
  throw Error(msg);
}

void validate(const JobConfig& c) {
  validate(c, "");
}

}  // namespace mart
