// What the chunk pipeline moves and holds, counted exactly: uploads, buffer reuse between forward
// and backward, gradient offloads and re-uploads under accumulation, device bytes (the arena's
// peak equals the chunk formula of layout/chunk_memory.h plus the executor's regions,
// region by region) and pinned host bytes.
#include <gtest/gtest.h>

#include <numeric>

#include "tests/runtime_chunks/chunk_test_util.h"

namespace mart::chunks {
namespace {

uint64_t used_elems(const ChunkLayout& L, int from) {
  uint64_t n = 0;
  for (int c = from; c < L.n_chunks(); ++c) n += L.chunk_used[c];
  return n;
}

// The fp32 (CPU backend) chunk bytes written out independently of chunk_memory.cpp: a persistent
// chunk holds [param|grad] + m + v; a buffer holds [param|grad]; plus one fp32 norm per tensor.
uint64_t chunk_device_bytes_by_hand(const ChunkLayout& L, int n_persist, int n_buffer,
                                    size_t n_tensors) {
  const uint64_t e = L.chunk_elems;
  const int np = n_persist < 0 ? L.n_chunks() : n_persist;
  const int nb = np == L.n_chunks() ? 0 : n_buffer;
  return np * arena_round(e * 16) + nb * arena_round(e * 8) + arena_round(n_tensors * 4);
}

class ChunkPipelineStats : public ::testing::TestWithParam<ModelFamily> {};

// With a buffer for every offloaded chunk nothing is evicted within a step: each chunk is uploaded
// once per step (forward), backward and later micro-batches reuse it, and its gradients go out
// once per micro-batch and come back once per further micro-batch.
TEST_P(ChunkPipelineStats, EveryChunkBufferedUploadsOncePerStep) {
  const ModelConfig m = small_model(GetParam());
  RigOptions o;
  o.chunked = true;
  o.direct_manager = true;
  o.n_persist = 1;
  const ChunkLayout L = layout_for(build_model_spec(m), o.chunk_bytes);
  const int off = L.n_chunks() - o.n_persist;
  o.n_buffer = off;
  ChunkRig rig(m, o);
  RunOptions r;
  r.steps = 3;
  r.grad_accum = 2;
  r.grad_clip = 0.05f;
  run_steps(rig, r);
  const ChunkManagerStats& s = rig.manager().stats();
  const uint64_t bytes = used_elems(L, o.n_persist) * 4;
  EXPECT_EQ(s.uploads, 3u * off);
  EXPECT_EQ(s.upload_bytes, 3u * bytes);
  EXPECT_EQ(s.offloads, 3u * 2 * off);
  EXPECT_EQ(s.offload_bytes, 3u * 2 * bytes);
  EXPECT_EQ(s.grad_reuploads, 3u * off);
  EXPECT_GT(s.buffer_hits, 0u);
}

std::vector<int> chunks_of_group(const ModelSpec& spec, const ChunkLayout& L, int group) {
  std::vector<int> cs;
  for (size_t t = 0; t < spec.params.size(); ++t)
    if (spec.params[t].group == group &&
        std::find(cs.begin(), cs.end(), L.tensor_chunk[t]) == cs.end())
      cs.push_back(L.tensor_chunk[t]);
  return cs;
}

// With the fewest buffers chunks are evicted and uploaded again within a step, yet some
// acquisitions find their chunk still (or already, by prefetch) in a buffer.
TEST_P(ChunkPipelineStats, FewestBuffersEvictAndStillHit) {
  const ModelConfig m = small_model(GetParam());
  const ModelSpec spec = build_model_spec(m);
  const ChunkLayout L = layout_for(spec, kSmallChunkBytes);
  RigOptions o;
  o.chunked = true;
  o.direct_manager = true;
  o.n_persist = 0;
  o.n_buffer = min_chunk_buffers(spec, L, 0);
  ChunkRig rig(m, o);
  RunOptions r;
  r.steps = 2;
  run_steps(rig, r);
  const ChunkManagerStats& s = rig.manager().stats();
  // Chunk acquisitions per step: every chunk of every group in the use sequence. Each is a hit
  // or an upload on demand; prefetches add uploads (a prefetched chunk then counts as a hit).
  uint64_t acquisitions = 0;
  for (const ChunkUse& u : executor_use_sequence(spec))
    acquisitions += chunks_of_group(spec, L, u.group).size();
  EXPECT_GT(s.buffer_hits, 0u);
  EXPECT_LE(s.buffer_hits, 2 * acquisitions);
  EXPECT_GE(s.uploads + s.buffer_hits, 2 * acquisitions);
  EXPECT_GT(s.uploads, 2u * L.n_chunks()) << "with the fewest buffers some chunk is re-uploaded";
  EXPECT_EQ(s.offloads, 2u * L.n_chunks());
  EXPECT_EQ(s.grad_reuploads, 0u);
}

// The chunks of the last block are still in their buffers when backward reaches that block (the
// head runs in between): uploaded once per step, for forward, and reused by backward. Two spare
// buffers leave room for the head's chunks (GPT-2's head also holds the embedding's chunk).
TEST_P(ChunkPipelineStats, LastBlocksChunksAreReusedByBackward) {
  const ModelConfig m = small_model(GetParam());
  const ModelSpec spec = build_model_spec(m);
  const ChunkLayout L = layout_for(spec, kSmallChunkBytes);
  RigOptions o;
  o.chunked = true;
  o.direct_manager = true;
  o.trace_copies = true;
  o.n_persist = 0;
  o.n_buffer = min_chunk_buffers(spec, L, 0) + 2;
  ASSERT_LT(o.n_buffer, L.n_chunks()) << "the buffers must not hold the whole model";
  ChunkRig rig(m, o);
  const int steps = 3;
  RunOptions r;
  r.steps = steps;
  run_steps(rig, r);
  std::vector<int> uploads(L.n_chunks(), 0);
  for (const CopyRecord& c : rig.manager().copy_log())
    if (c.upload) ++uploads[c.chunk];
  const std::vector<int> last = chunks_of_group(spec, L, spec.cfg.n_layer);
  for (int c : last) EXPECT_EQ(uploads[c], steps) << "chunk " << c << " of the last block";
  // ... while the first block's chunks, needed first by forward and last by backward, are not.
  int first_block_reuploads = 0;
  for (int c : chunks_of_group(spec, L, 1))
    if (std::find(last.begin(), last.end(), c) == last.end())
      first_block_reuploads += uploads[c] > steps;
  EXPECT_GT(first_block_reuploads, 0);
  EXPECT_GT(rig.manager().stats().buffer_hits, 0u);
}

// Device bytes: the arena's peak is the chunk formula plus the executor's own regions, exactly;
// every chunk region is where the formula puts it; pinned host bytes are exact too.
TEST_P(ChunkPipelineStats, DeviceAndHostBytesMatchTheFormulas) {
  const ModelConfig m = small_model(GetParam());
  ChunkRig resident(m, RigOptions{});
  run_steps(resident, RunOptions{.steps = 1});
  const ModelSpec& spec = resident.spec;
  const uint64_t resident_states = resident_state_bytes(spec, DType::F32);
  // What the executor takes besides model states, measured on the resident run.
  const uint64_t executor_bytes = resident.arena->stats().peak_in_use - resident_states;
  EXPECT_EQ(resident.arena->stats().peak_in_use, resident.budget.total());

  const ChunkLayout L = layout_for(spec, kSmallChunkBytes);
  const int nc = L.n_chunks(), nt = static_cast<int>(spec.params.size());
  const int need = min_chunk_buffers(spec, L, 0);
  struct Combo {
    int np, nb;
  };
  for (Combo c : {Combo{0, need}, Combo{0, need + 2}, Combo{nc / 2, need}, Combo{nc - 1, need},
                  Combo{-1, 2}}) {
    SCOPED_TRACE("n_persist " + std::to_string(c.np) + ", n_buffer " + std::to_string(c.nb));
    RigOptions o;
    o.chunked = true;
    o.direct_manager = true;
    o.n_persist = c.np;
    o.n_buffer = c.np < 0 ? c.nb : std::max(c.nb, min_chunk_buffers(spec, L, c.np));
    ChunkRig rig(m, o);
    run_steps(rig, RunOptions{.steps = 2});
    const uint64_t chunk_bytes = chunk_state_device_bytes(L, c.np, o.n_buffer, 4, nt);
    EXPECT_EQ(chunk_bytes, chunk_device_bytes_by_hand(L, c.np, o.n_buffer, nt));
    EXPECT_EQ(rig.manager().stats().device_bytes, chunk_bytes);
    EXPECT_EQ(rig.arena->stats().peak_in_use, chunk_bytes + executor_bytes);
    EXPECT_EQ(rig.arena->stats().peak_in_use, rig.budget.total());
    const int np = c.np < 0 ? nc : c.np;
    const auto& tags = rig.arena->stats().by_tag;
    auto tag = [&](const char* t) { return tags.count(t) ? tags.at(t) : 0; };
    EXPECT_EQ(tag("chunk_persist"), np * arena_round(L.chunk_elems * 16));
    EXPECT_EQ(tag("chunk_buffer"), np < nc ? o.n_buffer * arena_round(L.chunk_elems * 8) : 0);
    EXPECT_EQ(tag("grad_norms"), arena_round(nt * 4));
    // Pinned host: master, m, v and the gradient landing buffer per offloaded chunk (fp32: the
    // master is the upload source), nothing else.
    const uint64_t host = chunk_state_host_bytes(L, c.np, 4);
    EXPECT_EQ(host, static_cast<uint64_t>(nc - np) * L.chunk_elems * 16);
    EXPECT_EQ(rig.manager().stats().host_bytes, host);
    EXPECT_EQ(rig.host->stats().total.in_use, host);
    EXPECT_NO_THROW(rig.host->check_invariants());
  }
}

INSTANTIATE_TEST_SUITE_P(Families, ChunkPipelineStats,
                         ::testing::Values(ModelFamily::Llama, ModelFamily::GPT2),
                         [](const auto& i) { return std::string(family_tag(i.param)); });

}  // namespace
}  // namespace mart::chunks
