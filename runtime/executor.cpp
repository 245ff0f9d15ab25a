#include "runtime/executor.h"

#include <algorithm>
#include <chrono>
#include <string_view>

#include "common/error.h"
#include "device/device.h"
#include "memory/chunk_manager.h"
#include "runtime/model/transformer.h"
#include "runtime/step_trace.h"

namespace mart {
namespace {

void* at(void* base, uint64_t bytes) {
  return static_cast<char*>(base) + bytes;
}

}  // namespace

std::vector<ChunkUse> executor_use_sequence(const ModelSpec& spec) {
  std::vector<ChunkUse> seq;
  const int L = spec.cfg.n_layer;
  for (int g = 0; g <= L; ++g) seq.push_back({g, false});
  seq.push_back({spec.head_group(), true});
  if (spec.lm_head < 0) seq.push_back({0, true});  // tied head reuses the embedding
  for (int g = L; g >= 0; --g) seq.push_back({g, true});
  return seq;
}

ExecutorLayout executor_layout(const ModelSpec& spec, const Ops& ops, int B, int T) {
  const uint64_t N = static_cast<uint64_t>(B) * T, C = spec.cfg.d_model;
  const size_t sz = dtype_size(ops.act_dtype());
  ExecutorLayout L;
  L.io_bytes = arena_round(N * 4) * 2;
  L.inputs_bytes = arena_round(N * C * sz) * spec.cfg.n_layer;
  // xf_in, lnf [N,C]; mean, rstd, losses [N] fp32
  L.head_bytes = arena_round(N * C * sz) * 2 + arena_round(N * ops.stat_size()) * 3;
  // block scratch; dres, dlnf [N,C]; classifier workspace
  L.scratch_bytes =
      arena_round(block_scratch_elems(spec, B, T) * sz) + arena_round(N * C * sz) * 2 +
      arena_round(ops.classifier_workspace_bytes(static_cast<int>(N), spec.cfg.vocab_size));
  L.body_bytes = block_body_bytes(spec, B, T, sz, ops.stat_size());
  const auto BL = spec.block_layout(B, T);
  L.body.act_values = BL.act_elems - BL.x_in_elems;
  L.body.act_size = sz;
  L.body.stat_bytes = BL.stat_elems * ops.stat_size();
  // The CUDA codec's encode workspace is part of the compress memory (memory/activation_manager.h).
  // The CUDA backend and its dry-run stand-in ("cuda-layout") encode on the device.
  L.cuda_codec = std::string_view(ops.name()).rfind("cuda", 0) == 0;
  return L;
}

Executor::Executor(const ModelSpec& spec, Device& dev, Ops& ops, DeviceArena& arena,
                   ModelStates& states, const ExecutorOptions& opt)
    : spec_(spec),
      dev_(dev),
      ops_(ops),
      arena_(arena),
      states_(states),
      B_(opt.micro_batch),
      T_(opt.seq_len),
      asz_(dtype_size(ops.act_dtype())) {
  const auto& c = spec.cfg;
  MART_CHECK(B_ > 0 && T_ > 0, "executor: micro_batch and seq_len must be positive");
  MART_CHECK(T_ <= c.max_seq_len, "train.seq_len (", T_, ") exceeds model.max_seq_len (",
             c.max_seq_len, ")");
  std::vector<ActMode> modes = opt.block_modes;
  if (modes.empty()) modes.assign(c.n_layer, ActMode::Keep);
  MART_CHECK(static_cast<int>(modes.size()) == c.n_layer, "executor: ", modes.size(),
             " activation modes for ", c.n_layer, " blocks");
  const uint64_t N = static_cast<uint64_t>(B_) * T_, C = c.d_model;
  const uint64_t nC = arena_round(N * C * asz_), n4 = arena_round(N * 4);
  const uint64_t ns = arena_round(N * ops.stat_size());
  const auto L = executor_layout(spec, ops, B_, T_);

  io_ = arena.alloc(L.io_bytes, "tokens");
  tokens_ = static_cast<int32_t*>(io_.ptr);
  targets_ = static_cast<int32_t*>(at(io_.ptr, n4));
  inputs_ = arena.alloc(L.inputs_bytes, "block_inputs");
  for (int l = 0; l < c.n_layer; ++l) x_in_.push_back(at(inputs_.ptr, nC * l));
  ActivationOptions ao = opt.activations;
  ao.act_dtype = ops.act_dtype();
  acts_ = std::make_unique<ActivationManager>(dev, arena, opt.host, modes, L.body, ao);
  head_ = arena.alloc(L.head_bytes, "head");
  xf_in_ = head_.ptr;
  lnf_ = at(head_.ptr, nC);
  lnf_mean_ = static_cast<float*>(at(head_.ptr, 2 * nC));
  lnf_rstd_ = static_cast<float*>(at(head_.ptr, 2 * nC + ns));
  losses_ = static_cast<float*>(at(head_.ptr, 2 * nC + 2 * ns));
  scratch_ = arena.alloc(L.scratch_bytes, "scratch");
  const uint64_t bs = arena_round(block_scratch_elems(spec, B_, T_) * asz_);
  block_scratch_base_ = scratch_.ptr;
  dres_ = at(scratch_.ptr, bs);
  dlnf_ = at(scratch_.ptr, bs + nC);
  cls_ws_ = at(scratch_.ptr, bs + 2 * nC);
}

Executor::~Executor() {
  for (Region* r : {&scratch_, &head_})
    if (*r) arena_.free(*r);
  acts_.reset();
  for (Region* r : {&inputs_, &io_})
    if (*r) arena_.free(*r);
}

void Executor::upload(const MicroBatch& mb) {
  const size_t N = static_cast<size_t>(B_) * T_;
  MART_CHECK(mb.inputs.size() == N && mb.targets.size() == N, "micro-batch has ", mb.inputs.size(),
             " inputs and ", mb.targets.size(), " targets, expected B*T = ", N);
  for (size_t i = 0; i < N; ++i)
    MART_CHECK(mb.inputs[i] >= 0 && mb.inputs[i] < spec_.cfg.vocab_size &&
                   mb.targets[i] < spec_.cfg.vocab_size,
               "token ", mb.inputs[i], " / target ", mb.targets[i], " at position ", i,
               " is outside the model's vocabulary (", spec_.cfg.vocab_size, ")");
  dev_.memcpy_async(tokens_, mb.inputs.data(), N * 4, CopyKind::HostToDevice, kComputeStream);
  dev_.memcpy_async(targets_, mb.targets.data(), N * 4, CopyKind::HostToDevice, kComputeStream);
}

void Executor::span_begin() {
  if (trace_) trace_->compute_begin();
}

void Executor::span_end(SpanKind kind, int block) {
  if (trace_) trace_->compute_end(kind, block);
}

void Executor::forward_blocks() {
  const auto& c = spec_.cfg;
  states_.acquire(0, Pass::Forward);
  span_begin();
  ops_.embedding_forward(x_in_[0], tokens_, states_.param(spec_.wte),
                         spec_.wpe >= 0 ? states_.param(spec_.wpe) : nullptr, B_, T_, c.d_model);
  span_end(SpanKind::Forward, -1);
  states_.release(0, Pass::Forward);
  BlockScratch s = block_scratch(spec_, B_, T_, asz_, block_scratch_base_);
  for (int l = 0; l < c.n_layer; ++l) {
    states_.acquire(l + 1, Pass::Forward);
    BlockActs a =
        block_acts(spec_, B_, T_, asz_, x_in_[l], acts_->forward_begin(l), ops_.stat_size());
    span_begin();
    block_forward(ops_, spec_, states_, l, a, l + 1 < c.n_layer ? x_in_[l + 1] : xf_in_, s, B_, T_);
    span_end(SpanKind::Forward, l);
    acts_->forward_end(l);
    states_.release(l + 1, Pass::Forward);
  }
}

void Executor::head(float dloss) {
  const auto& c = spec_.cfg;
  const int N = B_ * T_, hg = spec_.head_group();
  const bool tied = spec_.lm_head < 0;
  states_.acquire(hg, dloss != 0 ? Pass::Backward : Pass::Forward);
  if (tied) states_.acquire(0, Pass::Backward);
  span_begin();
  final_norm_forward(ops_, spec_, states_, lnf_, lnf_mean_, lnf_rstd_, xf_in_, N);
  const int hw = spec_.head_weight();
  ops_.classifier_forward_backward(losses_, dloss != 0 ? dlnf_ : nullptr,
                                   dloss != 0 ? states_.grad(hw) : nullptr, lnf_, states_.param(hw),
                                   targets_, N, c.d_model, c.vocab_size, dloss, cls_ws_);
  if (dloss != 0) {
    dev_.memset_async(dres_, 0, static_cast<size_t>(N) * c.d_model * asz_, kComputeStream);
    final_norm_backward(ops_, spec_, states_, dres_, dlnf_, xf_in_, lnf_mean_, lnf_rstd_, N);
  }
  span_end(SpanKind::Head, -1);
  if (tied) states_.release(0, Pass::Backward);
  states_.release(hg, dloss != 0 ? Pass::Backward : Pass::Forward);
}

void Executor::backward_blocks() {
  const auto& c = spec_.cfg;
  BlockScratch s = block_scratch(spec_, B_, T_, asz_, block_scratch_base_);
  acts_->backward_start();
  for (int l = c.n_layer - 1; l >= 0; --l) {
    states_.acquire(l + 1, Pass::Backward);
    bool recompute = false;
    void* body = acts_->backward_begin(l, &recompute);
    BlockActs a = block_acts(spec_, B_, T_, asz_, x_in_[l], body, ops_.stat_size());
    if (recompute) {
      span_begin();
      block_forward(ops_, spec_, states_, l, a, nullptr, s, B_, T_);
      span_end(SpanKind::Recompute, l);
    }
    span_begin();
    block_backward(ops_, spec_, states_, l, a, dres_, s, B_, T_);
    span_end(SpanKind::Backward, l);
    acts_->backward_end(l);
    states_.release(l + 1, Pass::Backward);
  }
  states_.acquire(0, Pass::Backward);
  span_begin();
  ops_.embedding_backward(states_.grad(spec_.wte),
                          spec_.wpe >= 0 ? states_.grad(spec_.wpe) : nullptr, dres_, tokens_, B_,
                          T_, c.d_model);
  span_end(SpanKind::Backward, -1);
  states_.release(0, Pass::Backward);
}

void Executor::copy_losses(std::vector<double>* out) {
  const size_t N = static_cast<size_t>(B_) * T_;
  out->resize(N);
  if (ops_.stat_size() == 8) {  // F64 reference backend
    dev_.memcpy_async(out->data(), losses_, N * 8, CopyKind::DeviceToHost, kComputeStream);
    dev_.synchronize_stream(kComputeStream);
    return;
  }
  std::vector<float> host(N);
  dev_.memcpy_async(host.data(), losses_, N * 4, CopyKind::DeviceToHost, kComputeStream);
  dev_.synchronize_stream(kComputeStream);
  for (size_t i = 0; i < N; ++i) (*out)[i] = host[i];
}

double Executor::sum_losses() {
  const size_t N = static_cast<size_t>(B_) * T_;
  if (ops_.stat_size() == 8) {  // F64 reference backend
    std::vector<double> host(N);
    dev_.memcpy_async(host.data(), losses_, N * 8, CopyKind::DeviceToHost, kComputeStream);
    dev_.synchronize_stream(kComputeStream);
    double s = 0;
    for (double x : host) s += x;
    return s;
  }
  std::vector<float> host(N);
  dev_.memcpy_async(host.data(), losses_, N * 4, CopyKind::DeviceToHost, kComputeStream);
  dev_.synchronize_stream(kComputeStream);
  double s = 0;
  for (float x : host) s += x;
  return s;
}

static uint64_t count_valid(const MicroBatch& mb) {
  uint64_t n = 0;
  for (int32_t t : mb.targets) n += t >= 0;
  return n;
}

StepResult Executor::train_step(const std::vector<MicroBatch>& mbs, const StepHyper& h,
                                StepTimeline* timeline) {
  MART_CHECK(!mbs.empty(), "train_step: no micro-batches");
  std::unique_ptr<StepTrace> trace;
  if (timeline) trace = std::make_unique<StepTrace>(dev_, chunk_manager_of(states_), *acts_);
  trace_ = trace.get();
  struct Untrace {  // an exception leaves no dangling trace_
    StepTrace*& t;
    ~Untrace() { t = nullptr; }
  } untrace{trace_};
  auto t0 = std::chrono::steady_clock::now();
  StepResult r;
  for (auto& mb : mbs) r.tokens += count_valid(mb);
  MART_CHECK(r.tokens > 0, "train_step: every target of the step is ignored (< 0)");
  const float dloss = 1.0f / static_cast<float>(r.tokens);
  states_.zero_grads();
  double loss_sum = 0;
  for (size_t i = 0; i < mbs.size(); ++i) {
    const MicroBatch& mb = mbs[i];
    states_.begin_microbatch(static_cast<int>(i), static_cast<int>(mbs.size()), &h);
    upload(mb);
    forward_blocks();
    head(dloss);
    backward_blocks();
    const double w0 = trace ? trace->host_now() : 0;
    loss_sum += sum_losses();
    if (trace) trace->host_span(SpanKind::Sync, w0, trace->host_now(), "sync: loss read-back");
  }
  span_begin();
  r.grad_norm = states_.step(h);
  span_end(SpanKind::Optimizer, -1);
  const double w1 = trace ? trace->host_now() : 0;
  dev_.synchronize();
  if (trace) trace->host_span(SpanKind::Sync, w1, trace->host_now(), "sync: end of step");
  r.loss = loss_sum / static_cast<double>(r.tokens);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (trace) *timeline = trace->finish(h.step);
  return r;
}

double Executor::forward_backward(const MicroBatch& mb) {
  uint64_t valid = count_valid(mb);
  MART_CHECK(valid > 0, "forward_backward: every target is ignored");
  states_.zero_grads();
  states_.begin_microbatch(0, 1, nullptr);  // gradients only: no update may start
  upload(mb);
  forward_blocks();
  head(1.0f / static_cast<float>(valid));
  backward_blocks();
  double s = sum_losses();
  dev_.synchronize();
  return s / static_cast<double>(valid);
}

double Executor::eval_loss(const MicroBatch& mb) {
  uint64_t valid = count_valid(mb);
  MART_CHECK(valid > 0, "eval_loss: every target is ignored");
  upload(mb);
  forward_blocks();
  head(0.0f);
  return sum_losses() / static_cast<double>(valid);
}

void Executor::eval_token_losses(const MicroBatch& mb, std::vector<double>* losses) {
  upload(mb);
  forward_blocks();
  head(0.0f);
  copy_losses(losses);
}

void Executor::forward_logits(const MicroBatch& mb, std::vector<float>* logits) {
  // Final norm, then the head matmul chunk by chunk into the classifier workspace, so inspecting
  // logits needs no more device memory than training does.
  const auto& c = spec_.cfg;
  const int N = B_ * T_, V = c.vocab_size;
  upload(mb);
  forward_blocks();
  states_.acquire(spec_.head_group(), Pass::Forward);
  if (spec_.lm_head < 0) states_.acquire(0, Pass::Forward);
  final_norm_forward(ops_, spec_, states_, lnf_, lnf_mean_, lnf_rstd_, xf_in_, N);
  const size_t ws_rows = ops_.classifier_workspace_bytes(N, V) / (static_cast<size_t>(V) * asz_);
  MART_CHECK(ws_rows > 0, "classifier workspace too small for one row of logits");
  logits->assign(static_cast<size_t>(N) * V, 0.0f);
  std::vector<uint16_t> bf;
  for (int r0 = 0; r0 < N; r0 += static_cast<int>(ws_rows)) {
    int rows = std::min<int>(static_cast<int>(ws_rows), N - r0);
    ops_.matmul_forward(cls_ws_, nullptr, at(lnf_, static_cast<uint64_t>(r0) * c.d_model * asz_),
                        states_.param(spec_.head_weight()), nullptr, rows, c.d_model, V);
    const size_t n = static_cast<size_t>(rows) * V;
    float* dst = logits->data() + static_cast<size_t>(r0) * V;
    if (asz_ == 4) {
      dev_.memcpy_async(dst, cls_ws_, n * 4, CopyKind::DeviceToHost, kComputeStream);
      dev_.synchronize_stream(kComputeStream);
    } else {
      bf.resize(n);
      dev_.memcpy_async(bf.data(), cls_ws_, n * 2, CopyKind::DeviceToHost, kComputeStream);
      dev_.synchronize_stream(kComputeStream);
      for (size_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(bf[i]);
    }
  }
  if (spec_.lm_head < 0) states_.release(0, Pass::Forward);
  states_.release(spec_.head_group(), Pass::Forward);
}

}  // namespace mart
