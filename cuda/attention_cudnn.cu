// Causal GQA attention through cuDNN 9's graph (backend) API -- flash attention forward with the
// softmax statistics, and its backward -- plus the dispatch between cuDNN and MART's own kernels
// (attention_fallback.cu).
//
// The graphs are the ones cuDNN's fused-attention engines recognise (the op sequence
// cudnn-frontend emits for its SDPA nodes on cuDNN 9.x before the single-op SDPA descriptors;
// the 9.19 single-op descriptors cannot express a causal mask yet):
//   forward:  S = Q KT; S *= scale; causal mask (gen_index row/col, row >= col, select -max);
//             softmax as max / sub / exp / sum / div, Stats = max + log(sum);  O = P V
//   backward: softmax_sum = rowsum(dO * O); recompute P = exp(scale Q KT - Stats) (masked);
//             dV = PT dO; dP = dO VT; dS = (dP - softmax_sum) * P * scale; dK = dST Q; dQ = dS K
//             GQA: dK/dV first per query head, then summed over each group (reduction op).
// cuDNN's Stats is the natural-log logsumexp of the scaled, masked scores per query row, laid out
// [B,NH,T,1]: exactly our lse[B,NH,T].
//
// No copies: Q, K, V are strided views into qkv [B,T,(NH+2NKV)*HS] (dims [B,H,T,HS], strides
// [T*W, HS, W, 1]), O/dO views into [B,T,NH*HS], dQ/dK/dV views into dqkv.
//
// A plan is built the first time a shape is seen (graph -> heuristics -> the first engine config
// that finalises), its workspace size recorded, and cached. If cuDNN rejects the shape at any step,
// or the plan fails at its first execution, or cudnn_policy.h refuses this cuDNN version for it,
// the shape is remembered as rejected and MART's kernels run it (reason printed once). Pointers
// that are not 16-byte aligned also take MART's kernels (said once per direction).
#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "common/error.h"
#include "cuda/cuda_ops_impl.cuh"
#include "cuda/cudnn_policy.h"

namespace mart::cuda {

namespace {

// Thrown while building a plan when cuDNN says no; turned into "use the fallback".
struct PlanRejected : Error {
  using Error::Error;
};

void dnn_try(cudnnStatus_t st, const char* what) {
  if (st != CUDNN_STATUS_SUCCESS)
    throw PlanRejected(str(what, ": ", cudnnGetErrorString(st), cuda_detail::cudnn_last_error()));
}

// Owns one backend descriptor.
class Desc {
 public:
  explicit Desc(cudnnBackendDescriptorType_t t) {
    dnn_try(cudnnBackendCreateDescriptor(t, &d_), "cudnnBackendCreateDescriptor");
  }
  ~Desc() {
    if (d_) cudnnBackendDestroyDescriptor(d_);
  }
  Desc(const Desc&) = delete;
  Desc& operator=(const Desc&) = delete;
  cudnnBackendDescriptor_t get() const { return d_; }

  void set(cudnnBackendAttributeName_t a, cudnnBackendAttributeType_t t, int64_t n, const void* v) {
    dnn_try(cudnnBackendSetAttribute(d_, a, t, n, v), "cudnnBackendSetAttribute");
  }
  void set_i64(cudnnBackendAttributeName_t a, int64_t v) { set(a, CUDNN_TYPE_INT64, 1, &v); }
  void set_i64s(cudnnBackendAttributeName_t a, const std::vector<int64_t>& v) {
    set(a, CUDNN_TYPE_INT64, int64_t(v.size()), v.data());
  }
  void set_dtype(cudnnBackendAttributeName_t a, cudnnDataType_t v) {
    set(a, CUDNN_TYPE_DATA_TYPE, 1, &v);
  }
  void set_bool(cudnnBackendAttributeName_t a, bool v) { set(a, CUDNN_TYPE_BOOLEAN, 1, &v); }
  void set_desc(cudnnBackendAttributeName_t a, const Desc& v) {
    cudnnBackendDescriptor_t d = v.get();
    set(a, CUDNN_TYPE_BACKEND_DESCRIPTOR, 1, &d);
  }
  void finalize(const char* what) { dnn_try(cudnnBackendFinalize(d_), what); }

