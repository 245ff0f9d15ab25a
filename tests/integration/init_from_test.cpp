// `mart train --init-from DIR` builds the model from DIR's config.json. Before, the job config's
// architecture was used: a Llama checkpoint with rope_theta 500000 and rms_norm_eps 1e-6 trained
// silently with 10000 and 1e-5, and a job config that did not restate the architecture failed with
// "tensor ... is missing".
#include <gtest/gtest.h>

#include "tests/integration/integ_util.h"

namespace mart::integ {
namespace {

constexpr const char* kFlags =
    " --no-progress --set train.steps=3 --set train.warmup_steps=1 --set train.seq_len=16"
    " --set train.micro_batch=2 --set train.eval_every=0";

// A two-step Llama run with rope_theta 500000 and eps 1e-6, its weights copied out as a Hugging
// Face folder (hf/: config.json + model.safetensors) and as a bare file (bare/model.safetensors).
struct Source {
  TempDir tmp;
  std::string run = tmp.file("src"), hf = tmp.file("hf"), bare = tmp.file("bare");
  Source() {
    JobConfig c = tiny_job(ModelFamily::Llama, 2);
    c.model.rope_theta = 500000.0f;
    c.model.norm_eps = 1e-6f;
    validate(c);
    train(c, run);
    fs::create_directories(hf);
    fs::create_directories(bare);
    for (const char* f : {"model.safetensors", "config.json"})
      fs::copy_file(latest_dir(run) + "/model/" + f, hf + "/" + f);
    fs::copy_file(latest_dir(run) + "/model/model.safetensors", bare + "/model.safetensors");
  }
  // The tiny model's architecture as job-config YAML, with the given rope_theta and norm_eps.
  std::string job_yaml(const std::string& name, const char* theta, const char* eps) const {
    const std::string path = tmp.file(name);
    write_all(path, str("model:\n  family: llama\n  n_layer: 2\n  d_model: 32\n  n_head: 4\n",
                        "  n_kv_head: 2\n  d_ff: 64\n  vocab_size: 32\n  max_seq_len: 32\n",
                        "  rope_theta: ", theta, "\n  norm_eps: ", eps, "\n"));
    return path;
  }
  CmdResult train_cli(const std::string& args, const std::string& run_name) const {
    return run_cmd(mart_bin() + " train " + args + kFlags + " --run-dir " +
                   sh_quote(tmp.file(run_name)));
  }
  std::vector<double> losses(const std::string& run_name) const {
    return losses_of(read_metrics(tmp.file(run_name)));
  }
};

TEST(InitFrom, NoArchitectureInTheJobConfigTrainsTheCheckpointsModel) {
  Source s;
  // No job config at all: every model key comes from hf/config.json.
  CmdResult r = s.train_cli("--init-from " + sh_quote(s.hf), "a");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const JobConfig used = load_job_config(s.tmp.file("a/config.yaml"));
  EXPECT_EQ(used.model.rope_theta, 500000.0f);
  EXPECT_EQ(used.model.norm_eps, 1e-6f);
  EXPECT_EQ(used.model.n_kv_head, 2);
  // The same losses as a run whose job config states rope_theta 500000 and eps 1e-6.
  r = s.train_cli(
      sh_quote(s.job_yaml("b.yaml", "500000", "1e-6")) + " --init-from " + sh_quote(s.hf), "b");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(s.losses("a"), s.losses("b"));
  ASSERT_EQ(s.losses("a").size(), 3u);
  // A MART run directory works the same way (its newest checkpoint's config.json).
  r = s.train_cli("--init-from " + sh_quote(s.run), "e");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(s.losses("a"), s.losses("e"));
  // Negative control: the same weights under the job's defaults (10000, 1e-5), through a bare
  // file whose folder has no config.json, train to other losses -- the test can see the values.
  r = s.train_cli(sh_quote(s.job_yaml("c.yaml", "10000", "1e-5")) + " --init-from " +
                      sh_quote(s.bare + "/model.safetensors"),
                  "c");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(s.losses("a"), s.losses("c"));
}

TEST(InitFrom, AStatedValueThatDiffersIsRefusedNamingBothValuesAndFiles) {
  Source s;
  const std::string yaml = s.tmp.file("d.yaml");
  write_all(yaml, "model:\n  rope_theta: 10000\n");
  const CmdResult r = s.train_cli(sh_quote(yaml) + " --init-from " + sh_quote(s.hf), "d");
  EXPECT_NE(r.exit_code, 0);
  for (const std::string& want : {std::string("model.rope_theta"), std::string("10000 in ") + yaml,
                                  "500000 in " + s.hf + "/config.json"})
    EXPECT_TRUE(has(r.output, want)) << want << "\n" << r.output;
  EXPECT_FALSE(fs::exists(s.tmp.file("d/metrics.jsonl")));
  // Control: stating the checkpoint's own value is accepted.
  write_all(yaml, "model:\n  rope_theta: 500000\n");
  const CmdResult ok = s.train_cli(sh_quote(yaml) + " --init-from " + sh_quote(s.hf), "d2");
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
}

}  // namespace
}  // namespace mart::integ
