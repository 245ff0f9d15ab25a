#include "runtime/rlhf/token_logprobs.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "common/error.h"

namespace mart::rlhf {

namespace {

// Checks shapes and ids; returns N.
int64_t check_rows(std::span<const float> logits, std::span<const int32_t> ids, int64_t vocab,
                   double temperature) {
  MART_CHECK(vocab > 0, "token_logprobs: vocab is ", vocab, "; pass the logits' row length");
  MART_CHECK(static_cast<int64_t>(logits.size()) == static_cast<int64_t>(ids.size()) * vocab,
             "token_logprobs: logits have ", logits.size(), " elements but ", ids.size(),
             " ids x vocab ", vocab, " = ", static_cast<int64_t>(ids.size()) * vocab,
             "; pass one logits row [V] per id");
  MART_CHECK(temperature > 0 && std::isfinite(temperature), "token_logprobs: temperature is ",
             temperature, "; use the rollout's sampling temperature (> 0; greedy has no log-prob)");
  for (size_t n = 0; n < ids.size(); ++n) {
    MART_CHECK(ids[n] >= 0 && ids[n] < vocab, "token_logprobs: id ", ids[n], " at row ", n,
               " is outside the vocabulary [0, ", vocab, ")");
  }
  return static_cast<int64_t>(ids.size());
}

// One row: z = logits / tau; p = softmax(z) into p; returns {lse, sum p z}.
struct RowStats {
  double lse = 0;
  double mean_z = 0;  // sum_v p_v z_v
};
RowStats softmax_row(const float* logits, int64_t V, double tau, std::vector<double>& z,
                     std::vector<double>& p) {
  double mx = -INFINITY;
  for (int64_t v = 0; v < V; ++v) {
    z[v] = static_cast<double>(logits[v]) / tau;
    mx = std::max(mx, z[v]);
  }
  MART_CHECK(std::isfinite(mx), "token_logprobs: a logits row has max ", mx,
             "; the model produced NaN or inf logits");
  double s = 0;
  for (int64_t v = 0; v < V; ++v) s += (p[v] = std::exp(z[v] - mx));
  RowStats st;
  st.lse = mx + std::log(s);
  for (int64_t v = 0; v < V; ++v) {
    p[v] /= s;
    st.mean_z += p[v] * z[v];
  }
  return st;
}

}  // namespace

void token_logprobs(std::span<const float> logits, std::span<const int32_t> ids, int64_t vocab,
                    double temperature, std::span<double> logp, std::span<double> entropy) {
  const int64_t N = check_rows(logits, ids, vocab, temperature);
  MART_CHECK(static_cast<int64_t>(logp.size()) == N, "token_logprobs: logp has ", logp.size(),
             " entries for ", N, " rows");
  MART_CHECK(entropy.empty() || static_cast<int64_t>(entropy.size()) == N,
             "token_logprobs: entropy has ", entropy.size(), " entries for ", N,
             " rows; pass N entries or an empty span");
  std::vector<double> z(vocab), p(vocab);
  for (int64_t n = 0; n < N; ++n) {
    const RowStats st = softmax_row(logits.data() + n * vocab, vocab, temperature, z, p);
    logp[n] = z[ids[n]] - st.lse;
    if (!entropy.empty()) entropy[n] = st.lse - st.mean_z;
  }
}

template <class Out>
void token_logprobs_backward(std::span<const float> logits, std::span<const int32_t> ids,
                             int64_t vocab, double temperature, std::span<const double> g_logp,
                             std::span<const double> g_entropy, std::span<Out> grad_logits) {
  const int64_t N = check_rows(logits, ids, vocab, temperature);
  MART_CHECK(static_cast<int64_t>(g_logp.size()) == N, "token_logprobs_backward: g_logp has ",
             g_logp.size(), " entries for ", N, " rows");
  MART_CHECK(g_entropy.empty() || static_cast<int64_t>(g_entropy.size()) == N,
             "token_logprobs_backward: g_entropy has ", g_entropy.size(), " entries for ", N,
             " rows; pass N entries or an empty span");
  MART_CHECK(grad_logits.size() == logits.size(), "token_logprobs_backward: grad_logits has ",
             grad_logits.size(), " elements, logits ", logits.size());
  std::vector<double> z(vocab), p(vocab);
  for (int64_t n = 0; n < N; ++n) {
    const RowStats st = softmax_row(logits.data() + n * vocab, vocab, temperature, z, p);
    const double gl = g_logp[n], ge = g_entropy.empty() ? 0.0 : g_entropy[n];
    Out* g = grad_logits.data() + n * vocab;
    for (int64_t v = 0; v < vocab; ++v) {
      const double onehot = v == ids[n] ? 1.0 : 0.0;
      const double dz = gl * (onehot - p[v]) - ge * p[v] * (z[v] - st.mean_z);
      g[v] = static_cast<Out>(dz / temperature);
    }
  }
}

template void token_logprobs_backward<float>(std::span<const float>, std::span<const int32_t>,
                                             int64_t, double, std::span<const double>,
                                             std::span<const double>, std::span<float>);
template void token_logprobs_backward<double>(std::span<const float>, std::span<const int32_t>,
                                              int64_t, double, std::span<const double>,
                                              std::span<const double>, std::span<double>);

}  // namespace mart::rlhf
