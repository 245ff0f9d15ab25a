#include "config/config_fields.h"

#include <charconv>

namespace mart::config_detail {

std::vector<Section> schema(JobConfig& c) {
  using K = FieldKind;
  auto& m = c.model;
  auto& d = c.data;
  auto& t = c.train;
  auto& mem = c.memory;
  auto& a = c.activations;
  std::vector<Field> acts = {{"modes", K::StringList, &a.modes}};
  for (const ActModeTraits& mt : kActModeTraits)  // n_swap, n_checkpoint, ... in enum order
    if (mt.count_key) acts.push_back({mt.count_key, K::Int, &a.counts[mt.mode]});
  acts.push_back({"eb", K::Float, &a.eb});
  acts.push_back({"payload_fraction", K::Float, &a.payload_fraction});
  acts.push_back({"adaptive_eb", K::Bool, &a.adaptive_eb});
  return {
      {"", {{"name", K::String, &c.name}, {"backend", K::String, &c.backend}}},
      {"model",
       {{"family", K::Family, &m.family},
        {"n_layer", K::Int, &m.n_layer},
        {"d_model", K::Int, &m.d_model},
        {"n_head", K::Int, &m.n_head},
        {"n_kv_head", K::Int, &m.n_kv_head},
        {"d_ff", K::Int, &m.d_ff},
        {"vocab_size", K::Int, &m.vocab_size},
        {"max_seq_len", K::Int, &m.max_seq_len},
        {"norm_eps", K::Float, &m.norm_eps},
        {"rope_theta", K::Float, &m.rope_theta},
        {"tied_embeddings", K::Bool, &m.tied_embeddings},
        {"init_std", K::Float, &m.init_std}}},
      {"data",
       {{"source", K::String, &d.source},
        {"train_pattern", K::String, &d.train_pattern},
        {"val_pattern", K::String, &d.val_pattern},
        {"tokenizer", K::String, &d.tokenizer},
        {"order", K::String, &d.order},
        {"synthetic_vocab", K::Int, &d.synthetic_vocab},
        {"synthetic_order", K::Int, &d.synthetic_order},
        {"synthetic_branching", K::Int, &d.synthetic_branching},
        {"synthetic_seed", K::Seed, &d.synthetic_seed}}},
      {"train",
       {{"micro_batch", K::Int, &t.micro_batch},
        {"seq_len", K::Int, &t.seq_len},
        {"grad_accum", K::Int, &t.grad_accum},
        {"steps", K::Int, &t.steps},
        {"lr", K::Float, &t.lr},
        {"min_lr_ratio", K::Float, &t.min_lr_ratio},
        {"warmup_steps", K::Int, &t.warmup_steps},
        {"weight_decay", K::Float, &t.weight_decay},
        {"beta1", K::Float, &t.beta1},
        {"beta2", K::Float, &t.beta2},
        {"eps", K::Float, &t.eps},
        {"grad_clip", K::Float, &t.grad_clip},
        {"seed", K::Seed, &t.seed},
        {"eval_every", K::Int, &t.eval_every},
        {"eval_batches", K::Int, &t.eval_batches},
        {"eval_sequences", K::Int, &t.eval_sequences},
        {"micro_batch_auto", K::Bool, &t.micro_batch_auto},
        {"checkpoint_every", K::Int, &t.checkpoint_every},
        {"log_every", K::Int, &t.log_every},
        {"tensorboard", K::Bool, &t.tensorboard},
        {"metrics_csv", K::Bool, &t.metrics_csv},
        {"trace_step", K::Int, &t.trace_step},
        {"max_time", K::String, &t.max_time},
        {"stop_signals", K::StringList, &t.stop_signals}}},
      {"memory",
       {{"device_capacity", K::Size, &mem.device_capacity},
        {"mode", K::String, &mem.mode},
        {"n_persist", K::Int, &mem.n_persist},
        {"n_buffer", K::Int, &mem.n_buffer},
        {"chunk_size", K::Size, &mem.chunk_size}}},
      {"activations", std::move(acts)},
  };
}

std::vector<std::string> field_names(const Section& s) {
  std::vector<std::string> out;
  for (const Field& f : s.fields) out.emplace_back(f.name);
  return out;
}

std::string float_text(float v) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, end);
}

}  // namespace mart::config_detail
