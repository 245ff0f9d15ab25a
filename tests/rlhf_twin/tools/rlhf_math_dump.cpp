// mart_rlhf_math_dump: runs MART's RLHF math (runtime/rlhf: advantages, losses, token log-probs,
// KL controller) on the cases in IN.json and writes every output to OUT.json, for the float64
// PyTorch twin in tests/rlhf_twin/test_rlhf_twin.py to compare against.
//
// Usage: mart_rlhf_math_dump IN.json OUT.json
// IN.json: a list of cases; each case has the fields read below (flat row-major [B, T] arrays,
// the [B, T] mask as 0/1, float32-representable logits [N, V] as numbers). OUT.json: a list with
// one object of outputs per case (doubles written with 17 significant digits: round-trip exact).
#include <cstdint>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/error.h"
#include "runtime/rlhf/advantages.h"
#include "runtime/rlhf/kl_controller.h"
#include "runtime/rlhf/losses.h"
#include "runtime/rlhf/token_logprobs.h"

namespace {

using nlohmann::json;
using namespace mart::rlhf;
using Vec = std::vector<double>;

mart::rlhf::Variance variance_of(const std::string& s) {
  MART_CHECK(s == "unbiased" || s == "population", "variance '", s,
             "' is neither 'unbiased' nor 'population'");
  return s == "unbiased" ? Variance::kUnbiased : Variance::kPopulation;
}

Reduction reduction_of(const std::string& s) {
  MART_CHECK(s == "token" || s == "sequence", "reduction '", s,
             "' is neither 'token' nor 'sequence'");
  return s == "token" ? Reduction::kTokenMean : Reduction::kSequenceMean;
}

// Per-token rewards, GAE, whitening and GRPO advantages.
void advantages_part(const json& c, TokenShape s, const std::vector<uint8_t>& mask, json& out) {
  const Vec lp_old = c["logp_old"], lp_ref = c["logp_ref"], score = c["score"];
  const Vec v_old = c["values_old"];
  Vec rewards(s.size()), adv(s.size()), ret(s.size());
  const KlPenaltyStats st =
      per_token_rewards(lp_old, lp_ref, score, mask, s, c["kl_coef"].get<double>(), rewards);
  gae(rewards, v_old, mask, s, c["gamma"].get<double>(), c["lambda"].get<double>(), adv, ret);
  out["rewards"] = rewards;
  out["kl_token_mean"] = st.kl_token_mean;
  out["kl_seq_mean"] = st.kl_seq_mean;
  out["advantages"] = adv;
  out["returns"] = ret;
  const json& w = c["whiten"];
  const MeanVar mv =
      whiten(adv, mask, s,
             {variance_of(w["variance"]), w["eps"].get<double>(), w["shift_mean"].get<bool>()});
  out["whitened"] = adv;
  out["whiten_mean"] = mv.mean;
  out["whiten_var"] = mv.var;
  const json& g = c["grpo"];
  Vec gadv(s.size());
  grpo_advantages(
      score, mask, s,
      {g["group_size"].get<int64_t>(), variance_of(g["variance"]), g["eps"].get<double>()}, gadv);
  out["grpo_advantages"] = gadv;
}

// Policy, value and k3 KL losses with their gradients.
void losses_part(const json& c, TokenShape s, const std::vector<uint8_t>& mask, json& out) {
  const Vec lp = c["logp"], lp_old = c["logp_old"], lp_ref = c["logp_ref"];
  const Vec adv = c["policy_advantages"], v = c["values"], v_old = c["values_old"];
  const Vec ret = c["value_returns"];
  const Reduction red = reduction_of(c["reduction"]);
  Vec g(s.size());
  const PolicyLossResult p =
      clipped_policy_loss(lp, lp_old, adv, mask, s, c["clip_eps"].get<double>(), red, g);
  out["policy_loss"] = p.loss;
  out["policy_clip_fraction"] = p.clip_fraction;
  out["approx_kl"] = p.approx_kl;
  out["grad_logp"] = g;
  const ValueLossResult vl =
      clipped_value_loss(v, v_old, ret, mask, s, c["clip_eps_v"].get<double>(), g);
  out["value_loss"] = vl.loss;
  out["value_clip_fraction"] = vl.clip_fraction;
  out["grad_values"] = g;
  out["kl_loss"] = kl_k3_loss(lp, lp_ref, mask, s, c["beta"].get<double>(), red, g);
  out["grad_logp_kl"] = g;
}

// Token log-probs, entropy and d L / d logits for L = sum g_logp logp + g_entropy entropy.
void logits_part(const json& c, json& out) {
  const Vec ld = c["logits"];
  const std::vector<float> logits(ld.begin(), ld.end());
  const std::vector<int32_t> ids = c["ids"];
  const int64_t V = c["vocab"];
  const double tau = c["temperature"];
  const Vec gl = c["g_logp"], ge = c["g_entropy"];
  Vec lp(ids.size()), ent(ids.size()), grad(logits.size());
  token_logprobs(logits, ids, V, tau, lp, ent);
  token_logprobs_backward<double>(logits, ids, V, tau, gl, ge, grad);
  out["token_logp"] = lp;
  out["token_entropy"] = ent;
  out["grad_logits"] = grad;
}

// The adaptive KL coefficient after each observed KL of c["kl_observed"].
void kl_controller_part(const json& c, json& out) {
  const json& k = c["kl_control"];
  auto ctl = make_kl_controller({KlControl::kAdaptive, k["init"].get<double>(),
                                 k["target"].get<double>(), k["horizon"].get<double>()});
  Vec values;
  for (double kl : k["observed"].get<Vec>()) {
    ctl->update(kl, k["n_steps"].get<int64_t>());
    values.push_back(ctl->value());
  }
  out["kl_coef_trace"] = values;
}

json run_case(const json& c) {
  const TokenShape s{c["B"].get<int64_t>(), c["T"].get<int64_t>()};
  const std::vector<uint8_t> mask = c["mask"].get<std::vector<uint8_t>>();
  json out = json::object();
  advantages_part(c, s, mask, out);
  losses_part(c, s, mask, out);
  logits_part(c, out);
  kl_controller_part(c, out);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: mart_rlhf_math_dump IN.json OUT.json\n";
    return 2;
  }
  try {
    std::ifstream in(argv[1]);
    MART_CHECK(in, "cannot read ", argv[1]);
    const json cases = json::parse(in);
    json outs = json::array();
    for (const json& c : cases) outs.push_back(run_case(c));
    std::ofstream f(argv[2]);
    f << outs.dump();
    MART_CHECK(f.good(), "cannot write ", argv[2]);
  } catch (const std::exception& e) {
    std::cerr << "mart_rlhf_math_dump: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
