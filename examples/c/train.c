/* Trains a model through libmart's C API with the caller's own loop: the job's data stream, a
 * cosine learning rate computed here, validation, and a checkpoint.
 *
 *   train RUN_DIR [--steps N] [--lr LR] [--config JOB.yaml] [key=value ...]
 *
 * The learning rate peaks at LR (default: the job's train.lr) after a linear warmup over the first
 * tenth of the steps and decays along a cosine to a tenth of it by the last step; the other
 * hyperparameters (betas, eps, weight decay, clipping) are the job's (mart_session_step_params).
 * key=value are `mart train --set` overrides (model.n_layer=2, train.seed=3). Without --config
 * the built-in default job is trained. Prints one line per step ("step 3 loss 2.7712 lr 0.0030"),
 * the validation loss, and the checkpoint directory written under RUN_DIR/checkpoints. Exits 1
 * with mart_last_error() on any failed call. */
#include <mart/mart.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(call)                                                                     \
  do {                                                                                  \
    mart_status st_ = (call);                                                           \
    if (st_ != MART_OK) {                                                               \
      fprintf(stderr, "train: %s failed (%s):\n  %s\n", #call, mart_status_string(st_), \
              mart_last_error());                                                       \
      goto fail;                                                                        \
    }                                                                                   \
  } while (0)

typedef struct options {
  const char* run_dir;
  const char* config_path;
  int steps;
  float lr; /* peak; 0: the job's train.lr */
  const char** overrides;
  int n_overrides;
} options;

static int parse_args(int argc, char** argv, options* o) {
  memset(o, 0, sizeof *o);
  o->steps = 20;
  o->overrides = (const char**)calloc((size_t)argc, sizeof(char*));
  if (!o->overrides) return 0;
  for (int i = 1; i < argc; ++i) {
    if (strcmp(argv[i], "--steps") == 0 && i + 1 < argc) {
      o->steps = atoi(argv[++i]);
    } else if (strcmp(argv[i], "--lr") == 0 && i + 1 < argc) {
      o->lr = strtof(argv[++i], NULL);
    } else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
      o->config_path = argv[++i];
    } else if (strchr(argv[i], '=')) {
      o->overrides[o->n_overrides++] = argv[i];
    } else if (!o->run_dir && argv[i][0] != '-') {
      o->run_dir = argv[i];
    } else {
      return 0;
    }
  }
  return o->run_dir != NULL && o->steps >= 1;
}

/* Linear warmup over the first tenth of the steps, then cosine down to a tenth of the peak. */
static float cosine_lr(float peak, int step, int steps) {
  const int warmup = steps / 10;
  if (step <= warmup) return peak * (float)step / (float)(warmup + 1);
  const double progress =
      (double)(step - warmup - 1) / (double)(steps - warmup > 1 ? steps - warmup - 1 : 1);
  return (float)(peak * (0.1 + 0.9 * 0.5 * (1.0 + cos(3.14159265358979323846 * progress))));
}

/* The job's train.lr, read from the resolved config JSON ({"train": {..., "lr": 0.003, ...}}). */
static mart_status job_peak_lr(mart_session* s, float* out) {
  char* json = NULL;
  mart_status st = mart_session_config_json(s, &json);
  if (st != MART_OK) return st;
  const char* key = strstr(json, "\"lr\"");
  const char* colon = key ? strchr(key, ':') : NULL;
  if (colon) *out = strtof(colon + 1, NULL);
  mart_string_free(json);
  if (!colon || !(*out > 0)) {
    fprintf(stderr, "train: no positive train.lr in the config JSON; pass --lr\n");
    return MART_ERR_CONFIG;
  }
  return MART_OK;
}

/* Mean validation loss over `batches` batches of the job's validation stream, from its start. */
static mart_status validate(mart_session* s, int32_t* in, int32_t* tg, size_t n, int batches,
                            double* out) {
  double sum = 0;
  for (int b = 0; b < batches; ++b) {
    double loss = 0;
    mart_status st = mart_session_next_batch(s, 1, b == 0, in, tg, n);
    if (st == MART_OK) st = mart_session_eval_loss(s, in, tg, n, &loss);
    if (st != MART_OK) return st;
    sum += loss;
  }
  *out = sum / batches;
  return MART_OK;
}

int main(int argc, char** argv) {
  options o;
  mart_session* s = NULL;
  int32_t *in = NULL, *tg = NULL;
  char* ckpt = NULL;
  int rc = 1;
  if (!parse_args(argc, argv, &o)) {
    fprintf(stderr,
            "usage: train RUN_DIR [--steps N] [--lr LR] [--config JOB.yaml] [key=value ...]\n");
    free(o.overrides);
    return 2;
  }
  if (mart_version_number() != MART_VERSION_NUMBER) {
    fprintf(stderr, "train: built against mart.h %d but libmart is %d\n", MART_VERSION_NUMBER,
            mart_version_number());
    free(o.overrides);
    return 1;
  }

  mart_session_params sp = mart_session_default_params();
  sp.config_path = o.config_path;
  sp.overrides = o.overrides;
  sp.n_overrides = o.n_overrides;
  sp.init_weights = 1;
  CHECK(mart_session_create(sp, &s));

  mart_session_info info;
  CHECK(mart_session_get_info(s, &info));
  /* One optimizer step = grad_accum micro-batches of B x T tokens. */
  const size_t n = (size_t)info.grad_accum * (size_t)info.micro_batch * (size_t)info.seq_len;
  in = (int32_t*)malloc(n * sizeof(int32_t));
  tg = (int32_t*)malloc(n * sizeof(int32_t));
  if (!in || !tg) {
    fprintf(stderr, "train: out of memory for %zu tokens\n", n);
    goto fail;
  }
  printf("model: %lld parameters, %d layers; %d x %d x %d tokens per step\n",
         (long long)info.n_params, (int)info.n_layer, (int)info.grad_accum, (int)info.micro_batch,
         (int)info.seq_len);

  if (o.lr == 0) CHECK(job_peak_lr(s, &o.lr));
  for (int step = 1; step <= o.steps; ++step) {
    mart_step_params hp;
    mart_step_result r;
    CHECK(mart_session_step_params(s, step, &hp)); /* the job's betas, eps, decay, clipping */
    hp.lr = cosine_lr(o.lr, step, o.steps);
    hp.step = step;
    CHECK(mart_session_next_batch(s, 0, 0, in, tg, n));
    CHECK(mart_session_train_step(s, in, tg, n, hp, &r));
    printf("step %d loss %.4f lr %.6f grad_norm %.3f\n", step, r.loss, hp.lr, r.grad_norm);
  }

  double val = 0;
  CHECK(validate(s, in, tg, n, 4, &val));
  printf("validation loss %.4f\n", val);
  CHECK(mart_session_save_checkpoint(s, o.run_dir, &ckpt));
  printf("checkpoint %s\n", ckpt);
  rc = 0;
fail:
  mart_string_free(ckpt);
  free(in);
  free(tg);
  if (mart_session_destroy(s) != MART_OK) rc = 1;
  free(o.overrides);
  return rc;
}