 private:
  cudnnBackendDescriptor_t d_ = nullptr;
};
using DescP = std::shared_ptr<Desc>;
using Dims = std::vector<int64_t>;

// Fixed ids of the tensors the caller binds at execution time.
enum Uid : int64_t {
  kQ = 1,
  kK,
  kV,
  kO,
  kStats,
  kScale,
  kNegInf,
  kOne,
  kDO,
  kDQ,
  kDK,
  kDV,
  kSoftmaxSum,
  kDqAccum
};

// Builds one operation graph node by node (in topological order) and turns it into a plan.
class GraphBuilder {
 public:
  explicit GraphBuilder(cudnnHandle_t h) : h_(h) {}

  DescP tensor(int64_t uid, const Dims& dims, const Dims& strides, cudnnDataType_t dt,
               bool is_virtual = false, bool by_value = false) {
    auto t = std::make_shared<Desc>(CUDNN_BACKEND_TENSOR_DESCRIPTOR);
    t->set_dtype(CUDNN_ATTR_TENSOR_DATA_TYPE, dt);
    t->set_i64s(CUDNN_ATTR_TENSOR_DIMENSIONS, dims);
    t->set_i64s(CUDNN_ATTR_TENSOR_STRIDES, strides);
    t->set_i64(CUDNN_ATTR_TENSOR_UNIQUE_ID, uid);
    t->set_i64(CUDNN_ATTR_TENSOR_BYTE_ALIGNMENT, 16);
    if (is_virtual) t->set_bool(CUDNN_ATTR_TENSOR_IS_VIRTUAL, true);
    if (by_value) t->set_bool(CUDNN_ATTR_TENSOR_IS_BY_VALUE, true);
    t->finalize("tensor descriptor");
    keep_.push_back(t);
    return t;
  }
  DescP scalar(int64_t uid) {
    return tensor(uid, {1, 1, 1, 1}, {1, 1, 1, 1}, CUDNN_DATA_FLOAT, false, true);
  }
  DescP virt(const Dims& dims, const Dims& strides, cudnnDataType_t dt = CUDNN_DATA_FLOAT) {
    return tensor(next_uid_++, dims, strides, dt, true);
  }

  // y = mode(x[, b][, t]); t is BINARY_SELECT's mask; axis for GEN_INDEX.
  void pointwise(cudnnPointwiseMode_t mode, cudnnDataType_t prec, const DescP& x, const DescP& b,
                 const DescP& y, const DescP& t = nullptr, int64_t axis = -1) {
    auto pw = std::make_shared<Desc>(CUDNN_BACKEND_POINTWISE_DESCRIPTOR);
    pw->set(CUDNN_ATTR_POINTWISE_MODE, CUDNN_TYPE_POINTWISE_MODE, 1, &mode);
    pw->set_dtype(CUDNN_ATTR_POINTWISE_MATH_PREC, prec);
    if (axis >= 0) pw->set_i64(CUDNN_ATTR_POINTWISE_AXIS, axis);
    pw->finalize("pointwise descriptor");
    auto op = std::make_shared<Desc>(CUDNN_BACKEND_OPERATION_POINTWISE_DESCRIPTOR);
    op->set_desc(CUDNN_ATTR_OPERATION_POINTWISE_PW_DESCRIPTOR, *pw);
    op->set_desc(CUDNN_ATTR_OPERATION_POINTWISE_XDESC, *x);
    if (b) op->set_desc(CUDNN_ATTR_OPERATION_POINTWISE_BDESC, *b);
    if (t) op->set_desc(CUDNN_ATTR_OPERATION_POINTWISE_TDESC, *t);
    op->set_desc(CUDNN_ATTR_OPERATION_POINTWISE_YDESC, *y);
    op->finalize("pointwise operation");
    keep_.push_back(pw);
    ops_.push_back(op);
  }
  void reduction(cudnnReduceTensorOp_t red, const DescP& x, const DescP& y) {
    auto rd = std::make_shared<Desc>(CUDNN_BACKEND_REDUCTION_DESCRIPTOR);
    rd->set(CUDNN_ATTR_REDUCTION_OPERATOR, CUDNN_TYPE_REDUCTION_OPERATOR_TYPE, 1, &red);
    rd->set_dtype(CUDNN_ATTR_REDUCTION_COMP_TYPE, CUDNN_DATA_FLOAT);
    rd->finalize("reduction descriptor");
    auto op = std::make_shared<Desc>(CUDNN_BACKEND_OPERATION_REDUCTION_DESCRIPTOR);
    op->set_desc(CUDNN_ATTR_OPERATION_REDUCTION_XDESC, *x);
    op->set_desc(CUDNN_ATTR_OPERATION_REDUCTION_YDESC, *y);
    op->set_desc(CUDNN_ATTR_OPERATION_REDUCTION_DESC, *rd);
    op->finalize("reduction operation");
    keep_.push_back(rd);
    ops_.push_back(op);
  }
  void matmul(const DescP& a, const DescP& b, const DescP& c) {
    auto mm = std::make_shared<Desc>(CUDNN_BACKEND_MATMUL_DESCRIPTOR);
    mm->set_dtype(CUDNN_ATTR_MATMUL_COMP_TYPE, CUDNN_DATA_FLOAT);
    mm->finalize("matmul descriptor");
    auto op = std::make_shared<Desc>(CUDNN_BACKEND_OPERATION_MATMUL_DESCRIPTOR);
    op->set_desc(CUDNN_ATTR_OPERATION_MATMUL_ADESC, *a);
    op->set_desc(CUDNN_ATTR_OPERATION_MATMUL_BDESC, *b);
    op->set_desc(CUDNN_ATTR_OPERATION_MATMUL_CDESC, *c);
    op->set_desc(CUDNN_ATTR_OPERATION_MATMUL_DESC, *mm);
    op->finalize("matmul operation");
    keep_.push_back(mm);
    ops_.push_back(op);
  }
  void reshape(const DescP& x, const DescP& y) {
    auto op = std::make_shared<Desc>(CUDNN_BACKEND_OPERATION_RESHAPE_DESCRIPTOR);
    op->set_desc(CUDNN_ATTR_OPERATION_RESHAPE_XDESC, *x);
    op->set_desc(CUDNN_ATTR_OPERATION_RESHAPE_YDESC, *y);
    op->finalize("reshape operation");
    ops_.push_back(op);
  }

