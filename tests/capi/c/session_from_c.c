/* A plain C11 program on libmart.so: creates a session of a small job from YAML overrides (the
 * config parser allocates through libstdc++ inside libmart), trains three steps on the job's own
 * data, checks the losses fall and a bad token is refused, and destroys the session. Exit 0 on
 * success; any failure prints mart_last_error(). Run by CTest (tests/capi/CMakeLists.txt). */
#include <stdio.h>
#include <stdlib.h>

#include "mart/mart.h"

#define CHECK(call)                                                                       \
  do {                                                                                    \
    mart_status st_ = (call);                                                             \
    if (st_ != MART_OK) {                                                                 \
      fprintf(stderr, "%s: %s: %s\n", #call, mart_status_string(st_), mart_last_error()); \
      return 1;                                                                           \
    }                                                                                     \
  } while (0)

int main(void) {
  if (mart_version_number() != MART_VERSION_NUMBER) return 1;
  const char* sets[] = {"model.n_layer=2",   "model.d_model=32", "model.n_head=4",
                        "model.n_kv_head=2", "model.d_ff=64",    "train.micro_batch=2",
                        "train.seq_len=16",  "train.lr=0.01"};
  mart_session_params p = mart_session_default_params();
  p.overrides = sets;
  p.n_overrides = 8;
  mart_session* s = NULL;
  CHECK(mart_session_create(p, &s));
  mart_session_info info;
  CHECK(mart_session_get_info(s, &info));
  const size_t n = (size_t)info.micro_batch * info.seq_len * info.grad_accum;
  int32_t* in = malloc(n * sizeof *in); /* [grad_accum][B][T] */
  int32_t* tg = malloc(n * sizeof *tg);
  double first = 0, last = 0;
  for (int k = 0; k < 3; ++k) {
    mart_step_params hp;
    mart_step_result r;
    CHECK(mart_session_next_batch(s, 0, 0, in, tg, n));
    CHECK(mart_session_step_params(s, 0, &hp));
    CHECK(mart_session_train_step(s, in, tg, n, hp, &r));
    if (k == 0) first = r.loss;
    last = r.loss;
  }
  in[3] = info.vocab_size; /* one past the vocabulary */
  mart_step_params hp;
  mart_step_result r;
  CHECK(mart_session_step_params(s, 0, &hp));
  if (mart_session_train_step(s, in, tg, n, hp, &r) != MART_ERR_INVALID_ARGUMENT) return 1;
  CHECK(mart_session_destroy(s));
  free(in);
  free(tg);
  printf("losses %.6f -> %.6f\n", first, last);
  return last < first ? 0 : 1;
}
