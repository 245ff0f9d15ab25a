// Fuzz target: the safetensors reader (io/safetensors.h). The input is the whole file. After a
// successful open every tensor view must keep the reader's promises (size == numel x dtype size)
// and every byte it points at is read, so a view past the mapped data faults under the fuzzer.
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "io/safetensors.h"
#include "tests/fuzz/targets/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static mart::fuzz::ScratchFile scratch("safetensors");
  const std::string& path = scratch.write(data, size);
  mart::fuzz::expect_only_mart_errors([&] {
    mart::SafetensorsFile f(path);
    uint64_t total = 0, sum = 0;
    for (const std::string& name : f.names()) {
      const mart::TensorView& t = f.tensor(name);
      const int64_t numel = t.numel();
      if (numel < 0 || static_cast<uint64_t>(numel) * mart::dtype_size(t.dtype) != t.nbytes) {
        std::fprintf(stderr,
                     "FUZZ FINDING: tensor '%s' accepted with nbytes %llu != numel %lld x "
                     "dtype size\n",
                     name.c_str(), static_cast<unsigned long long>(t.nbytes),
                     static_cast<long long>(numel));
        std::abort();
      }
      for (uint64_t i = 0; i < t.nbytes; ++i) sum += static_cast<uint8_t>(t.data[i]);
      total += t.nbytes;
    }
    if (total + 8 > size) {  // the tensors cannot hold more bytes than the file
      std::fprintf(stderr, "FUZZ FINDING: %llu tensor bytes accepted from a %zu-byte file\n",
                   static_cast<unsigned long long>(total), size);
      std::abort();
    }
    (void)f.tensor("fuzz: a name no file holds");  // must be a mart::Error, not a crash
    (void)sum;
  });
  return 0;
}
