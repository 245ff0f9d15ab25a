// The `mart` subcommands. Each registers itself on the CLI11 app and runs when selected.
#pragma once
#include <CLI/CLI.hpp>

namespace mart::cli {

void add_train(CLI::App& app);
void add_prepare_data(CLI::App& app);
void add_plan(CLI::App& app);     // cmd_plan.cpp
void add_profile(CLI::App& app);  // cmd_profile.cpp
// cmd_generate.cpp
void add_generate(CLI::App& app);

}  // namespace mart::cli
