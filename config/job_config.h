// The job configuration: everything `mart train` / `mart plan` needs, with the built-in default
// job's values as defaults. Loaded from YAML by config_loader.h (which validates every field and
// names bad keys with their path), overridable with `--set section.key=value`.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "config/model_family.h"
#include "layout/act_mode.h"

namespace mart {

struct ModelConfig {
  ModelFamily family = ModelFamily::Llama;
  int n_layer = 4;
  int d_model = 256;
  int n_head = 8;
  int n_kv_head = 4;  // GPT-2: always == n_head
  int d_ff = 768;     // GPT-2: 4*d_model by convention; Llama: SwiGLU inner width
  int vocab_size = 256;
  int max_seq_len = 256;  // GPT-2: rows of the position table; Llama: max_position_embeddings
  float norm_eps = 1e-5f;
  float rope_theta = 10000.0f;
  bool tied_embeddings = false;  // GPT-2: forced true
  float init_std = 0.02f;

  int head_size() const { return d_model / n_head; }
  int qkv_width() const { return (n_head + 2 * n_kv_head) * head_size(); }
};

struct DataConfig {
  // "synthetic": the built-in Markov corpus; "shards": llm.c-format token files.
  std::string source = "synthetic";
  std::string train_pattern;  // glob of train shards (source: shards)
  std::string val_pattern;    // glob of validation shards (optional)
  // The tokenizer the shards were made with (runtime/data/tokenizer.h: a SentencePiece model, a
  // tokenizer.json, encoder.json, or a folder holding one); empty = bytes. Checkpoints copy its
  // files into their model folder; `mart generate` and `mart eval` use it to read and write text.
  std::string tokenizer;
  // Training windows: "random" (uniform random offsets, as nanoGPT), "shuffle" (a permutation of
  // the windows per epoch) or "sequential" (runtime/data/data_loader.h). Validation is always
  // read sequentially from its start.
  std::string order = "random";
  // Synthetic Markov source (data/markov_corpus.h): order-k over `synthetic_vocab` symbols.
  int synthetic_vocab = 16;
  int synthetic_order = 2;
  int synthetic_branching = 3;  // non-zero next-symbol choices per context
  uint64_t synthetic_seed = 1234;
};

// train.trace_step's default; runs shorter than it trace nothing (validation allows it there).
constexpr int kDefaultTraceStep = 2;

struct TrainConfig {
  int micro_batch = 8;
  // true: memory.mode auto may re-split micro_batch x grad_accum (same global batch) to fit or
  // run faster; false: the plan keeps micro_batch and grad_accum as written, so its training is
  // bitwise that of any other memory plan with the same split.
  bool micro_batch_auto = false;
  int seq_len = 64;
  int grad_accum = 1;
  int steps = 120;
  float lr = 3e-3f;
  float min_lr_ratio = 0.1f;  // cosine decays to lr * min_lr_ratio
  int warmup_steps = 10;
  float weight_decay = 0.1f;  // applied to 2-D weights only (not norms, biases)
  float beta1 = 0.9f;
  float beta2 = 0.95f;
  float eps = 1e-8f;
  float grad_clip = 1.0f;  // global-norm clipping; 0 disables
  uint64_t seed = 42;
  int eval_every = 40;  // 0 disables periodic validation
  // Validation sequences of seq_len tokens per evaluation, read from the start of the validation
  // data and evaluated in whatever micro-batch the plan has: the val loss covers the same tokens
  // whatever the plan.
  int eval_sequences = 32;
  // Before eval_sequences: micro-batches per validation. Still read (old configs and checkpoints);
  // non-zero, it means eval_batches x micro_batch sequences (the config's micro_batch, before any
  // plan) and takes precedence over eval_sequences: see validation_sequences().
  int eval_batches = 0;
  int checkpoint_every = 0;  // 0: only at the end
  int log_every = 1;
  // Views of metrics.jsonl kept in the run directory (docs/LOGGING.md): TensorBoard event files
  // in RUN/tensorboard/ and RUN/metrics.csv.
  bool tensorboard = true;
  bool metrics_csv = false;
  // The step whose measured timeline `mart train` writes to RUN/timeline.json
  // (runtime/step_trace.h, common/step_timeline.h); 0 = none. Step 1 includes warm-up, so the
  // default is 2.
  int trace_step = kDefaultTraceStep;
  // Wall-clock limit of one `mart train` invocation: seconds ("3600") or "[D-]H:MM:SS"; "0" = none.
  // The run stops with a checkpoint before it (runtime/preemption.h) and exits 75, resumable.
  std::string max_time = "0";
  // Signals that stop the run after the step in flight, with a checkpoint (a second one aborts):
  // names without "SIG" (TERM, INT, USR1, USR2, HUP, QUIT, XCPU); empty = default dispositions.
  std::vector<std::string> stop_signals = {"TERM", "INT", "USR1"};
};

// The validation sequences per evaluation: eval_sequences, or eval_batches x micro_batch when the
// older key is set. Call it on the config as written (memory.mode auto may change micro_batch).
inline int validation_sequences(const TrainConfig& t) {
  return t.eval_batches > 0 ? t.eval_batches * t.micro_batch : t.eval_sequences;
}

// train.max_time in seconds (0 = none); throws mart::Error naming the key and the accepted forms.
double max_time_seconds(const std::string& text);

struct MemoryConfig {
  uint64_t device_capacity = 0;  // bytes; 0 = the device's free memory (unlimited on CPU)
  // "resident": every model state on the device; "manual": chunks with n_persist/n_buffer as given;
  // "auto": profile + plan.
  std::string mode = "resident";
  int n_persist = -1;       // chunks kept on device; -1 = all
  int n_buffer = 2;         // device chunk buffers for offloaded chunks
  uint64_t chunk_size = 0;  // bytes; 0 = auto (grid search for least waste)
};

struct ActivationConfig {
  // Per-block modes ("keep", "checkpoint", "swap", "compress", "compress_swap"); empty = derived
  // from the counts (config/block_modes.h).
  std::vector<std::string> modes;
  // Blocks per mode when `modes` is empty, keys activations.n_swap, n_checkpoint, n_compress,
  // n_compress_swap (each mode's count_key in layout/act_mode.h); keep takes the rest.
  ModeCounts counts;
  float eb = 1e-3f;  // absolute error bound for "compress" and "compress_swap"
  bool adaptive_eb = false;
  // Payload bytes a compressed block may use per raw activation byte (CompressBudget): 0.5 stores
  // at most 16 bits per fp32 value; an encoding that needs more is recomputed instead.
  float payload_fraction = 0.5f;
};

struct JobConfig {
  std::string name = "default";
  std::string backend = "cpu";  // "cpu" | "cuda" | "auto"
  ModelConfig model;
  DataConfig data;
  TrainConfig train;
  MemoryConfig memory;
  ActivationConfig activations;
};

}  // namespace mart
