/* mart.h: MART's C API (C11 and C++), the one public header of libmart.
 *
 * MART trains language models that do not fit in device memory: it plans which model-state
 * chunks stay on the device and which live in pinned host memory (updated there by a SIMD CPU
 * AdamW), and per transformer block whether activations are kept, recomputed, swapped or
 * compressed. This header lets a C, C++ or Python (ctypes) program drive it from its own loop.
 *
 * Conventions (every function follows them; exceptions are stated where they occur)
 * - Every name starts with mart_ / MART_. Handles are opaque pointers to incomplete structs.
 * - Functions return mart_status. MART_OK is 0. On failure, mart_last_error() gives the full
 *   message (what went wrong, where, and the fix), and output arguments are left untouched.
 * - Parameter structs come from mart_*_default_params() and are passed by value; set the fields
 *   you need and leave the rest. Fields added in later minor versions go at the end.
 * - Strings passed in are UTF-8 and NUL-terminated; MART copies what it keeps.
 * - Strings handed out as `char**` are allocated by MART and owned by the caller, who frees them
 *   with mart_string_free(). `const char*` results are owned by MART; their lifetime is stated.
 * - No C++ exception and no C++ type crosses this boundary: every failure becomes a status.
 * - A NULL or destroyed handle gives MART_ERR_INVALID_HANDLE, never a crash (libmart keeps a
 *   registry of live handles; a destroyed handle whose address was reused by a new handle of the
 *   same kind cannot be told apart from it, as with any pointer).
 *
 * Threads
 * - mart_version*, mart_status_string, mart_last_error, mart_string_free, mart_host_alloc,
 *   mart_host_free, mart_plan, mart_profile, mart_session_create, mart_adamw_create and the
 *   *_default_params functions are thread-safe (the create calls each make a new handle).
 * - A mart_session or mart_adamw is used by one thread at a time. A call that finds its handle
 *   busy in another thread returns MART_ERR_BUSY at once and changes nothing (it is not queued).
 *   Different handles may be used from different threads at the same time. On the CPU backend,
 *   sessions running at the same time share OpenMP/OpenBLAS thread pools: their results are
 *   correct but only one session at a time is bitwise reproducible.
 *
 * Versioning: the library's SONAME carries MART_VERSION_MAJOR; within a major version the ABI
 * only grows. Compare mart_version_number() with MART_VERSION_NUMBER at startup to detect a
 * header/library mismatch.
 */
#ifndef MART_MART_H
#define MART_MART_H

#include <stddef.h>
#include <stdint.h>

#define MART_VERSION_MAJOR 0
#define MART_VERSION_MINOR 1
#define MART_VERSION_PATCH 0
#define MART_VERSION_NUMBER \
  (MART_VERSION_MAJOR * 10000 + MART_VERSION_MINOR * 100 + MART_VERSION_PATCH)

#if defined(_WIN32)
#define MART_API
#elif defined(MART_BUILDING_LIBRARY)
#define MART_API __attribute__((visibility("default")))
#else
#define MART_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status and errors ------------------------------------------------------------------- */

typedef enum mart_status {
  MART_OK = 0,
  MART_ERR_INVALID_ARGUMENT = 1, /* a NULL pointer, a wrong size, a value out of range */
  MART_ERR_INVALID_HANDLE = 2,   /* a NULL or destroyed handle */
  MART_ERR_CONFIG = 3,           /* bad YAML, unknown key, invalid value, bad override */
  MART_ERR_IO = 4,               /* a file missing, unreadable, unwritable, damaged or mismatched */
  MART_ERR_OUT_OF_MEMORY = 5,    /* device budget, pinned host memory or host allocation refused */
  MART_ERR_BUSY = 6,             /* the handle is in use by another thread */
  MART_ERR_NOT_FOUND = 7,        /* no parameter of that name */
  MART_ERR_NUMERIC = 8,          /* a non-finite loss or gradient norm */
  MART_ERR_INTERNAL = 9,         /* a bug in MART: please report the message */
  /* Reserved so that a switch over mart_status needs a default: later versions add codes. */
  MART_STATUS_RESERVED_ = 0x7fff
} mart_status;

/* A static description of `status` ("invalid argument"); never NULL. Thread-safe. */
MART_API const char* mart_status_string(mart_status status);

