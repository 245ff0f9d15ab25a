#include "config/config_limits.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>

#include "common/error.h"
#include "config/config_fields.h"
#include "config/job_name.h"

namespace mart {
namespace {

using config_detail::Field;
using config_detail::FieldKind;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kPow2_20 = 1048576.0;
constexpr double kPow2_24 = 16777216.0;
constexpr double kPow2_32 = 4294967296.0;
constexpr double kPow2_35 = 34359738368.0;
constexpr double kPow2_40 = 1099511627776.0;
constexpr double kPow2_50 = 1125899906842624.0;
constexpr double kMaxSteps = 1e9;

// Saturating 64-bit arithmetic: a product that would overflow reads as UINT64_MAX, which is above
// every limit, instead of wrapping to something small.
uint64_t sat_mul(uint64_t a, uint64_t b) {
  uint64_t r;
  return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}
uint64_t sat_add(uint64_t a, uint64_t b) {
  uint64_t r;
  return __builtin_add_overflow(a, b, &r) ? UINT64_MAX : r;
}
uint64_t u(int v) {
  return v > 0 ? static_cast<uint64_t>(v) : 0;
}

// Parameters of the model (weights only; biases and norm gains are below 0.1% and left out).
double model_params(const JobConfig& c) {
  const ModelConfig& m = c.model;
  const ModelFamilyTraits& fam = family_traits(m.family);
  const uint64_t d = u(m.d_model), hs = m.n_head > 0 ? u(m.d_model / m.n_head) : 0;
  const uint64_t qkv = sat_mul(sat_add(u(m.n_head), sat_mul(2, u(m.n_kv_head))), hs);
  const uint64_t mlp = sat_mul(fam.mlp == MlpKind::SwiGlu ? 3 : 2, sat_mul(d, u(m.d_ff)));
  const uint64_t layer = sat_add(sat_add(sat_mul(d, qkv), sat_mul(d, d)), mlp);
  uint64_t total = sat_mul(u(m.n_layer), layer);
  const uint64_t embed = sat_mul(u(m.vocab_size), d);
  total = sat_add(total, embed);
  if (!(fam.always_tied || m.tied_embeddings)) total = sat_add(total, embed);
  if (fam.positions == PositionKind::Learned) total = sat_add(total, sat_mul(u(m.max_seq_len), d));
  return static_cast<double>(total);
}

double tokens_per_micro_batch(const JobConfig& c) {
  return static_cast<double>(sat_mul(u(c.train.micro_batch), u(c.train.seq_len)));
}

double logits_per_micro_batch(const JobConfig& c) {
  return static_cast<double>(
      sat_mul(sat_mul(u(c.train.micro_batch), u(c.train.seq_len)), u(c.model.vocab_size)));
}

double tokens_per_step(const JobConfig& c) {
  return static_cast<double>(
      sat_mul(sat_mul(u(c.train.micro_batch), u(c.train.seq_len)), u(c.train.grad_accum)));
}

double decay_per_step(const JobConfig& c) {
  return static_cast<double>(c.train.lr) * static_cast<double>(c.train.weight_decay);
}

constexpr ConfigLimit kLimits[] = {
    {"model.n_layer", 1, 1024, false, false,
     "the deepest published LLMs have under 200 blocks; per-block tables are sized by it"},
    {"model.d_model", 1, 65536, false, false, "the widest published LLMs use d_model <= 25600"},
    {"model.n_head", 1, 4096, false, false,
     "attention heads; each needs d_model / n_head channels"},
    {"model.n_kv_head", 1, 4096, false, false, "key/value heads (<= n_head)"},
    {"model.d_ff", 1, 1048576, false, false, "MLP width; published models use <= 4 x 25600"},
    {"model.vocab_size", 1, kPow2_24, false, false,
     "token ids are int32 and the embedding is vocab_size x d_model; real tokenizers use <= 256k"},
    {"model.max_seq_len", 1, kPow2_20, false, false,
     "positions (GPT-2 sizes its position table by it); 1M tokens of context at most"},
    {"model.norm_eps", 1e-12, 0.1, false, false,
     "the norm divides by sqrt(variance + eps): a large eps swamps the variance and the model "
     "cannot learn (3e38 trains a flat loss); 1e-5 or 1e-6 is usual"},
    {"model.rope_theta", 1, 1e10, false, false,
     "RoPE base; 10000 (Llama 2), 500000 (Llama 3); below 1 the frequencies grow instead of decay"},
    {"model.init_std", 1e-6, 1, false, false,
     "std of the initial weights; 0.02 is usual, above 1 the first steps diverge"},
    {"data.synthetic_vocab", 2, kPow2_24, false, false, "symbols of the synthetic Markov corpus"},
    {"data.synthetic_order", 0, 64, false, false, "context length of the Markov chain"},
    {"data.synthetic_branching", 1, kPow2_24, false, false, "next-symbol choices per context"},
    {"train.micro_batch", 1, 65536, false, false, "sequences per micro-batch"},
    {"train.seq_len", 1, kPow2_20, false, false, "tokens per sequence (<= model.max_seq_len)"},
    {"train.grad_accum", 1, 65536, false, false, "micro-batches per optimizer step"},
    {"train.steps", 0, kMaxSteps, false, false,
     "optimizer steps (0: evaluate only); 1e9 steps is decades of training at realistic step "
     "times"},
    {"train.lr", 1e-10, 1, false, false,
     "peak AdamW learning rate; 1e-4 to 1e-2 is usual, above 1 every step overshoots"},
    {"train.min_lr_ratio", 0, 1, false, false, "the cosine schedule ends at lr x min_lr_ratio"},
    {"train.warmup_steps", 0, kMaxSteps, false, false,
     "linear warmup steps (a longer warmup is clamped to train.steps)"},
    {"train.weight_decay", 0, 10, false, false, "decoupled weight decay; 0.1 is usual"},
    {"train.beta1", 0, 1, false, true, "AdamW first-moment decay; 0.9 is usual"},
    {"train.beta2", 0, 1, false, true, "AdamW second-moment decay; 0.95 or 0.999 is usual"},
    {"train.eps", 1e-20, 1, false, false, "AdamW's denominator guard; 1e-8 is usual"},
    {"train.grad_clip", 0, 1e6, false, false, "global gradient-norm clip; 0 disables, 1 is usual"},
    {"train.eval_every", 0, kMaxSteps, false, false, "steps between validations; 0 disables"},
    {"train.eval_batches", 0, 100000, false, false,
     "micro-batches per validation; each validation runs them all, so 2^31 never ends"},
    {"train.eval_sequences", 0, 1 << 26, false, false,
     "validation sequences per evaluation; each validation runs them all"},
    {"train.checkpoint_every", 0, kMaxSteps, false, false,
     "steps between checkpoints; 0 saves only at the end"},
    {"train.log_every", 1, kMaxSteps, false, false, "steps between progress lines"},
    {"train.trace_step", 0, kMaxSteps, false, false,
     "the step whose measured timeline is written (timeline.json); 0 = none"},
    {"memory.device_capacity", 0, kPow2_50, false, false,
     "bytes of device memory to use; 0 = what the device has; 1 PiB at most"},
    {"memory.n_persist", -1, kPow2_20, false, false, "chunks kept on the device; -1 = all"},
    {"memory.n_buffer", 0, 1024, false, false, "device buffers for offloaded chunks; 2 is usual"},
    {"memory.chunk_size", 0, kPow2_40, false, false, "bytes per state chunk; 0 = auto"},
    {"activations.n_swap", 0, 1024, false, false, "blocks swapped (<= model.n_layer)"},
    {"activations.n_checkpoint", 0, 1024, false, false, "blocks recomputed (<= model.n_layer)"},
    {"activations.n_compress", 0, 1024, false, false, "blocks compressed (<= model.n_layer)"},
    {"activations.n_compress_swap", 0, 1024, false, false,
     "blocks compressed and swapped (<= model.n_layer)"},
    {"activations.eb", 1e-12, 1, true, false,
     "absolute error bound of activation compression; 1e-3 is usual"},
    {"activations.payload_fraction", 0, 2, true, false, "compressed bytes per raw activation byte"},
    // Products: checked once every factor is within its own limit.
    {"model parameters", 1, kPow2_40, false, false,
     "weights, gradients and both AdamW moments take 16 bytes per parameter: 2^40 parameters "
     "is 16 TiB of model states; lower n_layer, d_model, d_ff or vocab_size",
     model_params},
    {"train.micro_batch x train.seq_len", 1, kPow2_24, false, false,
     "tokens per micro-batch; every activation buffer is sized by it", tokens_per_micro_batch},
    {"train.micro_batch x train.seq_len x model.vocab_size", 1, kPow2_35, false, false,
     "logits per micro-batch (2^35 fp32 logits are 128 GiB); lower micro_batch or seq_len",
     logits_per_micro_batch},
    {"train.micro_batch x train.seq_len x train.grad_accum", 1, kPow2_32, false, false,
     "tokens per optimizer step", tokens_per_step},
    {"train.lr x train.weight_decay", 0, 1, false, true,
     "decoupled weight decay scales each 2-D weight by (1 - lr x weight_decay) every step: at 1 "
     "or more it zeroes or flips the weights",
     decay_per_step},
};

// A plain row's value, read through the schema table; NaN when the key is not a number field.
double field_value(const JobConfig& c, std::string_view key, bool* is_float) {
  for (const config_detail::Section& s : config_detail::schema(c))
    for (const Field& f : s.fields) {
      if (std::string(s.name) + "." + std::string(f.name) != key) continue;
      *is_float = f.kind == FieldKind::Float;
      switch (f.kind) {
        case FieldKind::Int:
          return *static_cast<const int*>(f.ptr);
        case FieldKind::Float:
          return *static_cast<const float*>(f.ptr);
        case FieldKind::Size:
          return static_cast<double>(*static_cast<const uint64_t*>(f.ptr));
        default:
          return kNaN;
      }
    }
  return kNaN;
}

std::string number_text(double v) {
  if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 9e15)
    return std::to_string(static_cast<long long>(v));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

std::string range_text(const ConfigLimit& l) {
  return str(l.min_open ? "(" : "[", number_text(l.min), ", ", number_text(l.max),
             l.max_open ? ")" : "]");
}

// A float field is compared in float: 0.1f is slightly above the double 0.1, and `norm_eps: 0.1`
// must sit exactly at its limit.
bool within(const ConfigLimit& l, double v, bool is_float = false) {
  const double lo_b = is_float ? static_cast<float>(l.min) : l.min;
  const double hi_b = is_float ? static_cast<float>(l.max) : l.max;
  const bool lo = l.min_open ? v > lo_b : v >= lo_b;
  const bool hi = l.max_open ? v < hi_b : v <= hi_b;
  return lo && hi;
}

std::string problem_text(const ConfigLimit& l, double v, const std::string& shown) {
  const bool low = l.min_open ? !(v > l.min) : !(v >= l.min);
  return str(l.key, " = ", shown, " is ", low ? "below" : "above", " its limit (allowed ",
             range_text(l), "): ", l.why);
}

}  // namespace

std::span<const ConfigLimit> config_limits() {
  return kLimits;
}

std::vector<std::string> limit_problems(const JobConfig& c) {
  std::vector<std::string> out;
  for (const ConfigLimit& l : kLimits) {
    if (l.derived) continue;
    bool is_float = false;
    const double v = field_value(c, l.key, &is_float);
    MART_CHECK(!std::isnan(v), "config limit table: '", l.key, "' is not a number field");
    if (!within(l, v, is_float))
      out.push_back(problem_text(
          l, v, is_float ? config_detail::float_text(static_cast<float>(v)) : number_text(v)));
  }
  if (!out.empty()) return out;  // products only once every factor is in range
  for (const ConfigLimit& l : kLimits) {
    if (!l.derived) continue;
    const double v = l.derived(c);
    if (!std::isnan(v) && !within(l, v)) out.push_back(problem_text(l, v, number_text(v)));
  }
  return out;
}

std::string config_limits_markdown() {
  std::string out = "| key | allowed | why |\n|---|---|---|\n";
  for (const ConfigLimit& l : kLimits)
    out += str("| `", l.key, "` | ", range_text(l), " | ", l.why, " |\n");
  return out;
}

void check_limits(const JobConfig& c, const std::string& origin) {
  std::vector<std::string> problems = limit_problems(c);
  if (const std::string why = job_name_problem(c.name); !why.empty()) problems.push_back(why);
  if (problems.empty()) return;
  std::string msg = "invalid job config (" + origin + "):";
  for (const std::string& s : problems) msg += "\n  " + s;
  throw Error(msg);
}

}  // namespace mart
