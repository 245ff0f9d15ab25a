/* mart.h compiles as strict C11 with every warning an error (tests/capi_header/CMakeLists.txt).
 * Every type and function of the header is named here, so a C++-only construct anywhere in it
 * (a default argument, a reference, bool without <stdbool.h>, a missing (void)) fails the build.
 * With MART_HEADER_CHECK_PLANT_WARNING a warning is planted: the negative control, which must fail
 * to compile (so the flags are known to be in force). */
#include <mart/mart.h>

#ifdef MART_HEADER_CHECK_PLANT_WARNING
static int planted_unused_function(void) {
  return 0;
}
#endif

/* The generic function pointer type ISO C allows casting any function to (-Wcast-function-type
 * exempts it). */
typedef void (*any_fn)(void);

/* Function pointers of every entry point: their declarations must be complete prototypes. */
static const any_fn functions[] = {
    (any_fn)mart_status_string,
    (any_fn)mart_last_error,
    (any_fn)mart_string_free,
    (any_fn)mart_version,
    (any_fn)mart_version_number,
    (any_fn)mart_session_default_params,
    (any_fn)mart_session_create,
    (any_fn)mart_session_destroy,
    (any_fn)mart_session_get_info,
    (any_fn)mart_session_config_json,
    (any_fn)mart_session_plan_json,
    (any_fn)mart_session_step_params,
    (any_fn)mart_session_train_step,
    (any_fn)mart_session_eval_loss,
    (any_fn)mart_session_logits,
    (any_fn)mart_session_next_batch,
    (any_fn)mart_session_param_info,
    (any_fn)mart_session_param_find,
    (any_fn)mart_session_param_get,
    (any_fn)mart_session_param_set,
    (any_fn)mart_session_init_weights,
    (any_fn)mart_session_save_checkpoint,
    (any_fn)mart_session_load_checkpoint,
    (any_fn)mart_session_load_hf,
    (any_fn)mart_session_save_hf,
    (any_fn)mart_plan_default_params,
    (any_fn)mart_plan,
    (any_fn)mart_profile_default_params,
    (any_fn)mart_profile,
    (any_fn)mart_host_alloc,
    (any_fn)mart_host_free,
    (any_fn)mart_adamw_default_params,
    (any_fn)mart_adamw_create,
    (any_fn)mart_adamw_destroy,
    (any_fn)mart_adamw_add_tensor,
    (any_fn)mart_adamw_default_step_params,
    (any_fn)mart_adamw_step_async,
    (any_fn)mart_adamw_wait,
    (any_fn)mart_adamw_get_state,
    (any_fn)mart_adamw_set_state,
};

int header_check_c(void);
int header_check_c(void) {
  mart_session_params sp = {0};
  mart_session_info si = {0};
  mart_step_params stp = {0};
  mart_step_result sr = {0};
  mart_param_info pi = {0};
  mart_plan_params pp = {0};
  mart_profile_params prp = {0};
  mart_adamw_params ap = {0};
  mart_adamw_step_params asp = {0};
  mart_session* session = 0;
  mart_adamw* adamw = 0;
  mart_status st = MART_OK;
  switch (st) {
    case MART_OK:
    case MART_ERR_INVALID_ARGUMENT:
    case MART_ERR_INVALID_HANDLE:
    case MART_ERR_CONFIG:
    case MART_ERR_IO:
    case MART_ERR_OUT_OF_MEMORY:
    case MART_ERR_BUSY:
    case MART_ERR_NOT_FOUND:
    case MART_ERR_NUMERIC:
    case MART_ERR_INTERNAL:
    default:
      break;
  }
  (void)sp, (void)si, (void)stp, (void)sr, (void)pi, (void)pp, (void)prp, (void)ap, (void)asp;
  (void)session, (void)adamw;
  return (int)(sizeof functions / sizeof functions[0]) + MART_VERSION_NUMBER;
}
