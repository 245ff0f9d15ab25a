// A Device that forwards every call to another (the CPU device by default): tests derive from it
// and override the one or two calls they count or alter.
#pragma once
#include <functional>
#include <memory>
#include <string>

#include "device/device.h"

namespace mart::testutil {

class ForwardingDevice : public Device {
 public:
  explicit ForwardingDevice(std::unique_ptr<Device> inner = make_cpu_device())
      : inner_(std::move(inner)) {}

  Backend backend() const override { return inner_->backend(); }
  std::string name() const override { return inner_->name(); }
  uint64_t free_memory() const override { return inner_->free_memory(); }
  uint64_t total_memory() const override { return inner_->total_memory(); }
  void* raw_malloc(uint64_t bytes) override { return inner_->raw_malloc(bytes); }
  void raw_free(void* p, uint64_t bytes) override { inner_->raw_free(p, bytes); }
  StreamId create_stream(const std::string& n) override { return inner_->create_stream(n); }
  void memcpy_async(void* d, const void* s, size_t n, CopyKind k, StreamId st) override {
    inner_->memcpy_async(d, s, n, k, st);
  }
  void memset_async(void* d, int v, size_t n, StreamId s) override {
    inner_->memset_async(d, v, n, s);
  }
  void host_task(StreamId s, std::function<void()> fn) override {
    inner_->host_task(s, std::move(fn));
  }
  Event record(StreamId s) override { return inner_->record(s); }
  void wait(StreamId s, const Event& e) override { inner_->wait(s, e); }
  void synchronize(const Event& e) override { inner_->synchronize(e); }
  bool query(const Event& e) override { return inner_->query(e); }
  void synchronize_stream(StreamId s) override { inner_->synchronize_stream(s); }
  void synchronize() override { inner_->synchronize(); }
  double elapsed_s(const Event& a, const Event& b) override { return inner_->elapsed_s(a, b); }
  double timestamp_s(const Event& e) override { return inner_->timestamp_s(e); }
  void* native_stream(StreamId s) override { return inner_->native_stream(s); }

 private:
  std::unique_ptr<Device> inner_;
};

}  // namespace mart::testutil
