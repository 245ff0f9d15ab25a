// The cuDNN version rules for MART's SDPA graphs (cuda/cudnn_policy.h). Pure functions of the
// version number, so these run on every machine, GPU or not. Each rule is checked on both sides
// of its boundary: a policy that refused or allowed everything fails here.
#include <gtest/gtest.h>

#include "cuda/cudnn_policy.h"

namespace mart::cuda {
namespace {

TEST(CudnnPolicy, DecodesVersionNumbers) {
  EXPECT_EQ(cudnn_version_string(91001), "9.10.1");
  EXPECT_EQ(cudnn_version_string(91900), "9.19.0");
  const CudnnVersion v = cudnn_version_parts(90602);
  EXPECT_EQ(v.major, 9);
  EXPECT_EQ(v.minor, 6);
  EXPECT_EQ(v.patch, 2);
}

TEST(CudnnPolicy, RefusesBackwardOn9100And9101Only) {
  for (size_t v : {91000, 91001}) {
    const std::string why = cudnn_sdpa_refusal(v, true, 256, 64);
    EXPECT_NE(why.find("wrong bf16 attention backward"), std::string::npos) << v << ": " << why;
    EXPECT_EQ(cudnn_sdpa_refusal(v, false, 256, 64), "") << "forward is fine on " << v;
  }
  for (size_t v : {90900, 91002, 91100, 91900}) EXPECT_EQ(cudnn_sdpa_refusal(v, true, 256, 64), "");
}

TEST(CudnnPolicy, BackwardBelow916NeedsTMultipleOf128) {
  const std::string why = cudnn_sdpa_refusal(91501, true, 100, 64);
  EXPECT_NE(why.find("T % 128 == 0"), std::string::npos) << why;
  EXPECT_NE(why.find("9.15.1"), std::string::npos) << "names the loaded version: " << why;
  EXPECT_EQ(cudnn_sdpa_refusal(91501, true, 128, 64), "");
  EXPECT_EQ(cudnn_sdpa_refusal(91501, false, 100, 64), "") << "the rule is backward only";
  EXPECT_EQ(cudnn_sdpa_refusal(91600, true, 100, 64), "");
  EXPECT_EQ(cudnn_sdpa_refusal(91900, true, 64, 64), "");
}

TEST(CudnnPolicy, HeadSizeMustBeMultipleOf8UpTo256) {
  for (bool backward : {false, true}) {
    EXPECT_NE(cudnn_sdpa_refusal(91900, backward, 128, 20), "");
    EXPECT_NE(cudnn_sdpa_refusal(91900, backward, 128, 264), "");
    EXPECT_EQ(cudnn_sdpa_refusal(91900, backward, 128, 256), "");
    EXPECT_EQ(cudnn_sdpa_refusal(91900, backward, 128, 8), "");
  }
}

}  // namespace
}  // namespace mart::cuda
