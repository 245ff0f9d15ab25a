// mart report RUN_DIR... [-o PATH] [--baseline LOSS] [--title T]: one self-contained HTML page
// (report/run_report.h) about one or more training runs; several runs overlay on every chart.
// Reads the run directories only, so it works on a run that is still training. Prints the path
// it wrote.
#include <cmath>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "launcher/commands.h"
#include "report/run_files.h"
#include "report/run_report.h"

namespace mart::cli {
namespace {

struct ReportArgs {
  std::vector<std::string> runs;
  std::string out;  // empty: RUN/report.html for one run, ./report.html for several
  std::optional<double> baseline;
  std::string title;
};

void run_report(const ReportArgs& a) {
  if (a.baseline)
    MART_CHECK(std::isfinite(*a.baseline), "--baseline ", *a.baseline,
               ": must be a finite loss in nats/token, e.g. --baseline 1.5");
  std::vector<RunData> runs;
  const std::vector<std::string> names = run_names(a.runs);
  for (size_t i = 0; i < a.runs.size(); ++i) {
    runs.push_back(read_run_dir(a.runs[i]));
    runs.back().name = names[i];
  }
  RunReportOptions opt;
  opt.title = a.title;
  opt.baseline = a.baseline;
  const std::string out = !a.out.empty()       ? a.out
                          : a.runs.size() == 1 ? a.runs[0] + "/report.html"
                                               : "report.html";
  build_run_report(runs, opt).write(out);
  std::printf("%s\n", out.c_str());
}

}  // namespace

void add_report(CLI::App& app) {
  auto a = std::make_shared<ReportArgs>();
  CLI::App* c = app.add_subcommand(
      "report",
      "One self-contained HTML page about training runs: loss against steps and tokens (with the\n"
      "corpus entropy rate or --baseline as a reference), validation loss, learning rate,\n"
      "gradient norm, tokens/s, step time, device memory (planned and measured), the plan and\n"
      "why, per-block activation modes, predicted versus measured. Several run directories\n"
      "overlay their curves. Opens offline in any browser (no scripts, inline SVG).");
  c->add_option("run_dir", a->runs, "Run directories written by `mart train` (one or more)")
      ->required();
  c->add_option("-o,--output", a->out,
                "Where to write the page (default: RUN_DIR/report.html for one run, "
                "./report.html for several)");
  c->add_option("--baseline", a->baseline,
                "A loss (nats/token) drawn as the reference line on the loss charts, instead of "
                "the built-in corpus's entropy rate");
  c->add_option("--title", a->title, "The page title (default: the run names)");
  c->callback([a] { run_report(*a); });
}

}  // namespace mart::cli
