// report/plan_page.h on the planner's toy profile: the sections, lanes and memory segments of a
// page for an offloaded plan (the device segments add up to the predicted peak exactly), a plan
// that does not fit (memory bars, no timeline), and a measured run (its timeline and the
// predicted-versus-measured table; a missing timeline.json names the fix).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "report/plan_page.h"
#include "tests/planner/planner_test_util.h"
#include "tests/report/dom_count.h"

namespace mart {
namespace {

namespace fs = std::filesystem;

struct Planned {
  Profile p = test::toy_profile();
  SearchOptions opt;
  SearchResult r;
  explicit Planned(uint64_t device) {
    opt.device_capacity = device;
    opt.global_batch = 2;
    r = search_plan(p, opt);
  }
  PlanPageInput input(const MeasuredRun* m = nullptr) const {
    return {"configs/jobs/toy.yaml", "analytic (test)", &p, &opt, &r, m};
  }
};

constexpr uint64_t kOffloadDevice = 1536ull << 20;  // the toy model's states need ~2.6 GB

TEST(PlanPage, OffloadedPlanHasEverySectionLaneAndRegion) {
  Planned pl(kOffloadDevice);
  ASSERT_TRUE(pl.r.fits) << pl.r.message;
  ASSERT_LT(pl.r.best.plan.n_persist,
            model_chunks(pl.p.model, pl.r.best.plan.chunk_elems).n_chunks());
  const std::string html = plan_page(pl.input()).str();
  for (const char* id : {"summary", "plan", "memory", "timeline", "block-modes", "runner-ups"})
    EXPECT_EQ(test::count_of(html, std::string("<section id=\"") + id + "\">"), 1) << id;
  EXPECT_EQ(test::count_of(html, "<section id=\"measured-timeline\">"), 0);
  for (const char* lane : {"compute", "h2d", "d2h", "cpu_adam"})
    EXPECT_GT(test::lane_spans(html, lane), 0) << lane;
  // The device bar is the planner's exact peak; the host bar its pinned + pageable host memory.
  EXPECT_EQ(test::segment_bytes(html, "[a-z_]+"), pl.r.best.memory.device + pl.r.best.memory.host);
  EXPECT_EQ(test::segment_bytes(html, "host_[a-z_]+"), pl.r.best.memory.pinned_host);
  for (const char* seg : {"resident_chunks", "chunk_buffers", "block_inputs", "head", "scratch",
                          "host_master_adam", "host_grad_landing"})
    EXPECT_EQ(test::count_of(html, std::string("data-name=\"") + seg + "\""), 1) << seg;
  EXPECT_NE(html.find(html_escape(pl.r.best.time.why)), std::string::npos) << pl.r.best.time.why;
  EXPECT_NE(html.find("runner-up 1"), std::string::npos);
  EXPECT_EQ(html.find("http"), html.find("http://www.w3.org/2000/svg"));  // nothing external
}

TEST(PlanPage, NothingFitsShowsTheOverflowAndNoTimeline) {
  Planned pl(64ull << 20);
  ASSERT_FALSE(pl.r.fits);
  const std::string html = plan_page(pl.input()).str();
  EXPECT_NE(html.find("NO (device memory)"), std::string::npos);
  EXPECT_EQ(test::count_of(html, "<section id=\"memory\">"), 1);
  EXPECT_EQ(test::count_of(html, "<section id=\"timeline\">"), 0);
  EXPECT_EQ(test::count_of(html, "<g class=\"lane\""), 0);
  EXPECT_NE(html.find("over by"), std::string::npos);
  EXPECT_NE(html.find("nearest to fitting"), std::string::npos);
}

TEST(PlanPage, HostThatCannotHoldTheOffloadedStatesShowsTheHostOverflow) {
  Profile p = test::toy_profile();
  SearchOptions opt;
  opt.device_capacity = kOffloadDevice;
  opt.global_batch = 2;
  opt.host_memory = opt.pinned_limit = 256ull << 20;  // the offloaded states need GiBs
  const SearchResult r = search_plan(p, opt);
  ASSERT_FALSE(r.fits);
  ASSERT_EQ(r.reason, "host");
  const std::string html = plan_page({"toy", "test", &p, &opt, &r, nullptr}).str();
  EXPECT_NE(html.find("NO (host memory)"), std::string::npos);
  EXPECT_GT(test::segment_bytes(html, "host_[a-z_]+"), opt.host_memory);
  EXPECT_NE(html.find("over by"), std::string::npos);
  EXPECT_EQ(test::count_of(html, "<section id=\"timeline\">"), 0);
}

struct RunDir {
  fs::path dir =
      fs::temp_directory_path() /
      ("mart_plan_page_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "_" +
       ::testing::UnitTest::GetInstance()->current_test_info()->name());
  RunDir() {
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~RunDir() { fs::remove_all(dir); }
  void write(const std::string& name, const std::string& text) const {
    std::ofstream(dir / name) << text;
  }
};

StepTimeline measured_fixture() {
  StepTimeline t;
  t.device = "cpu";
  t.step = 2;
  t.duration_s = 0.02;
  auto add = [&](TimelineLane l, SpanKind k, double a, double b, const char* label) {
    TimelineSpan s;
    s.lane = l;
    s.kind = k;
    s.start_s = a;
    s.end_s = b;
    s.label = label;
    t.spans.push_back(s);
  };
  add(TimelineLane::Compute, SpanKind::Forward, 0, 0.008, "forward");
  add(TimelineLane::Compute, SpanKind::Backward, 0.008, 0.018, "backward");
  add(TimelineLane::H2D, SpanKind::Upload, 0.001, 0.004, "upload chunk 1");
  add(TimelineLane::D2H, SpanKind::Offload, 0.012, 0.015, "offload chunk 1");
  add(TimelineLane::CpuAdam, SpanKind::Adam, 0.015, 0.019, "cpu adam chunk 1");
  return t;
}

TEST(PlanPage, MeasuredRunGetsItsTimelineAndTheComparison) {
  Planned pl(kOffloadDevice);
  ASSERT_TRUE(pl.r.fits);
  RunDir run;
  run.write("timeline.json", timeline_to_json(measured_fixture()).dump());
  run.write("summary.json", nlohmann::json{{"peak_device_bytes", pl.r.best.memory.device},
                                           {"median_step_s", 0.021},
                                           {"tokens_per_s", 97000.0},
                                           {"device", "cpu"}}
                                .dump());
  const MeasuredRun m = load_measured_run(run.dir.string());
  EXPECT_TRUE(m.has_summary);
  EXPECT_EQ(m.timeline.spans.size(), 5u);
  const std::string html = plan_page(pl.input(&m)).str();
  EXPECT_EQ(test::count_of(html, "<section id=\"measured-timeline\">"), 1);
  EXPECT_EQ(test::count_of(html, "<section id=\"predicted-vs-measured\">"), 1);
  EXPECT_EQ(test::count_of(html, "<g class=\"lane\" data-name=\"compute\">"), 2);  // both charts
  EXPECT_NE(html.find("<td>exact</td>"), std::string::npos);  // the peak matches to the byte
  EXPECT_NE(html.find("<td>busy cpu_adam</td>"), std::string::npos);
}

TEST(PlanPage, MissingOrBadRunFilesNameTheFix) {
  RunDir run;
  try {
    load_measured_run(run.dir.string());
    FAIL() << "a run without timeline.json was read";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("train.trace_step"), std::string::npos) << e.what();
  }
  run.write("timeline.json", timeline_to_json(measured_fixture()).dump());
  EXPECT_FALSE(load_measured_run(run.dir.string()).has_summary);  // summary.json is optional
  run.write("summary.json",
            R"({"peak_device_bytes": "lots", "median_step_s": 1, "tokens_per_s": 1})");
  try {
    load_measured_run(run.dir.string());
    FAIL() << "a summary.json with a string peak was read";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("\"peak_device_bytes\""), std::string::npos) << e.what();
  }
  run.write("timeline.json", "{not json");
  EXPECT_THROW(load_measured_run(run.dir.string()), Error);
}

}  // namespace
}  // namespace mart
