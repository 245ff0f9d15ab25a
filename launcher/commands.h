// The `mart` subcommands. Each registers itself on the CLI11 app and runs when selected.
#pragma once
#include <CLI/CLI.hpp>

namespace mart::cli {

void add_train(CLI::App& app);
void add_prepare_data(CLI::App& app);
void add_plan(CLI::App& app);     // cmd_plan.cpp
void add_profile(CLI::App& app);  // cmd_profile.cpp
void add_train_tokenizer(CLI::App& app);
void add_generate(CLI::App& app);  // cmd_generate.cpp
void add_eval(CLI::App& app);      // cmd_eval.cpp
void add_report(CLI::App& app);    // cmd_report.cpp

}  // namespace mart::cli