  // The causal mask: y = (row >= col) ? s : -FLT_MAX (by-value neg tensor).
  DescP causal_mask(const DescP& s, const DescP& neg, const Dims& dims, const Dims& strides) {
    auto row = virt(dims, strides, CUDNN_DATA_INT32);
    auto col = virt(dims, strides, CUDNN_DATA_INT32);
    auto mask = virt(dims, strides, CUDNN_DATA_BOOLEAN);
    auto out = virt(dims, strides);
    pointwise(CUDNN_POINTWISE_GEN_INDEX, CUDNN_DATA_INT32, s, nullptr, row, nullptr, 2);
    pointwise(CUDNN_POINTWISE_GEN_INDEX, CUDNN_DATA_INT32, s, nullptr, col, nullptr, 3);
    pointwise(CUDNN_POINTWISE_CMP_GE, CUDNN_DATA_BOOLEAN, row, col, mask);
    pointwise(CUDNN_POINTWISE_BINARY_SELECT, CUDNN_DATA_FLOAT, s, neg, out, mask);
    return out;
  }

  // Operation graph -> heuristics (mode A, then fallback) -> first config whose plan finalises.
  void build(DescP& plan, int64_t& workspace) {
    std::vector<cudnnBackendDescriptor_t> raw;
    for (auto& op : ops_) raw.push_back(op->get());
    auto graph = std::make_shared<Desc>(CUDNN_BACKEND_OPERATIONGRAPH_DESCRIPTOR);
    graph->set(CUDNN_ATTR_OPERATIONGRAPH_HANDLE, CUDNN_TYPE_HANDLE, 1, &h_);
    graph->set(CUDNN_ATTR_OPERATIONGRAPH_OPS, CUDNN_TYPE_BACKEND_DESCRIPTOR, int64_t(raw.size()),
               raw.data());
    graph->finalize("operation graph");
    keep_.push_back(graph);
    keep_.insert(keep_.end(), ops_.begin(), ops_.end());  // the graph refers to them
    std::string why = "no engine configuration";
    for (cudnnBackendHeurMode_t mode : {CUDNN_HEUR_MODE_A, CUDNN_HEUR_MODE_FALLBACK}) {
      try {
        Desc heur(CUDNN_BACKEND_ENGINEHEUR_DESCRIPTOR);
        heur.set_desc(CUDNN_ATTR_ENGINEHEUR_OPERATION_GRAPH, *graph);
        heur.set(CUDNN_ATTR_ENGINEHEUR_MODE, CUDNN_TYPE_HEUR_MODE, 1, &mode);
        heur.finalize("engine heuristics");
        int64_t count = 0;
        dnn_try(cudnnBackendGetAttribute(heur.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS,
                                         CUDNN_TYPE_BACKEND_DESCRIPTOR, 0, &count, nullptr),
                "heuristics result count");
        std::vector<DescP> cfgs;
        std::vector<cudnnBackendDescriptor_t> raw_cfgs;
        for (int64_t i = 0; i < count; i++) {
          cfgs.push_back(std::make_shared<Desc>(CUDNN_BACKEND_ENGINECFG_DESCRIPTOR));
          raw_cfgs.push_back(cfgs.back()->get());
        }
        int64_t got = 0;
        if (count > 0)
          dnn_try(
              cudnnBackendGetAttribute(heur.get(), CUDNN_ATTR_ENGINEHEUR_RESULTS,
                                       CUDNN_TYPE_BACKEND_DESCRIPTOR, count, &got, raw_cfgs.data()),
              "heuristics results");
        for (int64_t i = 0; i < got; i++) {
          auto p = std::make_shared<Desc>(CUDNN_BACKEND_EXECUTION_PLAN_DESCRIPTOR);
          p->set(CUDNN_ATTR_EXECUTION_PLAN_HANDLE, CUDNN_TYPE_HANDLE, 1, &h_);
          p->set_desc(CUDNN_ATTR_EXECUTION_PLAN_ENGINE_CONFIG, *cfgs[i]);
          const cudnnStatus_t st = cudnnBackendFinalize(p->get());
          if (st != CUDNN_STATUS_SUCCESS) {
            why = str("plan finalize: ", cudnnGetErrorString(st), cuda_detail::cudnn_last_error());
            continue;
          }
          int64_t n = 0, ws = 0;
          dnn_try(cudnnBackendGetAttribute(p->get(), CUDNN_ATTR_EXECUTION_PLAN_WORKSPACE_SIZE,
                                           CUDNN_TYPE_INT64, 1, &n, &ws),
                  "plan workspace size");
          keep_.insert(keep_.end(), cfgs.begin(), cfgs.end());
          plan = p;
          workspace = ws;
          return;
        }
      } catch (const PlanRejected& e) {
        why = e.what();
      }
    }
    throw PlanRejected(why);
  }