/* The full message of the last failed call on this thread ("" when none). Owned by MART; valid
 * until the next failing call on this thread. Successful calls do not clear it. Thread-safe
 * (thread-local). */
MART_API const char* mart_last_error(void);

/* Frees a string MART handed out through a `char**` argument. NULL is ignored. Thread-safe. */
MART_API void mart_string_free(char* s);

/* "0.1.0"; static. And MART_VERSION_NUMBER of the library, to compare with the header's. */
MART_API const char* mart_version(void);
MART_API int mart_version_number(void);

/* ---- sessions: a model, its states and the plan it runs under ------------------------------ */

typedef struct mart_session mart_session;

typedef struct mart_session_params {
  /* The job config: a YAML file, or YAML text, or neither (the built-in default job, as
   * `mart train` with no CONFIG); not both. */
  const char* config_path;
  const char* config_yaml;
  /* `key=value` overrides applied in order, the keys of `mart train --set` (train.seed=3,
   * memory.device_capacity=64MiB, model.n_layer=4). n_overrides entries; NULL when 0. */
  const char* const* overrides;
  int32_t n_overrides;
  /* 1: initialise weights from train.seed (as `mart train` does); 0: leave them zero, for a
   * caller that loads weights next (mart_session_load_*, mart_session_param_set). */
  int32_t init_weights;
} mart_session_params;

MART_API mart_session_params mart_session_default_params(void);

/* Builds the session: validates the config, plans it when memory.mode is auto (profiling this
 * machine), reserves the device budget and pinned host memory, and initialises weights. On
 * success *out owns a session the caller destroys with mart_session_destroy. */
MART_API mart_status mart_session_create(mart_session_params params, mart_session** out);

/* Destroys the session and frees everything it holds. NULL is ignored (MART_OK). Must not run
 * while another thread uses the session (MART_ERR_BUSY, and nothing is freed). */
MART_API mart_status mart_session_destroy(mart_session* session);

/* The shapes a session trains with: token arrays are n_micro_batches x micro_batch x seq_len. */
typedef struct mart_session_info {
  int64_t n_params;
  int32_t n_tensors;   /* parameter tensors (see mart_session_param_info) */
  int32_t micro_batch; /* B */
  int32_t seq_len;     /* T */
  int32_t grad_accum;  /* micro-batches per step in the job config (any count is accepted) */
  int32_t vocab_size;  /* V: tokens must lie in [0, V); targets in [0, V) or < 0 (ignored) */
  int32_t n_layer;
  int64_t steps_done;           /* optimizer steps taken (or restored from a checkpoint) */
  uint64_t device_budget_bytes; /* the arena the plan reserved */
  uint64_t peak_device_bytes;   /* the arena's high-water mark so far (measured) */
  uint64_t pinned_host_bytes;   /* offloaded chunks plus swapped activations */
} mart_session_info;

MART_API mart_status mart_session_get_info(mart_session* session, mart_session_info* out);

/* The resolved job config as JSON (after memory.mode auto: the plan's config). Caller frees. */
MART_API mart_status mart_session_config_json(mart_session* session, char** out_json);

/* The plan the session runs under and its memory figures as JSON: memory_mode, model_states,
 * block_modes, micro_batch, grad_accum, device_budget_bytes, device_budget (text),
 * device_regions (the budget's arena regions in bytes), pinned_host_bytes, peak_device_bytes,
 * and for memory.mode auto the planner's object (profile source, plan, predicted). Caller frees
 * with mart_string_free. */
MART_API mart_status mart_session_plan_json(mart_session* session, char** out_json);

/* ---- training ------------------------------------------------------------------------------ */

typedef struct mart_step_params {
  float lr;
  float beta1, beta2, eps;
  float weight_decay; /* applied to 2-D weights only */
  float grad_clip;    /* global-norm clipping; 0: off */
  /* 1-based AdamW step for the bias corrections; 0: the session's steps_done + 1. */
  int64_t step;
} mart_step_params;

/* The job config's hyperparameters for optimizer step `step` (1-based; 0: steps_done + 1),
 * including the learning rate of its warmup+cosine schedule: what `mart train` would use. */
MART_API mart_status mart_session_step_params(mart_session* session, int64_t step,
                                              mart_step_params* out);

