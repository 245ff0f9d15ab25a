// mart: the launcher. Every error reaches the user as one line that names the problem.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "common/error.h"
#include "config/suggest.h"
#include "launcher/commands.h"
#include "launcher/openmp_env.h"

int main(int argc, char** argv) {
  if (mart::cli::command_computes(argc, argv)) mart::cli::ensure_passive_openmp_wait(argv);
  CLI::App app{
      "MART: a memory-aware runtime for training large language models.\n"
      "It measures the model and the machine, plans what stays on the device and what is\n"
      "offloaded, recomputed or swapped, and trains within the memory you have."};
  app.set_version_flag("--version", "mart 0.1.0");
  app.footer(
      "Exit status: 0 success; 1 an error (one line on stderr naming the problem); 2 a bad "
      "command\n"
      "line; 75 (EX_TEMPFAIL) `mart train` stopped early by a signal or time limit and saved a\n"
      "checkpoint: resume it with `mart train --resume DIR` (see mart train --help).");
  app.require_subcommand(1);
  mart::cli::add_train(app);
  mart::cli::add_prepare_data(app);
  mart::cli::add_plan(app);
  mart::cli::add_profile(app);
  mart::cli::add_train_tokenizer(app);
  mart::cli::add_generate(app);
  mart::cli::add_eval(app);
  mart::cli::add_report(app);
  // "mart trian": say which word is wrong and what was meant, not just "subcommand required".
  if (argc > 1 && argv[1][0] != '-') {
    std::vector<std::string> names;
    for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; }))
      names.push_back(sub->get_name());
    if (std::find(names.begin(), names.end(), argv[1]) == names.end()) {
      std::fprintf(stderr, "mart: error: unknown command '%s'%s (see mart --help)\n", argv[1],
                   mart::config_detail::suggestion(argv[1], names).c_str());
      return 2;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const mart::Error& e) {
    std::fprintf(stderr, "mart: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mart: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
