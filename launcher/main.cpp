// mart: the launcher. Every error reaches the user as one line that names the problem.
#include <cstdio>

#include "common/error.h"
#include "launcher/commands.h"

int main(int argc, char** argv) {
  CLI::App app{
      "MART: a memory-aware runtime for training large language models.\n"
      "It measures the model and the machine, plans what stays on the device and what is\n"
      "offloaded, recomputed or swapped, and trains within the memory you have."};
  app.set_version_flag("--version", "mart 0.1.0");
  app.require_subcommand(1);
  mart::cli::add_train(app);
  mart::cli::add_prepare_data(app);
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
