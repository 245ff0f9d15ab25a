// Loads libmart_cuda.so once, on demand (device/cuda_backend.h says where it looks and why).
#include <dlfcn.h>
#include <link.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

#include "common/error.h"
#include "device/cuda_backend.h"

namespace mart {
namespace {

struct Loaded {
  const CudaBackend* backend = nullptr;
  std::string error;  // "" when backend != nullptr
};

// Directory of the running executable ("" when /proc is unavailable).
std::string executable_dir() {
  std::vector<char> buf(4096);
  const ssize_t n = readlink("/proc/self/exe", buf.data(), buf.size() - 1);
  if (n <= 0) return "";
  std::string path(buf.data(), static_cast<size_t>(n));
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "" : path.substr(0, slash);
}

// Path of the loaded object whose segments hold `addr` ("" for the executable itself, whose
// dl_iterate_phdr name is empty, or when none does).
std::string object_path_of(const void* addr) {
  struct Find {
    uintptr_t addr;
    std::string path;
  } find{reinterpret_cast<uintptr_t>(addr), ""};
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void* data) {
        auto* f = static_cast<Find*>(data);
        for (int i = 0; i < info->dlpi_phnum; ++i) {
          const ElfW(Phdr)& ph = info->dlpi_phdr[i];
          const uintptr_t lo = info->dlpi_addr + ph.p_vaddr;
          if (ph.p_type == PT_LOAD && f->addr >= lo && f->addr < lo + ph.p_memsz) {
            f->path = info->dlpi_name ? info->dlpi_name : "";
            return 1;
          }
        }
        return 0;
      },
      &find);
  return find.path;
}

// Directory of the shared object this loader is linked into ("" when it is the executable):
// libmart.so loaded by a Python process lives far from python's binary.
std::string loader_object_dir() {
  const std::string path = object_path_of(reinterpret_cast<const void*>(&executable_dir));
  if (path.empty()) return "";
  char* real = realpath(path.c_str(), nullptr);  // the name dlopen was given may be relative
  if (!real) return "";
  std::string abs(real);
  std::free(real);
  const size_t slash = abs.rfind('/');
  return slash == std::string::npos ? "" : abs.substr(0, slash);
}

std::vector<std::string> candidate_paths() {
  if (const char* env = std::getenv("MART_CUDA_LIBRARY"); env && *env) return {env};
  std::vector<std::string> out;
  const std::string dir = executable_dir();
  if (const std::string lib_dir = loader_object_dir(); !lib_dir.empty() && lib_dir != dir)
    out.push_back(lib_dir + "/" + kCudaBackendSoname);
  if (!dir.empty()) {
    out.push_back(dir + "/" + kCudaBackendSoname);
    const size_t slash = dir.rfind('/');
    if (slash != std::string::npos && slash > 0)
      out.push_back(dir.substr(0, slash) + "/" + kCudaBackendSoname);
  }
  out.push_back(kCudaBackendSoname);  // the dynamic linker's own search
  return out;
}

// dlopen + dlsym + version check of one candidate; "" on success, else why it was not used.
std::string try_load(const std::string& path, const CudaBackend** out) {
  void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char* e = dlerror();
    return e ? e : "dlopen failed";
  }
  using Entry = const CudaBackend* (*)();
  auto entry = reinterpret_cast<Entry>(dlsym(h, kCudaBackendEntry));
  std::string why;
  if (!entry) {
    const char* e = dlerror();
    why = str("no entry point ", kCudaBackendEntry, " (", e ? e : "dlsym failed", ")");
  } else if (const CudaBackend* b = entry(); !b) {
    why = str(kCudaBackendEntry, "() returned null");
  } else if (b->version() != kCudaBackendVersion) {
    why = str("interface version ", b->version(), ", this MART needs ", kCudaBackendVersion,
              " (a stale library from another build: rebuild, or point MART_CUDA_LIBRARY at "
              "this build's)");
  } else {
    *out = b;  // the handle is never closed: the backend lives until the process exits
    return "";
  }
  dlclose(h);  // a library we will not use is not kept mapped
  return why;
}

Loaded load() {
  Loaded r;
#ifndef MART_HAVE_CUDA
  r.error =
      "MART was built without CUDA (configure with the 'cuda' preset on a machine with the "
      "CUDA Toolkit)";
  return r;
#else
  std::string tried;
  for (const std::string& path : candidate_paths()) {
    const std::string why = try_load(path, &r.backend);
    if (why.empty()) return r;
    tried += str("\n  ", path, ": ", why);
  }
  r.error =
      str("the CUDA backend library ", kCudaBackendSoname, " could not be loaded; tried:", tried,
          "\n(set MART_CUDA_LIBRARY to the full path of libmart_cuda.so, or use the CPU "
          "backend)");
  return r;
#endif
}

std::once_flag g_once;
Loaded* g_loaded = nullptr;  // written once under g_once, then read-only
std::atomic<const CudaBackend*> g_backend{nullptr};

const Loaded& loaded() {
  std::call_once(g_once, [] {
    g_loaded = new Loaded(load());  // never freed: lives as long as the library it describes
    g_backend.store(g_loaded->backend, std::memory_order_release);
  });
  return *g_loaded;
}

}  // namespace

const CudaBackend* cuda_backend() {
  return loaded().backend;
}

std::string cuda_backend_error() {
  return loaded().error;
}

const CudaBackend* cuda_backend_if_loaded() {
  return g_backend.load(std::memory_order_acquire);
}

const CudaBackend& require_cuda_backend(const char* what) {
  const Loaded& l = loaded();
  MART_CHECK(l.backend != nullptr, what,
             " needs the CUDA backend, which cannot be loaded: ", l.error);
  return *l.backend;
}

}  // namespace mart
