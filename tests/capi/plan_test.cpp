// mart_plan is `mart plan --json` as a function: the same object job_plan_json gives for the same
// config and options (the launcher prints exactly that), fits 1 for a job that fits, and MART_OK
// with fits 0 for one that does not. mart_profile returns a profile mart_plan accepts.
#include "common/units.h"
#include "profiler/plan_job.h"
#include "tests/capi/capi_util.h"

namespace mart::capi_test {
namespace {

const std::string kLlama70b = std::string(MART_SOURCE_DIR) + "/configs/jobs/llama-70b.yaml";

struct PlanOut {
  mart_status status;
  nlohmann::json json;
  int32_t fits = -1;
};
PlanOut plan(const char* hardware, uint64_t host_mem) {
  mart_plan_params p = mart_plan_default_params();
  p.config_path = kLlama70b.c_str();
  p.hardware = hardware;
  p.host_mem = host_mem;
  char* text = nullptr;
  PlanOut out;
  out.status = mart_plan(p, &text, &out.fits);
  if (text) out.json = nlohmann::json::parse(text);
  mart_string_free(text);
  return out;
}
nlohmann::json direct(uint64_t host_mem) {
  PlanArgs a;
  a.hardware = "h100-sxm";
  a.host_mem = host_mem;
  return job_plan_json(plan_job(load_job_config(kLlama70b), a));
}

TEST(CapiPlan, Llama70bOnH100EqualsMartPlanJson) {
  // As given, 70B's fp32 states exceed the H100 machine's host memory: not an error.
  const PlanOut no = plan("h100-sxm", 0);
  ASSERT_EQ(no.status, MART_OK) << mart_last_error();
  EXPECT_EQ(no.fits, 0);
  EXPECT_EQ(no.json.at("fits"), false);
  EXPECT_EQ(no.json, direct(0));
  // With 2 TiB of host memory it fits, and the plans agree field for field.
  const uint64_t big = parse_size("2TiB");
  const PlanOut yes = plan("h100-sxm", big);
  ASSERT_EQ(yes.status, MART_OK) << mart_last_error();
  EXPECT_EQ(yes.fits, 1);
  EXPECT_EQ(yes.json, direct(big));
  EXPECT_NE(yes.json, no.json);  // control: the comparison sees a difference
}

TEST(CapiPlan, RefusesBadRequests) {
  EXPECT_EQ(plan("no-such-gpu", 0).status, MART_ERR_CONFIG);
  EXPECT_TRUE(has(mart_last_error(), "no-such-gpu"));
  mart_plan_params p = mart_plan_default_params();
  EXPECT_EQ(mart_plan(p, nullptr, nullptr), MART_ERR_INVALID_ARGUMENT);
  EXPECT_TRUE(has(mart_last_error(), "`out_json` is NULL"));
  const char* sets[] = {"model=llama-70bb"};
  p.overrides = sets;
  p.n_overrides = 1;
  char* text = nullptr;
  EXPECT_EQ(mart_plan(p, &text, nullptr), MART_ERR_CONFIG);
  EXPECT_EQ(text, nullptr);
  EXPECT_TRUE(has(mart_last_error(), "llama-70bb"));
}

TEST(CapiPlan, ProfileOfATinyJobIsAProfileThePlannerReads) {
  const JobConfig cfg = tiny_job(ModelFamily::Llama);
  const std::string yaml = to_yaml(cfg);
  mart_profile_params p = mart_profile_default_params();
  EXPECT_EQ(p.reps, 3);
  p.config_yaml = yaml.c_str();
  p.reps = 1;
  char* text = nullptr;
  ASSERT_EQ(mart_profile(p, &text), MART_OK) << mart_last_error();
  TempDir tmp;
  testutil::write_all(tmp.file("profile.json"), text);
  mart_string_free(text);
  const Profile prof = load_profile(tmp.file("profile.json"));
  EXPECT_EQ(prof.source, "measured");
  mart_plan_params pp = mart_plan_default_params();
  pp.config_yaml = yaml.c_str();
  const std::string path = tmp.file("profile.json");
  pp.hardware = path.c_str();
  int32_t fits = -1;
  ASSERT_EQ(mart_plan(pp, &text, &fits), MART_OK) << mart_last_error();
  mart_string_free(text);
  EXPECT_EQ(fits, 1);
  p.reps = 0;
  EXPECT_EQ(mart_profile(p, &text), MART_ERR_INVALID_ARGUMENT);
  EXPECT_TRUE(has(mart_last_error(), "`reps` is 0"));
}

}  // namespace
}  // namespace mart::capi_test
