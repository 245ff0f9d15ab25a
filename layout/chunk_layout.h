// Chunk layout: model-state tensors packed, in execution order, into equal-capacity chunks.
// Pure (sizes in, layout out): the chunk manager lays chunks out with it at run time and the
// planner predicts with it, so both agree byte for byte.
//
// Rules: tensors are appended in the given order (the order of first use in forward); a tensor
// that does not fit in what is left of the current chunk starts a new chunk; every tensor starts
// at a multiple of kTensorAlign elements; chunk capacity must hold the largest tensor.
// Glued runs: where glue[t] is true, tensor t+1 follows tensor t immediately (no padding) in the
// same chunk, so a run of glued tensors is one matrix to the kernels (Llama's q|k|v and
// gate|up). A run is placed as a unit; capacity must hold the largest run.
#pragma once
#include <cstdint>
#include <vector>

namespace mart {

struct ChunkLayout {
  static constexpr uint64_t kTensorAlign = 128;  // elements: 256 B in bf16, 512 B in fp32
  uint64_t chunk_elems = 0;                      // capacity of every chunk
  std::vector<uint64_t> chunk_used;             // elements used per chunk (incl. alignment padding)
  std::vector<int> tensor_chunk;                // chunk holding each tensor
  std::vector<uint64_t> tensor_offset;          // element offset of each tensor inside its chunk
  std::vector<std::vector<int>> chunk_tensors;  // tensors of each chunk, in order

  int n_chunks() const { return static_cast<int>(chunk_used.size()); }
  // Elements of capacity not holding tensor data (tails and padding), over all chunks.
  uint64_t waste(const std::vector<uint64_t>& numel) const;
};

// Throws mart::Error when chunk_elems is smaller than the largest run of tensors.
ChunkLayout layout_chunks(const std::vector<uint64_t>& numel, uint64_t chunk_elems,
                          const std::vector<bool>& glue = {});

// Chunk capacity (elements) with the least waste over a grid of candidate sizes: 32, 48, 64, 96,
// 128, 192 and 256 MiB of `elem_bytes`-byte elements, plus total/k for k = 2..64 (so small models
// get several chunks), each rounded up to kTensorAlign and at least the largest tensor. Ties go to
// the smaller chunk (finer-grained offload).
uint64_t choose_chunk_elems(const std::vector<uint64_t>& numel, uint64_t elem_bytes,
                            const std::vector<bool>& glue = {});

}  // namespace mart
