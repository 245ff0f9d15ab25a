#include "report/plan_page.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/regular_file.h"
#include "common/units.h"
#include "planner/memory_regions.h"
#include "planner/sim_timeline.h"
#include "report/html.h"
#include "report/memory_bars.h"
#include "report/svg.h"
#include "report/timeline_chart.h"

namespace mart {
namespace {

std::string seconds(double s) {
  return s >= 1 ? format_fixed(s, 3) + " s" : format_fixed(s * 1e3, 2) + " ms";
}
std::string percent(double x) {
  return format_fixed(100 * x, 1) + "%";
}
std::string ratio(double measured, double predicted) {
  return predicted > 0 ? format_fixed(measured / predicted, 3) : "";
}

std::string params(uint64_t n) {
  const double d = static_cast<double>(n);
  return d >= 1e9 ? format_fixed(d / 1e9, 2) + "B" : format_fixed(d / 1e6, 2) + "M";
}

// "2 swap, 1 checkpoint, 5 keep"
std::string modes_summary(const Profile& p, const PlanChoice& c) {
  std::string s;
  for (const ActModeTraits& t : kActModeTraits) {
    const int n = t.mode == ActMode::Keep ? p.model.n_layer - c.blocks.placed() : c.blocks[t.mode];
    if (n > 0) s += (s.empty() ? "" : ", ") + std::to_string(n) + " " + t.name;
  }
  return s.empty() ? "no blocks" : s;
}

std::string chunks_text(const Profile& p, const PlanChoice& c) {
  const ModelChunks mc = model_chunks(p.model, c.chunk_elems);
  return std::to_string(mc.n_chunks()) + " x " +
         format_bytes(c.chunk_elems * static_cast<uint64_t>(p.model.act_bytes));
}

// A two-column table whose first column names each row (no header row).
using Rows = std::vector<std::pair<std::string, std::string>>;
std::string key_table(const Rows& rows) {
  std::string s = "<table>\n";
  for (const auto& [k, v] : rows)
    s += "<tr><th>" + html_escape(k) + "</th><td>" + html_escape(v) + "</td></tr>\n";
  return s + "</table>\n";
}

int n_buffers(const Profile& p, const PlanChoice& c) {
  return c.n_persist >= model_chunks(p.model, c.chunk_elems).n_chunks() ? 0 : c.n_buffer;
}

std::string summary_section(const PlanPageInput& in) {
  const Profile& p = *in.profile;
  const SearchResult& r = *in.result;
  Rows rows;
  rows.push_back({"fits", r.fits ? "yes" : "NO (" + r.reason + " memory)"});
  rows.push_back({"model", p.model.name + ": " + params(p.model.n_params) + " parameters, " +
                               std::to_string(p.model.n_layer) + " blocks, sequence " +
                               std::to_string(p.model.seq_len) + ", global batch " +
                               std::to_string(in.options->global_batch)});
  rows.push_back({"hardware",
                  p.hardware.name + (p.hardware.estimated ? " (estimated: datasheet figures; `mart "
                                                            "profile` measures)"
                                                          : " (measured)")});
  rows.push_back({"profile", in.profile_note});
  rows.push_back({"limits", "device " + format_bytes(r.device_capacity) + ", host " +
                                format_bytes(r.host_memory) + " (pinned " +
                                format_bytes(r.pinned_limit) + ")"});
  if (!r.fits) {
    rows.push_back({"why not", r.message});
    for (const std::string& s : r.suggestions) rows.push_back({"would fit with", s});
    return key_table(rows);
  }
  const PlanCandidate& b = r.best;
  rows.push_back({"iteration", seconds(b.time.iteration_s) + " predicted (steady state)"});
  rows.push_back({"throughput",
                  format_fixed(b.time.tokens_per_s, 0) + " tokens/s, MFU " + percent(b.time.mfu)});
  rows.push_back(
      {"device peak",
       format_bytes(b.memory.device) + " of " + format_bytes(r.device_capacity) + " (" +
           percent(static_cast<double>(b.memory.device) / static_cast<double>(r.device_capacity)) +
           "), exact: the arena's regions"});
  rows.push_back({"host", "pinned " + format_bytes(b.memory.pinned_host) + ", in all " +
                              format_bytes(b.memory.host)});
  rows.push_back({"binding resource", b.time.binding + ": " + b.time.why});
  rows.push_back({"chosen", b.why});
  rows.push_back(
      {"search",
       std::to_string(r.points) + " plans priced in memory, " + std::to_string(r.feasible) +
           " fit, " + std::to_string(r.simulated) + " simulated" +
           (r.exhaustive ? " (branch and bound closed)" : " (stopped by the work bound)")});
  return key_table(rows);
}

std::string plan_section(const Profile& p, const PlanCandidate& b) {
  const PlanChoice& k = b.plan;
  Rows rows;
  rows.push_back({"micro-batch", std::to_string(k.micro_batch) + " x " +
                                     std::to_string(k.grad_accum) + " accumulation"});
  rows.push_back({"chunks", chunks_text(p, k) + ", " + std::to_string(k.n_persist) +
                                " persistent on the device, " + std::to_string(n_buffers(p, k)) +
                                " device buffers"});
  rows.push_back({"activations", modes_summary(p, k)});
  rows.push_back({"per step", std::to_string(b.time.uploads) + " uploads (" +
                                  format_bytes(b.time.upload_bytes) + "), " +
                                  std::to_string(b.time.offloads) + " offloads (" +
                                  format_bytes(b.time.offload_bytes) + "), swap " +
                                  format_bytes(b.time.swap_bytes)});
  std::string busy;
  for (int r = 0; r < 4; ++r)
    busy += std::string(r ? ", " : "") + resource_name(static_cast<Resource>(r)) + " " +
            seconds(b.time.busy_s[r]);
  rows.push_back({"busy", busy});
  return key_table(rows);
}

// The device bar and the host bar of one plan's regions.
std::string memory_section(const PlanPageInput& in, const PlanChoice& plan) {
  const SearchResult& r = *in.result;
  const PlanMemory pm = plan_memory_regions(*in.profile, plan, in.options->cost);
  MemoryBar dev{"device", {}, pm.predicted.device, r.device_capacity, "device budget", 0, ""};
  MemoryBar host{"host",        {}, pm.predicted.host, r.host_memory, "host memory", r.pinned_limit,
                 "pinned limit"};
  for (const MemoryRegion& g : pm.regions) {
    MemoryBar& bar = g.pool == MemoryPool::Device ? dev : host;
    bar.segments.push_back({g.name, g.label, g.bytes});
  }
  std::string s;
  if (!r.fits)
    s += "<p>Nothing fits; these are the regions of the plan nearest to fitting (micro-batch " +
         std::to_string(plan.micro_batch) + ", " + html_escape(chunks_text(*in.profile, plan)) +
         " chunks, " + std::to_string(plan.n_persist) + " persistent, " +
         html_escape(modes_summary(*in.profile, plan)) + ").</p>\n";
  s += "<p class=\"muted\">Exact figures: the layout formulas the runtime allocates with. Host: "
       "pinned regions first, then pageable.</p>\n";
  return s + render_memory_bars({dev, host});
}

const char* mode_color(ActMode m) {
  switch (m) {
    case ActMode::Keep:
      return "#59a14f";
    case ActMode::Swap:
      return "#4e79a7";
    case ActMode::Checkpoint:
      return "#e15759";
    case ActMode::Compress:
      return "#edc948";
    case ActMode::CompressSwap:
      return "#b07aa1";
  }
  return "#999";
}

std::string block_modes_section(const Profile& p, const PlanChoice& k) {
  const std::vector<ActMode> modes = block_modes_from_counts(p.model.n_layer, k.blocks);
  const double width = 1060, left = 78,
               cell = std::min(40.0, (width - left - 12) / std::max<size_t>(1, modes.size()));
  SvgCanvas c(width, 64);
  c.text(left - 6, 22, "block", SvgCanvas::Anchor::End, 11);
  for (size_t b = 0; b < modes.size(); ++b) {
    const double x = left + b * cell;
    c.rect(x, 8, cell - 1, 20, mode_color(modes[b]), "block-mode",
           "block " + std::to_string(b) + ": " + act_mode_name(modes[b]));
    if (cell >= 14)
      c.text(x + cell / 2, 22, std::string(1, act_traits(modes[b]).letter),
             SvgCanvas::Anchor::Middle, 10, "#fff");
  }
  double x = left;
  for (const ActModeTraits& t : kActModeTraits) {
    c.rect(x, 40, 12, 12, mode_color(t.mode));
    c.text(x + 16, 50, std::string(1, t.letter) + " " + t.name, SvgCanvas::Anchor::Start, 11);
    x += 130;
  }
  return "<p>Block 0 first: " + html_escape(modes_summary(p, k)) + ".</p>\n" + c.str();
}

// A runner-up's own `why` is set only when it is faster than the chosen plan; otherwise it is
// slower, within the tie margin (the chosen plan is simpler: search.h's tie rule) or beyond it.
std::string why_not_chosen(const PlanCandidate& a, double best_s, double margin) {
  if (!a.why.empty()) return a.why;
  const double extra = a.time.iteration_s / best_s - 1;
  const std::string by =
      seconds(a.time.iteration_s - best_s) + " (+" + format_fixed(100 * extra, 3) + "%)";
  if (extra <= margin)
    return "ties the chosen plan (" + by + ", within the " + format_fixed(100 * margin, 0) +
           "% tie margin), which is simpler";
  return "slower by " + by + " per iteration";
}

std::string runner_ups_section(const Profile& p, const SearchResult& r, double margin) {
  if (r.alternatives.empty()) return "<p>The search kept no other plan.</p>\n";
  std::vector<std::vector<std::string>> rows = {{"plan", "micro-batch", "chunks", "persistent",
                                                 "buffers", "activations", "iteration", "tokens/s",
                                                 "device peak", "binding", "why not chosen"}};
  auto row = [&](const std::string& name, const PlanCandidate& c, const std::string& why) {
    rows.push_back({name,
                    std::to_string(c.plan.micro_batch) + " x " + std::to_string(c.plan.grad_accum),
                    chunks_text(p, c.plan), std::to_string(c.plan.n_persist),
                    std::to_string(n_buffers(p, c.plan)), modes_summary(p, c.plan),
                    seconds(c.time.iteration_s), format_fixed(c.time.tokens_per_s, 0),
                    format_bytes(c.memory.device), c.time.binding, why});
  };
  row("chosen", r.best, r.best.why);
  const double t0 = r.best.time.iteration_s;
  for (size_t i = 0; i < r.alternatives.size(); ++i) {
    const PlanCandidate& a = r.alternatives[i];
    row("runner-up " + std::to_string(i + 1), a, why_not_chosen(a, t0, margin));
  }
  return html_table(rows);
}

std::string compare_section(const PlanCandidate& b, const MeasuredRun& m) {
  std::vector<std::vector<std::string>> rows = {
      {"figure", "predicted", "measured", "measured / predicted"}};
  const double it = b.time.iteration_s;
  rows.push_back({"iteration (timeline.json, step " + std::to_string(m.timeline.step) + ")",
                  seconds(it), seconds(m.timeline.duration_s), ratio(m.timeline.duration_s, it)});
  if (m.has_summary) {
    rows.push_back({"iteration (summary.json, median step)", seconds(it), seconds(m.median_step_s),
                    ratio(m.median_step_s, it)});
    rows.push_back({"tokens/s (summary.json)", format_fixed(b.time.tokens_per_s, 0),
                    format_fixed(m.tokens_per_s, 0), ratio(m.tokens_per_s, b.time.tokens_per_s)});
    const int64_t diff =
        static_cast<int64_t>(m.peak_device_bytes) - static_cast<int64_t>(b.memory.device);
    rows.push_back(
        {"device peak (summary.json)",
         format_bytes(b.memory.device) + " (" + std::to_string(b.memory.device) + " B)",
         format_bytes(m.peak_device_bytes) + " (" + std::to_string(m.peak_device_bytes) + " B)",
         diff == 0 ? "exact" : std::to_string(diff) + " B off"});
  }
  for (int r = 0; r < 4; ++r) {
    const double meas = m.timeline.busy_s(static_cast<TimelineLane>(r));
    rows.push_back({std::string("busy ") + lane_name(static_cast<TimelineLane>(r)),
                    seconds(b.time.busy_s[r]), seconds(meas), ratio(meas, b.time.busy_s[r])});
  }
  std::string s = html_table(rows);
  if (!m.has_summary)
    s += "<p class=\"muted\">" + html_escape(m.dir) +
         "/summary.json is not there (the run has not finished): no measured peak.</p>\n";
  return s;
}

}  // namespace

MeasuredRun load_measured_run(const std::string& dir) {
  MeasuredRun m;
  m.dir = dir;
  const std::string tl_path = dir + "/timeline.json";
  MART_CHECK(is_regular_file(tl_path), "--measured ", dir, ": no ", tl_path,
             "; train with train.trace_step set (e.g. --set train.trace_step=2) so that `mart "
             "train` records one iteration's timeline there");
  m.timeline = load_timeline_file(tl_path);
  const std::string sum_path = dir + "/summary.json";
  if (!is_regular_file(sum_path)) return m;
  const nlohmann::json sj =
      nlohmann::json::parse(read_regular_file(sum_path, "run summary"), nullptr, false);
  MART_CHECK(sj.is_object(), sum_path, " is not a JSON object");
  auto number = [&](const char* key) {
    MART_CHECK(sj.contains(key) && sj[key].is_number() && sj[key].get<double>() >= 0, sum_path,
               ": \"", key, "\" is missing or not a non-negative number");
    return sj[key].get<double>();
  };
  m.has_summary = true;
  m.peak_device_bytes = static_cast<uint64_t>(number("peak_device_bytes"));
  m.median_step_s = number("median_step_s");
  m.tokens_per_s = number("tokens_per_s");
  if (sj.contains("device") && sj["device"].is_string()) m.device = sj["device"].get<std::string>();
  return m;
}

HtmlPage plan_page(const PlanPageInput& in) {
  MART_CHECK(in.profile && in.options && in.result,
             "plan_page: profile, options and result are "
             "required");
  const Profile& p = *in.profile;
  const SearchResult& r = *in.result;
  HtmlPage page("MART plan: " + p.model.name + " on " + p.hardware.name);
  page.add("<h1>MART plan: " + html_escape(p.model.name) + " on " + html_escape(p.hardware.name) +
           "</h1>\n<p class=\"muted\">" + html_escape(in.job) + " &middot; " +
           (r.fits ? "fits" : "does not fit") + "</p>\n");
  page.add_section("summary", "Summary", summary_section(in));
  if (r.fits) page.add_section("plan", "The plan", plan_section(p, r.best));
  if (r.fits || r.has_closest)
    page.add_section("memory", "Memory", memory_section(in, r.fits ? r.best.plan : r.closest));
  StepTimeline sim;
  if (r.fits) {
    sim = plan_timeline(p, r.best.plan, in.options->cost);
    TimelineChartOptions o;
    if (in.measured) o.time_scale_s = std::max(sim.duration_s, in.measured->timeline.duration_s);
    page.add_section("timeline", "Simulated iteration (steady state)",
                     "<p class=\"muted\">The planner's event model of one optimizer step on " +
                         html_escape(p.hardware.name) +
                         "; hover a span for its label, start, duration and bytes.</p>\n" +
                         render_timeline(sim, o));
    page.add_section("block-modes", "Activation modes per block",
                     block_modes_section(p, r.best.plan));
    page.add_section("runner-ups", "Runner-up plans",
                     runner_ups_section(p, r, in.options->prefer_simpler));
  }
  if (in.measured) {
    const MeasuredRun& m = *in.measured;
    TimelineChartOptions o;
    o.time_scale_s = r.fits ? std::max(sim.duration_s, m.timeline.duration_s) : 0;
    page.add_section(
        "measured-timeline",
        "Measured iteration (" + m.dir + ", step " + std::to_string(m.timeline.step) + ")",
        "<p class=\"muted\">Recorded by `mart train` on " + html_escape(m.timeline.device) +
            (r.fits ? "; the same time scale as the simulated iteration above" : "") + ".</p>\n" +
            render_timeline(m.timeline, o));
    if (r.fits)
      page.add_section("predicted-vs-measured", "Predicted versus measured",
                       compare_section(r.best, m));
  }
  return page;
}

}  // namespace mart
