/* An out-of-tree libmart consumer (tests/capi_install/run_install_test.sh builds it against an
 * installed prefix, with find_package(mart) and with pkg-config): the version, a plan of the
 * default job, a host block, and one AdamW step checked against its closed form. Prints
 * "consumer ok" and exits 0 only when every call succeeded and every check held. */
#include <mart/mart.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define CHECK(call)                                                                        \
  do {                                                                                     \
    mart_status st_ = (call);                                                              \
    if (st_ != MART_OK) {                                                                  \
      fprintf(stderr, "%s failed: %s: %s\n", #call, mart_status_string(st_), mart_last_error()); \
      return 1;                                                                            \
    }                                                                                      \
  } while (0)

static int plan_default_job(void) {
  mart_plan_params pp = mart_plan_default_params();
  char* json = NULL;
  int32_t fits = -1;
  CHECK(mart_plan(pp, &json, &fits));
  const int ok = json != NULL && strstr(json, "\"fits\"") != NULL && (fits == 0 || fits == 1);
  printf("plan: fits=%d, %zu bytes of JSON\n", (int)fits, json ? strlen(json) : (size_t)0);
  mart_string_free(json);
  return ok ? 0 : 1;
}

static int host_block(void) {
  void* p = NULL;
  CHECK(mart_host_alloc(1 << 20, -1, &p));
  if (p == NULL || (uintptr_t)p % 64 != 0) return 1;
  memset(p, 0x5a, 1 << 20);
  CHECK(mart_host_free(p));
  printf("host: 1 MiB block, 64-byte aligned\n");
  return 0;
}

/* One step from zero moments: m = (1-b1) g, v = (1-b2) g^2, so the update is
 * lr * g / (|g| + eps) (bias corrections cancel): p = 1 - 0.1 for g = 1 and wd = 0. */
static int adamw_step(void) {
  enum { N = 1000 };
  static float param[N], grad[N];
  for (int i = 0; i < N; ++i) param[i] = 1.0f, grad[i] = 1.0f;
  mart_adamw* opt = NULL;
  int64_t id = -1;
  CHECK(mart_adamw_create(mart_adamw_default_params(), &opt));
  CHECK(mart_adamw_add_tensor(opt, N, &id));
  mart_adamw_step_params sp = mart_adamw_default_step_params();
  sp.lr = 0.1f;
  sp.weight_decay = 0.0f;
  CHECK(mart_adamw_step_async(opt, id, param, grad, N, sp));
  CHECK(mart_adamw_wait(opt));
  CHECK(mart_adamw_destroy(opt));
  for (int i = 0; i < N; ++i)
    if (fabsf(param[i] - 0.9f) > 1e-6f) return 1;
  printf("adamw: p = %.7f after one step\n", param[0]);
  return 0;
}

int main(void) {
  if (mart_version_number() != MART_VERSION_NUMBER) {
    fprintf(stderr, "header %d but library %d\n", MART_VERSION_NUMBER, mart_version_number());
    return 1;
  }
  printf("libmart %s\n", mart_version());
  if (plan_default_job() || host_block() || adamw_step()) return 1;
  printf("consumer ok\n");
  return 0;
}