typedef struct mart_step_result {
  double loss;     /* mean cross-entropy over the valid targets of the whole step */
  float grad_norm; /* global gradient norm before clipping */
  uint64_t tokens; /* valid targets */
  double seconds;  /* wall time of the step, device synchronised */
  int64_t step;    /* steps_done after this step */
} mart_step_result;

/* One optimizer step: forward+backward over every micro-batch (gradients accumulate), then
 * clipping and AdamW. `inputs` and `targets` hold n_tokens int32 each, n_tokens a positive
 * multiple of micro_batch*seq_len (one micro-batch per multiple), row-major [mb][B][T]. A negative
 * target is ignored (no loss, no gradient); at least one target of the step must be valid. Tokens
 * outside [0, vocab) or targets >= vocab give MART_ERR_INVALID_ARGUMENT naming the index, before
 * anything changes. A non-finite loss or gradient norm gives MART_ERR_NUMERIC (the weights and
 * steps_done are then unspecified: reload them, e.g. with mart_session_load_checkpoint). The arrays
 * are only read, and may be reused as soon as the call returns. */
MART_API mart_status mart_session_train_step(mart_session* session, const int32_t* inputs,
                                             const int32_t* targets, size_t n_tokens,
                                             mart_step_params params, mart_step_result* out);

/* Forward only: the mean loss over every valid target, summed sequence by sequence in a fixed
 * order (as `mart train`'s validation: the same value whatever the micro-batch). Same array rules
 * as mart_session_train_step; every micro-batch needs a valid target. */
MART_API mart_status mart_session_eval_loss(mart_session* session, const int32_t* inputs,
                                            const int32_t* targets, size_t n_tokens,
                                            double* out_loss);

/* Forward only: fp32 logits [B, T, V] of one micro-batch of inputs (no targets) into caller
 * memory. n_tokens must be micro_batch*seq_len and n_logits micro_batch*seq_len*vocab_size. */
MART_API mart_status mart_session_logits(mart_session* session, const int32_t* inputs,
                                         size_t n_tokens, float* logits, size_t n_logits);

/* The job config's own data stream (synthetic corpus or token shards), so a caller can feed
 * exactly the batches `mart train` would: split 0 training (continues across calls, saved in
 * checkpoints; `restart` must be 0), 1 validation (restarts from its beginning when `restart` is
 * 1). Fills n_tokens inputs and targets, a multiple of micro_batch*seq_len. MART_ERR_CONFIG when
 * the job has no validation data; MART_ERR_IO when its token shards cannot be read. */
MART_API mart_status mart_session_next_batch(mart_session* session, int32_t split, int32_t restart,
                                             int32_t* inputs, int32_t* targets, size_t n_tokens);

/* ---- parameters by Hugging Face name ------------------------------------------------------ */

typedef struct mart_param_info {
  const char* name; /* Hugging Face name; owned by the session, valid while it lives */
  int32_t ndim;
  int64_t shape[4]; /* Hugging Face layout (GPT-2 Conv1D weights are [in, out]) */
  int64_t numel;
} mart_param_info;

/* Tensor `index` in [0, n_tensors), in the model's execution order. */
MART_API mart_status mart_session_param_info(mart_session* session, int32_t index,
                                             mart_param_info* out);
/* The index of the tensor named `name`; MART_ERR_NOT_FOUND (the message suggests close names). */
MART_API mart_status mart_session_param_find(mart_session* session, const char* name,
                                             int32_t* out_index);
/* Copies the fp32 master weights of `name` out to / in from caller memory of exactly `numel`
 * floats in the Hugging Face layout, wherever the plan keeps the tensor (device-resident or an
 * offloaded chunk). Setting does not touch the AdamW moments. */
MART_API mart_status mart_session_param_get(mart_session* session, const char* name, float* dst,
                                            size_t numel);
MART_API mart_status mart_session_param_set(mart_session* session, const char* name,
                                            const float* src, size_t numel);
/* Re-initialises every weight as a fresh session with this seed would (moments unchanged). */
MART_API mart_status mart_session_init_weights(mart_session* session, uint64_t seed);

/* ---- checkpoints ----------------------------------------------------------------------------- */

