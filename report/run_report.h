// The `mart report` page: one self-contained HTML file about one or more training runs. Several
// runs overlay: every chart draws one series per run (data-run = the run's unique name, colour =
// its index), every table has one row (or block) per run.
//
// Sections, in page order (ids are stable: tests and docs/REPORTS.md name them):
//   runs           a table per run: steps, final/best loss, validation, tokens/s, peak memory, time
//   loss-step      training loss against step (+ reference line: --baseline or entropy rate)
//   loss-tokens    training loss against tokens seen
//   val-loss       validation loss against step, one point per evaluation
//   lr             learning rate against step
//   grad-norm      gradient norm (before clipping) against step; log scale when it spans > 50x
//   tokens-per-s   throughput against step
//   step-time      seconds per optimizer step against step
//   device-memory  measured peak device bytes against step with the planned budget as reference,
//                  and the planned arena regions as a stacked bar per run
//   plan           memory mode, model-state placement, micro-batch, and why (the planner's
//                  object when memory.mode is auto)
//   block-modes    the activation mode of every block, a coloured strip per run
//   predicted      predicted versus measured figures (the plan's budget, the planner's step time)
//   timeline       (only when a run holds timeline.json) the measured iteration timeline
//   config         each run's config.yaml
#pragma once
#include <array>
#include <optional>
#include <string>
#include <vector>

#include "report/html.h"
#include "report/run_files.h"

namespace mart {

struct RunReportOptions {
  std::string title;               // empty: "MART report: NAME, NAME, ..."
  std::optional<double> baseline;  // a loss to draw on the loss charts instead of the entropy rate
};

// The section ids above, in page order ("timeline" included).
const std::vector<std::string>& run_report_section_ids();

// The page for `runs` (their names already unique: run_names). Throws mart::Error when `runs` is
// empty.
HtmlPage build_run_report(const std::vector<RunData>& runs, const RunReportOptions& opt);

// ---- parts (report/run_report_tables.cpp) ---------------------------------------------------
std::string runs_table(const std::vector<RunData>& runs);
std::string plan_section(const std::vector<RunData>& runs);
std::string block_modes_section(const std::vector<RunData>& runs);
std::string predicted_section(const std::vector<RunData>& runs);
std::string device_regions_bars(const std::vector<RunData>& runs);
std::string config_section(const std::vector<RunData>& runs);

}  // namespace mart