  std::vector<DescP> keep_;  // every descriptor the plan was made from, alive as long as it is

 private:
  cudnnHandle_t h_;
  int64_t next_uid_ = 1000;  // virtual tensors
  std::vector<DescP> ops_;
};

}  // namespace

struct SdpaPlan {
  bool ok = false;
  bool executed = false;  // has run once successfully (a first-execution failure -> !ok)
  std::string reason;     // why cuDNN rejected the shape (when !ok)
  DescP plan;
  int64_t cudnn_ws = 0;  // bytes cuDNN asked for
  size_t sum_off = 0;    // backward: softmax_sum [B,NH,T] fp32, offset in the workspace
  size_t dq_off = 0;     // backward: dQ accumulator [B,NH,T,HS] fp32 (0 = deterministic path)
  size_t dq_bytes = 0;
  size_t total_ws = 0;
  std::vector<DescP> keep;
};

struct SdpaPlans {
  std::map<std::tuple<bool, int, int, int, int, int, bool>, SdpaPlan> plans;
  bool said_unaligned[2] = {false, false};  // [backward]: the unaligned-pointer note was printed
};
void SdpaPlansDeleter::operator()(SdpaPlans* p) const {
  delete p;
}

namespace {

struct Views {  // dims/strides of the caller's tensors as cuDNN sees them
  Dims q_d, q_s, kt_d, kt_s, k_d, k_s, o_d, o_s, s_d, s_s, st_t_s, r_d, r_s;
};

Views make_views(int B, int T, int NH, int NKV, int HS) {
  const int64_t W = int64_t(NH + 2 * NKV) * HS, b = B, t = T, h = NH, g = NKV, d = HS;
  Views v;
  v.q_d = {b, h, t, d};
  v.q_s = {t * W, d, W, 1};
  v.kt_d = {b, g, d, t};  // K transposed: the second matmul operand of Q KT
  v.kt_s = {t * W, d, 1, W};
  v.k_d = {b, g, t, d};
  v.k_s = {t * W, d, W, 1};
  v.o_d = {b, h, t, d};
  v.o_s = {t * h * d, d, h * d, 1};
  v.s_d = {b, h, t, t};  // scores
  v.s_s = {h * t * t, t * t, t, 1};
  v.st_t_s = {h * t * t, t * t, 1, t};  // scores transposed (for PT dO and dST Q)
  v.r_d = {b, h, t, 1};                 // per-row statistics: Stats, max, sum
  v.r_s = {h * t, t, 1, 1};
  return v;
}

void build_forward(GraphBuilder& g, const Views& v) {
  auto Q = g.tensor(kQ, v.q_d, v.q_s, CUDNN_DATA_BFLOAT16);
  auto KT = g.tensor(kK, v.kt_d, v.kt_s, CUDNN_DATA_BFLOAT16);
  auto V = g.tensor(kV, v.k_d, v.k_s, CUDNN_DATA_BFLOAT16);
  auto O = g.tensor(kO, v.o_d, v.o_s, CUDNN_DATA_BFLOAT16);
  auto Stats = g.tensor(kStats, v.r_d, v.r_s, CUDNN_DATA_FLOAT);
  auto scale = g.scalar(kScale);
  auto neg = g.scalar(kNegInf);

  auto s1 = g.virt(v.s_d, v.s_s);
  g.matmul(Q, KT, s1);
  auto s2 = g.virt(v.s_d, v.s_s);
  g.pointwise(CUDNN_POINTWISE_MUL, CUDNN_DATA_FLOAT, s1, scale, s2);
  auto s3 = g.causal_mask(s2, neg, v.s_d, v.s_s);
  auto mx = g.virt(v.r_d, v.r_s);
  g.reduction(CUDNN_REDUCE_TENSOR_MAX, s3, mx);
  auto s4 = g.virt(v.s_d, v.s_s);
  g.pointwise(CUDNN_POINTWISE_SUB, CUDNN_DATA_FLOAT, s3, mx, s4);
  auto e = g.virt(v.s_d, v.s_s);
  g.pointwise(CUDNN_POINTWISE_EXP, CUDNN_DATA_FLOAT, s4, nullptr, e);
  auto sum = g.virt(v.r_d, v.r_s);
  g.reduction(CUDNN_REDUCE_TENSOR_ADD, e, sum);
  auto lg = g.virt(v.r_d, v.r_s);
  g.pointwise(CUDNN_POINTWISE_LOG, CUDNN_DATA_FLOAT, sum, nullptr, lg);
  g.pointwise(CUDNN_POINTWISE_ADD, CUDNN_DATA_FLOAT, mx, lg, Stats);
  auto P = g.virt(v.s_d, v.s_s, CUDNN_DATA_BFLOAT16);  // the second matmul takes io-typed P
  g.pointwise(CUDNN_POINTWISE_DIV, CUDNN_DATA_FLOAT, e, sum, P);
  g.matmul(P, V, O);
}

void build_backward(GraphBuilder& g, const Views& v, int NH, int NKV, bool deterministic) {
  auto Q = g.tensor(kQ, v.q_d, v.q_s, CUDNN_DATA_BFLOAT16);
  auto KT = g.tensor(kK, v.kt_d, v.kt_s, CUDNN_DATA_BFLOAT16);
  auto VT = g.tensor(kV, v.kt_d, v.kt_s, CUDNN_DATA_BFLOAT16);
  auto O = g.tensor(kO, v.o_d, v.o_s, CUDNN_DATA_BFLOAT16);
  auto dO = g.tensor(kDO, v.o_d, v.o_s, CUDNN_DATA_BFLOAT16);
  auto Stats = g.tensor(kStats, v.r_d, v.r_s, CUDNN_DATA_FLOAT);
  auto dQ = g.tensor(kDQ, v.q_d, v.q_s, CUDNN_DATA_BFLOAT16);
  auto dK = g.tensor(kDK, v.k_d, v.k_s, CUDNN_DATA_BFLOAT16);
  auto dV = g.tensor(kDV, v.k_d, v.k_s, CUDNN_DATA_BFLOAT16);
  auto scale = g.scalar(kScale);
  auto one = g.scalar(kOne);
  auto neg = g.scalar(kNegInf);
  const Dims full_d = v.q_d;  // [B,NH,T,HS], packed
  const Dims full_s = {v.q_d[1] * v.q_d[2] * v.q_d[3], v.q_d[2] * v.q_d[3], v.q_d[3], 1};

  // softmax_sum = rowsum(dO * O), kept in the workspace.
  auto doo = g.virt(full_d, full_s);
  g.pointwise(CUDNN_POINTWISE_MUL, CUDNN_DATA_FLOAT, dO, O, doo);
  auto dsum = g.virt(v.r_d, v.r_s);
  g.reduction(CUDNN_REDUCE_TENSOR_ADD, doo, dsum);
  auto softmax_sum = g.tensor(kSoftmaxSum, v.r_d, v.r_s, CUDNN_DATA_FLOAT);
  g.pointwise(CUDNN_POINTWISE_MUL, CUDNN_DATA_FLOAT, dsum, one, softmax_sum);

  // P recomputed from the saved Stats.
  auto s1 = g.virt(v.s_d, v.s_s);
  g.matmul(Q, KT, s1);
  auto s2 = g.virt(v.s_d, v.s_s);
  g.pointwise(CUDNN_POINTWISE_MUL, CUDNN_DATA_FLOAT, s1, scale, s2);
  auto s3 = g.causal_mask(s2, neg, v.s_d, v.s_s);
  auto s4 = g.virt(v.s_d, v.s_s);
  g.pointwise(CUDNN_POINTWISE_SUB, CUDNN_DATA_FLOAT, s3, Stats, s4);
  auto P = g.virt(v.s_d, v.s_s);
  g.pointwise(CUDNN_POINTWISE_EXP, CUDNN_DATA_FLOAT, s4, nullptr, P);

  // dV = PT dO (per query head, then summed over the group for GQA).
  auto PT = g.virt(v.s_d, v.st_t_s, CUDNN_DATA_BFLOAT16);
  g.reshape(P, PT);
  if (NH == NKV) {
    g.matmul(PT, dO, dV);
  } else {
    auto dv_full = g.virt(full_d, full_s, CUDNN_DATA_BFLOAT16);
    g.matmul(PT, dO, dv_full);
    g.reduction(CUDNN_REDUCE_TENSOR_ADD, dv_full, dV);
  }

  // dS = (dO VT - softmax_sum) * P * scale.
  auto dP = g.virt(v.s_d, v.s_s);
  g.matmul(dO, VT, dP);
  auto ds1 = g.virt(v.s_d, v.s_s);
  g.pointwise(CUDNN_POINTWISE_SUB, CUDNN_DATA_FLOAT, dP, softmax_sum, ds1);
  auto ds2 = g.virt(v.s_d, v.s_s);
  g.pointwise(CUDNN_POINTWISE_MUL, CUDNN_DATA_FLOAT, ds1, P, ds2);
  auto dS = g.virt(v.s_d, v.s_s);
  g.pointwise(CUDNN_POINTWISE_MUL, CUDNN_DATA_FLOAT, ds2, scale, dS);

  // dK = dST Q.
  auto dST = g.virt(v.s_d, v.st_t_s, CUDNN_DATA_BFLOAT16);
  g.reshape(dS, dST);
  if (NH == NKV) {
    g.matmul(dST, Q, dK);
  } else {
    auto dk_full = g.virt(full_d, full_s, CUDNN_DATA_BFLOAT16);
    g.matmul(dST, Q, dk_full);
    g.reduction(CUDNN_REDUCE_TENSOR_ADD, dk_full, dK);
  }

  // dQ = dS K: through an fp32 accumulator in the workspace (fast, atomics), or directly
  // (cuDNN's deterministic dP-workspace path).
  auto K = g.virt(v.k_d, v.k_s);
  g.reshape(KT, K);
  if (deterministic) {
    g.matmul(dS, K, dQ);
  } else {
    auto acc = g.tensor(kDqAccum, full_d, full_s, CUDNN_DATA_FLOAT);
    g.matmul(dS, K, acc);
    g.pointwise(CUDNN_POINTWISE_IDENTITY, CUDNN_DATA_FLOAT, acc, nullptr, dQ);
  }
}

void say_rejected(bool backward, int B, int T, int NH, int NKV, int HS, const std::string& why) {
  std::fprintf(stderr,
               "MART: cuDNN attention %s rejected B=%d T=%d NH=%d NKV=%d HS=%d (%s); using MART's "
               "own attention kernels for this shape\n",
               backward ? "backward" : "forward", B, T, NH, NKV, HS, why.c_str());
}

// Executes `p` with the given uid -> pointer bindings. Returns false (and marks the plan rejected,
// saying why) when cuDNN refuses its very first execution: a plan can finalise and still have no
// kernel that launches for this shape, and then MART's kernels must run it instead. A failure of a
// plan that has run before is a real error and throws.
bool execute(cudnnHandle_t h, SdpaPlan& p, const std::vector<int64_t>& uids,
             const std::vector<void*>& ptrs, void* workspace, bool backward, int B, int T, int NH,
             int NKV, int HS) {
  Desc vp(CUDNN_BACKEND_VARIANT_PACK_DESCRIPTOR);
  vp.set(CUDNN_ATTR_VARIANT_PACK_UNIQUE_IDS, CUDNN_TYPE_INT64, int64_t(uids.size()), uids.data());
  vp.set(CUDNN_ATTR_VARIANT_PACK_DATA_POINTERS, CUDNN_TYPE_VOID_PTR, int64_t(ptrs.size()),
         ptrs.data());
  vp.set(CUDNN_ATTR_VARIANT_PACK_WORKSPACE, CUDNN_TYPE_VOID_PTR, 1, &workspace);
  vp.finalize("variant pack");
  const cudnnStatus_t st = cudnnBackendExecute(h, p.plan->get(), vp.get());
  if (st == CUDNN_STATUS_SUCCESS) {
    p.executed = true;
    return true;
  }
  if (p.executed) MART_CUDNN_CHECK(st);  // throws: worked before, so not a shape limitation
  p.ok = false;
  p.reason =
      str("first execution failed: ", cudnnGetErrorString(st), cuda_detail::cudnn_last_error());
  say_rejected(backward, B, T, NH, NKV, HS, p.reason);
  return false;
}

}  // namespace

// Returns the plan for this shape, building it on first sight; nullptr when cuDNN rejects it.
static SdpaPlan* sdpa_plan(cudnnHandle_t h, std::unique_ptr<SdpaPlans, SdpaPlansDeleter>& cache,
                           bool backward, int B, int T, int NH, int NKV, int HS,
                           bool deterministic) {
  if (!cache) cache.reset(new SdpaPlans);
  const auto key = std::make_tuple(backward, B, T, NH, NKV, HS, deterministic && backward);
  auto it = cache->plans.find(key);
  if (it != cache->plans.end()) return it->second.ok ? &it->second : nullptr;
  SdpaPlan& p = cache->plans[key];
  try {
    const std::string refusal = cudnn_sdpa_refusal(cudnnGetVersion(), backward, T, HS);
    if (!refusal.empty()) throw PlanRejected(refusal);
    GraphBuilder g(h);
    const Views v = make_views(B, T, NH, NKV, HS);
    if (backward)
      build_backward(g, v, NH, NKV, deterministic);
    else
      build_forward(g, v);
    g.build(p.plan, p.cudnn_ws);
    p.keep = std::move(g.keep_);
    ScratchLayout lay;
    lay.reserve(size_t(p.cudnn_ws));
    if (backward) {
      p.sum_off = lay.reserve(size_t(B) * NH * T * sizeof(float));
      if (!deterministic) {
        p.dq_bytes = size_t(B) * NH * T * HS * sizeof(float);
        p.dq_off = lay.reserve(p.dq_bytes);
      }
    }
    p.total_ws = lay.total();
    p.ok = true;
    return &p;
  } catch (const PlanRejected& e) {
    p.ok = false;
    p.reason = e.what();
    say_rejected(backward, B, T, NH, NKV, HS, p.reason);
    return nullptr;
  }
}

namespace {
void check_attention_shape(const char* op, int B, int T, int NH, int NKV, int HS) {
  MART_CHECK(B >= 0 && T >= 0 && NH > 0 && NKV > 0 && HS > 0, op, ": bad shape B=", B, " T=", T,
             " NH=", NH, " NKV=", NKV, " HS=", HS);
  MART_CHECK(NH % NKV == 0, op, ": NH=", NH, " must be a multiple of NKV=", NKV,
             " (grouped-query attention)");
}

// True when cuDNN may be tried at all; says once per direction (per CudaOps) when the pointers'
// alignment keeps attention off cuDNN: the fallback kernels are slower, and an unaligned
// activation buffer is usually a layout bug upstream, so the user should hear of it.
bool cudnn_usable(std::unique_ptr<SdpaPlans, SdpaPlansDeleter>& cache, bool backward,
                  bool aligned) {
  if (aligned) return true;
  if (!cache) cache.reset(new SdpaPlans);
  if (!cache->said_unaligned[backward]) {
    cache->said_unaligned[backward] = true;
    std::fprintf(stderr,
                 "MART: cuDNN attention %s skipped: a pointer is not 16-byte aligned (the "
                 "tensors are declared 16-byte aligned to cuDNN); using MART's own attention "
                 "kernels, which are slower\n",
                 backward ? "backward" : "forward");
  }
  return false;
}
}  // namespace

std::string CudaOps::attention_status(bool backward, int B, int T, int NH, int NKV, int HS) {
  if (attention_mode_ == 2) return "MART_ATTENTION=fallback";
  if (!dnn_) return dnn_error_;
  if (sdpa_plan(dnn_, sdpa_, backward, B, T, NH, NKV, HS, backward && cudnn_deterministic_))
    return "";
  const auto key = std::make_tuple(backward, B, T, NH, NKV, HS, backward && cudnn_deterministic_);
  return sdpa_->plans.at(key).reason;
}

void CudaOps::attention_forward(void* out, float* lse, const void* qkv, int B, int T, int NH,
                                int NKV, int HS) {
  check_attention_shape("attention_forward", B, T, NH, NKV, HS);
  if (B == 0 || T == 0) return;
  auto* o = static_cast<bf16*>(out);
  auto* x = static_cast<const bf16*>(qkv);
  if (attention_mode_ != 2 && dnn_ && cudnn_usable(sdpa_, false, all_aligned16(o, x, lse))) {
    if (SdpaPlan* p = sdpa_plan(dnn_, sdpa_, false, B, T, NH, NKV, HS, false)) {
      void* ws = scratch(std::max<size_t>(p->total_ws, 256));
      float scale = 1.0f / sqrtf(float(HS)), neg = -3.4028234663852886e38f;
      const std::vector<int64_t> uids{kQ, kK, kV, kO, kStats, kScale, kNegInf};
      const std::vector<void*> ptrs{const_cast<bf16*>(x),
                                    const_cast<bf16*>(x + size_t(NH) * HS),
                                    const_cast<bf16*>(x + size_t(NH + NKV) * HS),
                                    o,
                                    lse,
                                    &scale,
                                    &neg};
      if (execute(dnn_, *p, uids, ptrs, ws, false, B, T, NH, NKV, HS)) return;
    }
  }
  MART_CHECK(attention_mode_ != 1,
             "MART_ATTENTION=cudnn but cuDNN cannot run attention_forward B=", B, " T=", T,
             " NH=", NH, " NKV=", NKV, " HS=", HS,
             dnn_ ? " (shape rejected or pointers not 16-byte aligned)" : dnn_error_.c_str());
  attention_forward_fallback(o, lse, x, B, T, NH, NKV, HS);
}

void CudaOps::attention_backward(void* dqkv, const void* dout, const void* qkv, const void* out,
                                 const float* lse, int B, int T, int NH, int NKV, int HS) {
  check_attention_shape("attention_backward", B, T, NH, NKV, HS);
  if (B == 0 || T == 0) return;
  auto* dx = static_cast<bf16*>(dqkv);
  auto* d = static_cast<const bf16*>(dout);
  auto* x = static_cast<const bf16*>(qkv);
  auto* o = static_cast<const bf16*>(out);
  if (attention_mode_ != 2 && dnn_ && cudnn_usable(sdpa_, true, all_aligned16(dx, d, x, o, lse))) {
    if (SdpaPlan* p = sdpa_plan(dnn_, sdpa_, true, B, T, NH, NKV, HS, cudnn_deterministic_)) {
      char* ws = static_cast<char*>(scratch(p->total_ws));
      if (p->dq_bytes)  // cuDNN >= 9.6 initialises it itself; zeroing is cheap insurance
        MART_CUDA_CHECK(cudaMemsetAsync(ws + p->dq_off, 0, p->dq_bytes, stream_));
      float scale = 1.0f / sqrtf(float(HS)), neg = -3.4028234663852886e38f, one = 1.0f;
      std::vector<int64_t> uids{kQ,  kK,  kV,     kO,   kDO,     kStats,     kDQ,
                                kDK, kDV, kScale, kOne, kNegInf, kSoftmaxSum};
      std::vector<void*> ptrs{const_cast<bf16*>(x),
                              const_cast<bf16*>(x + size_t(NH) * HS),
                              const_cast<bf16*>(x + size_t(NH + NKV) * HS),
                              const_cast<bf16*>(o),
                              const_cast<bf16*>(d),
                              const_cast<float*>(lse),
                              dx,
                              dx + size_t(NH) * HS,
                              dx + size_t(NH + NKV) * HS,
                              &scale,
                              &one,
                              &neg,
                              ws + p->sum_off};
      if (p->dq_bytes) {
        uids.push_back(kDqAccum);
        ptrs.push_back(ws + p->dq_off);
      }
      if (execute(dnn_, *p, uids, ptrs, ws, true, B, T, NH, NKV, HS)) return;
    }
  }
  MART_CHECK(attention_mode_ != 1,
             "MART_ATTENTION=cudnn but cuDNN cannot run attention_backward B=", B, " T=", T,
             " NH=", NH, " NKV=", NKV, " HS=", HS,
             dnn_ ? " (shape rejected or pointers not 16-byte aligned)" : dnn_error_.c_str());
  attention_backward_fallback(dx, d, x, o, lse, B, T, NH, NKV, HS);
}

}  // namespace mart::cuda