/* Writes RUN_DIR/checkpoints/step_N (N = steps_done) in `mart train`'s atomic, checksummed
 * format, including the training data stream's position, and updates RUN_DIR/checkpoints/latest;
 * keeps the newest two. Holds RUN_DIR/.lock while it writes: fails with MART_ERR_IO naming the
 * holder (PID, host) when a `mart train` run or another save holds it. *out_path (may be NULL)
 * receives the checkpoint directory; caller frees. */
MART_API mart_status mart_session_save_checkpoint(mart_session* session, const char* run_dir,
                                                  char** out_path);
/* Loads a checkpoint: a checkpoint directory, or a run directory (its newest intact checkpoint,
 * walking back past damaged ones). Verifies sizes and checksums, that it matches this session's
 * model and that its data position fits this session's training stream (same seq_len) before
 * changing anything; restores weights, AdamW moments, steps_done and the training data position. */
MART_API mart_status mart_session_load_checkpoint(mart_session* session, const char* path);
/* Hugging Face weights: model.safetensors (F32/BF16/F16), a directory holding one, or a MART
 * checkpoint directory (its model/model.safetensors). Every
 * tensor's presence, shape and dtype is checked before the first weight changes. */
MART_API mart_status mart_session_load_hf(mart_session* session, const char* path);
/* Writes DIR/model.safetensors (fp32), DIR/config.json and DIR/generation_config.json, loadable
 * by transformers. */
MART_API mart_status mart_session_save_hf(mart_session* session, const char* dir);

/* ---- planning (no device needed) --------------------------------------------------------------
 */

typedef struct mart_plan_params {
  const char* config_path; /* as mart_session_params */
  const char* config_yaml;
  const char* const* overrides;
  int32_t n_overrides;
  /* Built-in hardware name (h100-sxm, a100-80g, cpu, ...), a hardware .yaml, or a profile .json
   * from mart_profile / `mart profile`. NULL: the backend's default. */
  const char* hardware;
  uint64_t gpu_mem;  /* device capacity to plan for; 0: memory.device_capacity, else hardware's */
  uint64_t host_mem; /* 0: the hardware's */
  int32_t allow_compress; /* 1: plans may compress activations (lossy, bounded) */
} mart_plan_params;

MART_API mart_plan_params mart_plan_default_params(void);

/* Plans the job: *out_json receives `mart plan --json`'s object (fits, reason, binding_resource,
 * plan, predicted, alternatives, search); *out_fits (may be NULL) 1 or 0. A job that does not fit
 * is not an error: MART_OK, fits 0. Caller frees the string. Thread-safe. */
MART_API mart_status mart_plan(mart_plan_params params, char** out_json, int32_t* out_fits);

typedef struct mart_profile_params {
  const char* config_path; /* as mart_session_params */
  const char* config_yaml;
  const char* const* overrides;
  int32_t n_overrides;
  int32_t reps; /* timed repetitions per measurement (median); default 3 */
} mart_profile_params;

MART_API mart_profile_params mart_profile_default_params(void);

/* Measures the job's model and this machine on the configured backend (seconds) and returns the
 * profile JSON that `mart profile` writes; pass it to mart_plan as a file. Caller frees.
 * Thread-safe, but it times this machine: other work running meanwhile skews the figures. */
MART_API mart_status mart_profile(mart_profile_params params, char** out_json);

/* ---- components: pinned host memory -----------------------------------------------------------
 */

/* `bytes` of NUMA-local host memory, 64-byte aligned, on NUMA node `numa_node` (OS index; -1:
 * the node nearest CUDA device 0, or the first node without one). Pinned (page-locked and
 * registered with the driver) when libmart has its CUDA backend and a device is present; ordinary
 * memory otherwise. One allocator serves the whole process. bytes 0 gives NULL and MART_OK. A node
 * that does not exist gives MART_ERR_INVALID_ARGUMENT (the message lists the nodes); memory the
 * OS refuses gives MART_ERR_OUT_OF_MEMORY. Free with mart_host_free. Thread-safe. */
MART_API mart_status mart_host_alloc(size_t bytes, int32_t numa_node, void** out);
/* Frees a block from mart_host_alloc; NULL is ignored. A pointer that is not a live block gives
 * MART_ERR_INVALID_ARGUMENT and frees nothing. Thread-safe. */
