// mart.h compiles as strict C++17 with every warning an error, and its declarations have C
// linkage (tests/capi_header/CMakeLists.txt). The C check (header_check.c) names every entry
// point; this one checks what differs in C++: extern "C", and no exception specification needed.
#include <mart/mart.h>

#include <type_traits>

static_assert(std::is_standard_layout_v<mart_session_params>, "C struct");
static_assert(std::is_trivially_copyable_v<mart_step_params>, "passed by value across C");
static_assert(std::is_trivially_copyable_v<mart_adamw_step_params>, "passed by value across C");
static_assert(
    std::is_same_v<decltype(&mart_plan), mart_status (*)(mart_plan_params, char**, int32_t*)>,
    "mart_plan's signature");

extern "C" int header_check_cxx();
extern "C" int header_check_cxx() {
  mart_session_params sp{};
  mart_adamw_params ap{};
  mart_status st = MART_OK;
  return static_cast<int>(st) + sp.n_overrides + ap.n_threads + MART_VERSION_NUMBER;
}
