// Loader errors: unknown keys, wrong types, bad sizes, duplicates, syntax. Each names the key
// path, the file and line, and a fix.
#include <gtest/gtest.h>

#include "config_test_util.h"

namespace mart {
namespace {

using test::load_error;

#define EXPECT_HAS(msg, sub) EXPECT_NE((msg).find(sub), std::string::npos) << (msg)

TEST(ConfigYamlErrors, UnknownSectionKeyWithSuggestionAndLine) {
  std::string e = load_error("name: x\ntrain:\n  steps: 3\n  lrr: 0.1\n");
  EXPECT_HAS(e, "train.lrr: unknown key");
  EXPECT_HAS(e, "(config.yaml:4)");
  EXPECT_HAS(e, "did you mean 'lr'?");
}

TEST(ConfigYamlErrors, UnknownTopLevelKey) {
  std::string e = load_error("\ntrian:\n  lr: 0.1\n");
  EXPECT_HAS(e, "trian: unknown key (config.yaml:2)");
  EXPECT_HAS(e, "did you mean 'train'?");
}

TEST(ConfigYamlErrors, UnknownKeyFarFromAnyListsValidKeys) {
  std::string e = load_error("memory:\n  zzzzzzzzzzzz: 1\n");
  EXPECT_HAS(e, "memory.zzzzzzzzzzzz: unknown key");
  EXPECT_HAS(e, "valid choices: device_capacity, mode, n_persist, n_buffer, chunk_size");
}

TEST(ConfigYamlErrors, UnknownModelKeySuggestsFieldName) {
  std::string e = load_error("model:\n  preset: tiny-llama\n  n_layers: 3\n");
  EXPECT_HAS(e, "model.n_layers: unknown key (config.yaml:3)");
  EXPECT_HAS(e, "did you mean 'n_layer'?");
}

TEST(ConfigYamlErrors, WrongTypeNamesPathExpectedAndFoundValue) {
  std::string e = load_error("train:\n  lr: fast\n");
  EXPECT_HAS(e, "train.lr: expected a number, got 'fast' (config.yaml:2)");
  e = load_error("train:\n  steps: 1.5\n");
  EXPECT_HAS(e, "train.steps: expected an integer, got '1.5' (config.yaml:2)");
  e = load_error("model:\n  tied_embeddings: maybe\n");
  EXPECT_HAS(e, "model.tied_embeddings: expected true or false, got 'maybe'");
  e = load_error("data:\n  synthetic_seed: -1\n");
  EXPECT_HAS(e, "data.synthetic_seed: expected a non-negative integer, got '-1'");
  e = load_error("name: [a, b]\n");
  EXPECT_HAS(e, "name: expected a string, got a list (config.yaml:1)");
  e = load_error("activations:\n  modes: {a: 1}\n");
  EXPECT_HAS(e, "activations.modes: expected a list of strings, got a mapping");
  e = load_error("activations:\n  modes: [keep, [swap]]\n");
  EXPECT_HAS(e, "activations.modes[1]: expected a string, got a list");
  e = load_error("train: 5\n");
  EXPECT_HAS(e, "train: expected a mapping of train keys, got '5'");
  e = load_error("- a\n- b\n");
  EXPECT_HAS(e, "expected a mapping of sections");
}

TEST(ConfigYamlErrors, EmptyValueIsNamedAtItsKeyLine) {
  std::string e = load_error("train:\n  steps: 3\n  lr:\n");
  EXPECT_HAS(e, "train.lr: expected a number, got nothing (config.yaml:3)");
}

TEST(ConfigYamlErrors, OutOfRangeNumbers) {
  EXPECT_HAS(load_error("train:\n  steps: 99999999999\n"), "out of range for a 32-bit integer");
  EXPECT_HAS(load_error("train:\n  lr: 1e60\n"), "out of range for a 32-bit float");
  EXPECT_HAS(load_error("train:\n  lr: nan\n"), "train.lr: expected a finite number, got 'nan'");
}

TEST(ConfigYamlErrors, UnknownFamilySuggests) {
  std::string e = load_error("model:\n  family: lama\n");
  EXPECT_HAS(e, "model.family: unknown model family 'lama'");
  EXPECT_HAS(e, "did you mean 'llama'?");
}

TEST(ConfigYamlErrors, BadSizeUnit) {
  std::string e = load_error("memory:\n  chunk_size: 64XB\n");
  EXPECT_HAS(e, "memory.chunk_size: invalid size '64XB'");
  EXPECT_HAS(e, "unknown unit");
  EXPECT_HAS(e, "(config.yaml:2)");
  EXPECT_EQ(e.find("units.cpp"), std::string::npos) << e;  // no internal source tag
  e = load_error("memory:\n  device_capacity: lots\n");
  EXPECT_HAS(e, "memory.device_capacity: invalid size 'lots'");
  e = load_error("memory:\n  device_capacity: [1]\n");
  EXPECT_HAS(e, "memory.device_capacity: expected a size");
}

TEST(ConfigYamlErrors, DuplicateKeyNamesBothLines) {
  std::string e = load_error("train:\n  lr: 0.1\n  steps: 3\n  lr: 0.2\n");
  EXPECT_HAS(e, "train.lr: given twice (config.yaml:2) and (config.yaml:4)");
}

TEST(ConfigYamlErrors, SyntaxErrorHasLineAndColumn) {
  std::string e = load_error("train:\n  lr: [0.1\n");
  EXPECT_HAS(e, "config.yaml:");
  EXPECT_HAS(e, "YAML syntax error");
}

TEST(ConfigYamlErrors, ValidationErrorNamesOrigin) {
  std::string e = load_error("train:\n  lr: -1\n");
  EXPECT_HAS(e, "invalid job config (config.yaml)");
  EXPECT_HAS(e, "train.lr = -1");
}

TEST(ConfigSizes, IntegersUnitsAndAuto) {
  auto load = [](const std::string& y) { return job_config_from_yaml_string(y, "c.yaml").memory; };
  EXPECT_EQ(load("memory: {chunk_size: 4096}").chunk_size, 4096u);
  EXPECT_EQ(load("memory: {chunk_size: 64MiB}").chunk_size, 64u << 20);
  EXPECT_EQ(load("memory: {chunk_size: 64M}").chunk_size, 64u << 20);
  EXPECT_EQ(load("memory: {chunk_size: '1.5GB'}").chunk_size, 1500000000u);
  EXPECT_EQ(load("memory: {chunk_size: 2 KiB}").chunk_size, 2048u);
  EXPECT_EQ(load("memory: {chunk_size: auto}").chunk_size, 0u);
  EXPECT_EQ(load("memory: {chunk_size: 1MiB, device_capacity: AUTO}").device_capacity, 0u);
  EXPECT_EQ(load("memory: {device_capacity: 80GiB}").device_capacity, 80ull << 30);
  EXPECT_EQ(load("memory: {device_capacity: 16000000000}").device_capacity, 16000000000ull);
}

}  // namespace
}  // namespace mart