MART_API mart_status mart_host_free(void* ptr);

/* ---- components: CPU AdamW on caller-owned fp32 arrays --------------------------------------- */

/* MART's SIMD AdamW (the kernel that updates offloaded chunks) for any fp32 parameters: the
 * caller owns parameter and gradient arrays; the object owns each tensor's exp_avg and exp_avg_sq
 * in NUMA-local memory from mart_host_alloc's allocator. Per element, in fp32, in this order,
 * with no fused multiply-add (t = step, bc1 and bc2 computed in double and rounded to fp32):
 *   m = b1*m + (1-b1)*g;   v = b2*v + (1-b2)*(g*g);
 *   bc1 = 1 - b1^t;  bc2 = 1 - b2^t;   p = p - lr*((m/bc1) / (sqrt(v/bc2) + eps) + wd*p)
 * This is decoupled AdamW, the same update as torch.optim.AdamW (amsgrad and maximize off) in
 * exact arithmetic; the fp32 results differ from torch's in the last bits, because torch first
 * scales p by (1 - lr*wd), updates m with lerp, and divides sqrt(v) by sqrt(bc2), and because
 * 1-b1 and 1-b2 are computed here in fp32 from the fp32 betas (1 - 0.999f is 0.00099998713, 1.3e-5
 * below torch's 0.001 from a double beta2; v differs by that ratio). Results do not depend on the
 * thread count (bitwise). */
typedef struct mart_adamw mart_adamw;

typedef struct mart_adamw_params {
  int32_t n_threads; /* worker threads; 0: one per logical CPU of numa_node */
  int32_t numa_node; /* where states live and workers run; -1: as mart_host_alloc's -1 */
} mart_adamw_params;

MART_API mart_adamw_params mart_adamw_default_params(void);
MART_API mart_status mart_adamw_create(mart_adamw_params params, mart_adamw** out);
/* Waits for queued updates, then frees the states. NULL is ignored. */
MART_API mart_status mart_adamw_destroy(mart_adamw* adamw);

/* Registers a tensor of `numel` fp32 elements (0 allowed: its updates do nothing); its moments
 * start at zero. *out_id identifies it in the calls below (0, 1, 2, ... in registration order). */
MART_API mart_status mart_adamw_add_tensor(mart_adamw* adamw, size_t numel, int64_t* out_id);

typedef struct mart_adamw_step_params {
  float lr;
  float beta1, beta2, eps;
  float weight_decay;
  int64_t step; /* 1-based step of this tensor, for the bias corrections */
} mart_adamw_step_params;

/* torch.optim.AdamW's defaults: lr 1e-3, betas 0.9 and 0.999, eps 1e-8, weight_decay 1e-2; step 1.
 * mart_adamw_step_async refuses betas outside [0, 1), a negative or non-finite eps, a non-finite
 * lr or weight_decay, and step < 1 (MART_ERR_INVALID_ARGUMENT). */
MART_API mart_adamw_step_params mart_adamw_default_step_params(void);

/* Queues the update of tensor `id`: `param` (read and written) and `grad` (read), `numel` floats
 * each (the registered size), caller-owned, not overlapping. Returns at once; the caller must not
 * touch either array until mart_adamw_wait returns. Queueing a tensor again before that wait gives
 * MART_ERR_INVALID_ARGUMENT. Updates run one after another, in queue order. */
MART_API mart_status mart_adamw_step_async(mart_adamw* adamw, int64_t id, float* param,
                                           const float* grad, size_t numel,
                                           mart_adamw_step_params params);
/* Blocks until every queued update is done. */
MART_API mart_status mart_adamw_wait(mart_adamw* adamw);
/* Copies a tensor's exp_avg and exp_avg_sq out to / in from caller memory of `numel` floats each
 * (state_dict / load_state_dict). Waits for every queued update first, as mart_adamw_wait. */
MART_API mart_status mart_adamw_get_state(mart_adamw* adamw, int64_t id, float* exp_avg,
                                          float* exp_avg_sq, size_t numel);
MART_API mart_status mart_adamw_set_state(mart_adamw* adamw, int64_t id, const float* exp_avg,
                                          const float* exp_avg_sq, size_t numel);

#ifdef __cplusplus
}
#endif

#endif /* MART_MART_H */
