#include "memory/activation_manager.h"

#include "common/error.h"
#include "runtime/device/device.h"

namespace mart {

const char* act_mode_name(ActMode m) {
  switch (m) {
    case ActMode::Keep: return "keep";
    case ActMode::Checkpoint: return "checkpoint";
    case ActMode::Swap: return "swap";
    case ActMode::Compress: return "compress";
  }
  return "?";
}

ActMode parse_act_mode(const std::string& s) {
  for (ActMode m : {ActMode::Keep, ActMode::Checkpoint, ActMode::Swap, ActMode::Compress})
    if (s == act_mode_name(m)) return m;
  MART_FAIL("unknown activation mode '", s, "' (expected keep, checkpoint, swap or compress)");
}

std::vector<ActMode> parse_act_modes(const std::vector<std::string>& s) {
  std::vector<ActMode> out;
  for (auto& x : s) out.push_back(parse_act_mode(x));
  return out;
}

uint64_t ActivationManager::device_bytes_needed(const std::vector<ActMode>& modes,
                                                uint64_t body) {
  uint64_t bytes = 0;
  bool any_ckpt = false;
  for (ActMode m : modes) {
    if (m == ActMode::Keep) bytes += arena_round(body);
    if (m == ActMode::Checkpoint) any_ckpt = true;
  }
  if (any_ckpt) bytes += arena_round(body);
  return bytes;
}

ActivationManager::ActivationManager(Device& dev, DeviceArena& arena, std::vector<ActMode> modes,
                                     uint64_t body_bytes)
    : dev_(dev), arena_(arena), modes_(std::move(modes)), body_bytes_(body_bytes) {
  keep_.resize(modes_.size());
  stats_.saved_device_bytes.assign(modes_.size(), 0);
  bool any_ckpt = false;
  for (size_t b = 0; b < modes_.size(); ++b) {
    switch (modes_[b]) {
      case ActMode::Keep:
        keep_[b] = arena_.alloc(body_bytes_, "act_keep");
        stats_.device_bytes += keep_[b].bytes;
        stats_.saved_device_bytes[b] = keep_[b].bytes;
        break;
      case ActMode::Checkpoint: any_ckpt = true; break;
      case ActMode::Swap:
      case ActMode::Compress:
        MART_FAIL("activation mode '", act_mode_name(modes_[b]), "' (block ", b,
                  ") is not available in this build; use keep or checkpoint");
    }
  }
  if (any_ckpt) {
    scratch_ = arena_.alloc(body_bytes_, "act_recompute");
    stats_.device_bytes += scratch_.bytes;
  }
}

ActivationManager::~ActivationManager() {
  if (scratch_) arena_.free(scratch_);
  for (auto it = keep_.rbegin(); it != keep_.rend(); ++it)
    if (*it) arena_.free(*it);
}

void* ActivationManager::forward_begin(int b) {
  return modes_[b] == ActMode::Keep ? keep_[b].ptr : scratch_.ptr;
}

void ActivationManager::forward_end(int) {}

void ActivationManager::backward_start() { stats_.recomputed_blocks = 0; }

void* ActivationManager::backward_begin(int b, bool* recompute) {
  *recompute = modes_[b] == ActMode::Checkpoint;
  if (*recompute) ++stats_.recomputed_blocks;
  return modes_[b] == ActMode::Keep ? keep_[b].ptr : scratch_.ptr;
}

void ActivationManager::backward_end(int) {}

}  // namespace mart
