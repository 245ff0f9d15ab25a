// `mart` starts fast where it does not compute (issue 11): `mart plan`, `prepare-data` and
// `--help` neither re-execute themselves for OpenMP nor load the CUDA libraries, which live in
// libmart_cuda.so and are loaded on demand (device/cuda_backend.h). Observed from outside with
// the dynamic linker's own trace (LD_DEBUG=files prints "initialize program: <argv[0]>" once per
// program start and "file=<lib>" for every library loaded), so no hook in mart is needed. Each
// check has its negative control: `mart train` does re-execute, and with CUDA built, does load
// CUDA.
#include <gtest/gtest.h>

#include <string>

#include "integ_util.h"

namespace mart::integ {
namespace {

int count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// Program starts (1, or 2 with the OpenMP re-execution) and whether any CUDA library was loaded.
struct StartTrace {
  int starts = 0;
  bool cuda_loaded = false;
  CmdResult r;
};
StartTrace trace(const std::string& args) {
  StartTrace t;
  t.r = run_cmd("env -u OMP_WAIT_POLICY LD_DEBUG=files " + mart_bin() + " " + args);
  t.starts = count(t.r.output, "initialize program: " MART_BINARY_DIR "/mart\n");  // not `env`
  t.cuda_loaded = t.r.output.find("file=libcudart") != std::string::npos ||
                  t.r.output.find("file=libcudnn") != std::string::npos ||
                  t.r.output.find("file=libcublas") != std::string::npos;
  return t;
}

const std::string kTinyTrain =
    "train --set train.steps=1 --set train.warmup_steps=1 --set train.eval_every=0 "
    "--set model.n_layer=1 --set model.d_model=32 --set model.d_ff=64 --set model.n_head=2 "
    "--set model.n_kv_head=1 --no-progress";

TEST(Startup, MartDoesNotLinkTheCudaLibraries) {
  const CmdResult r = run_cmd("ldd " MART_BINARY_DIR "/mart");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* lib : {"libcudart", "libcudnn", "libcublas"})
    EXPECT_EQ(r.output.find(lib), std::string::npos) << lib << " linked:\n" << r.output;
#ifdef MART_HAVE_CUDA
  // Control: the same check sees them in the backend library, where they belong.
  const CmdResult so = run_cmd("ldd " MART_BINARY_DIR "/libmart_cuda.so");
  ASSERT_EQ(so.exit_code, 0) << so.output;
  EXPECT_NE(so.output.find("libcudart"), std::string::npos) << so.output;
#endif
}

TEST(Startup, PlanStartsOnceAndLoadsNoCuda) {
  const StartTrace p =
      trace("plan " MART_SOURCE_DIR "/configs/jobs/llama-70b.yaml --hardware h100-sxm --json");
  EXPECT_EQ(p.starts, 1) << p.r.output.substr(0, 4000);
  EXPECT_FALSE(p.cuda_loaded);
  EXPECT_NE(p.r.output.find("\"fits\""), std::string::npos) << p.r.output.substr(0, 4000);
}

TEST(Startup, HelpAndPrepareDataStartOnceAndLoadNoCuda) {
  for (const std::string args : {"--help", "plan --help", "prepare-data --help"}) {
    SCOPED_TRACE(args);
    const StartTrace t = trace(args);
    EXPECT_EQ(t.r.exit_code, 0) << t.r.output.substr(0, 4000);
    EXPECT_EQ(t.starts, 1);
    EXPECT_FALSE(t.cuda_loaded);
  }
}

// The control: train re-executes once (OMP_WAIT_POLICY=PASSIVE), and backend "auto" asks CUDA
// (which loads it, in a CUDA build, and falls back to the CPU here, without a GPU).
TEST(Startup, TrainReexecutesAndAsksCuda) {
  TempDir tmp;
  const StartTrace t =
      trace(kTinyTrain + " --set backend=auto --run-dir " + sh_quote(tmp.file("run")));
  ASSERT_EQ(t.r.exit_code, 0) << t.r.output.substr(
      t.r.output.size() > 4000 ? t.r.output.size() - 4000 : 0);
  EXPECT_EQ(t.starts, 2);
#ifdef MART_HAVE_CUDA
  EXPECT_TRUE(t.cuda_loaded);
#else
  EXPECT_FALSE(t.cuda_loaded);
#endif
}

// An unloadable backend library: "cuda" fails naming the path tried; "auto" trains on the CPU.
TEST(Startup, MissingBackendLibraryIsExplainedAndAutoFallsBack) {
  TempDir tmp;
  const std::string env = "MART_CUDA_LIBRARY=/nonexistent/libmart_cuda.so ";
  const CmdResult cuda = run_cmd("env " + env + mart_bin() + " " + kTinyTrain +
                                 " --set backend=cuda --run-dir " + sh_quote(tmp.file("c")));
  EXPECT_NE(cuda.exit_code, 0) << cuda.output;
#ifdef MART_HAVE_CUDA
  EXPECT_NE(cuda.output.find("/nonexistent/libmart_cuda.so"), std::string::npos) << cuda.output;
  EXPECT_NE(cuda.output.find("could not be loaded"), std::string::npos) << cuda.output;
#else
  EXPECT_NE(cuda.output.find("built without CUDA"), std::string::npos) << cuda.output;
#endif
  const CmdResult aut = run_cmd("env " + env + mart_bin() + " " + kTinyTrain +
                                " --set backend=auto --run-dir " + sh_quote(tmp.file("a")));
  EXPECT_EQ(aut.exit_code, 0) << aut.output;
  EXPECT_NE(aut.output.find("mart: done"), std::string::npos) << aut.output;
}

}  // namespace
}  // namespace mart::integ
