#include "common/progress_line.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "common/error.h"
#include "common/units.h"

namespace mart {

double progress_delay_s() {
  const char* env = std::getenv("MART_PROGRESS_DELAY_S");
  if (env == nullptr || *env == '\0') return 2.0;
  char* end = nullptr;
  const double v = std::strtod(env, &end);
  MART_CHECK(end != env && *end == '\0' && std::isfinite(v) && v >= 0, "MART_PROGRESS_DELAY_S='",
             env,
             "' is not a number of seconds >= 0; set e.g. 0 (show progress at once) or 2 "
             "(the default), or unset it");
  return v;
}

const char* progress_clear() {
  return isatty(fileno(stderr)) ? "\r\033[K" : "";
}

std::string format_eta(double s) {
  if (!std::isfinite(s) || s < 0) return "--:--:--";
  const long long t = std::llround(s);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", t / 3600, t / 60 % 60, t % 60);
  return buf;
}

namespace {

std::string amount(const ProgressFormat& f, uint64_t done, uint64_t total) {
  switch (f.unit) {
    case ProgressUnit::Items:
      return str(f.prefix, done, "/", total, f.noun.empty() ? "" : " ", f.noun);
    case ProgressUnit::Bytes:
      return str(f.prefix, format_bytes(done), "/", format_bytes(total));
  }
  return {};
}

std::string rate_text(const ProgressFormat& f, double per_s) {
  char buf[64];
  switch (f.unit) {
    case ProgressUnit::Items:
      std::snprintf(buf, sizeof buf, "%.1f %s/s", per_s, f.noun.empty() ? "it" : f.noun.c_str());
      return buf;
    case ProgressUnit::Bytes:
      return format_bytes(static_cast<uint64_t>(per_s)) + "/s";
  }
  return {};
}

}  // namespace

ProgressFormat ProgressFormat::items(std::string noun, std::string prefix) {
  ProgressFormat f;
  f.noun = std::move(noun);
  f.prefix = std::move(prefix);
  return f;
}

ProgressFormat ProgressFormat::bytes() {
  ProgressFormat f;
  f.unit = ProgressUnit::Bytes;
  f.rate = true;
  return f;
}

ProgressOptions ProgressOptions::when(bool enabled) {
  ProgressOptions o;
  o.enabled = enabled;
  return o;
}

ProgressPrinter::ProgressPrinter(std::string phase, uint64_t total, ProgressFormat format,
                                 ProgressOptions options, uint64_t start)
    : phase_(std::move(phase)),
      total_(total),
      start_(start),
      fmt_(std::move(format)),
      opt_(std::move(options)) {
  if (!opt_.enabled) return;
  tty_ = opt_.tty ? *opt_.tty : isatty(fileno(stderr)) != 0;
  delay_s_ = opt_.delay_s ? *opt_.delay_s : progress_delay_s();
  t0_ = now();
  last_done_ = start;
}

ProgressPrinter::~ProgressPrinter() {
  if (!opt_.enabled || finished_ || !shown_ || !tty_) return;
  try {
    emit("\n");
  } catch (...) {  // a destructor must not throw; the line merely stays unterminated
  }
}

double ProgressPrinter::now() const {
  if (opt_.clock) return opt_.clock();
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void ProgressPrinter::emit(const std::string& text) {
  if (opt_.sink) {
    opt_.sink(text);
  } else {
    std::fputs(text.c_str(), stderr);
    std::fflush(stderr);
  }
}

std::string ProgressPrinter::line(uint64_t done, std::string_view extra) const {
  const double elapsed = now() - t0_;
  const uint64_t work = done > start_ ? done - start_ : 0;
  const double rate = elapsed > 0 && work > 0 ? static_cast<double>(work) / elapsed : 0;
  std::string s = str("[", phase_, "] ", amount(fmt_, done, total_));
  if (fmt_.rate && rate > 0) s += " | " + rate_text(fmt_, rate);
  if (!extra.empty()) s += str(" | ", extra);
  const double eta = rate > 0 ? static_cast<double>(total_ - done) / rate : -1;
  s += " | ETA " + format_eta(done >= total_ ? 0 : eta);
  return s;
}

void ProgressPrinter::update(uint64_t done, std::string_view extra) {
  if (!opt_.enabled || finished_) return;
  if (done > total_) done = total_;
  last_done_ = done;
  last_extra_ = std::string(extra);
  pending_ = true;
  const double t = now();
  if (t - t0_ < delay_s_) return;
  const double every = tty_ ? opt_.tty_every_s : opt_.plain_every_s;
  if (shown_ && done < total_ && t - last_write_ < every) return;
  const std::string l = line(done, extra);
  emit(tty_ ? "\r\033[K" + l : l + "\n");
  shown_ = true;
  pending_ = false;
  last_write_ = t;
}

void ProgressPrinter::finish() {
  if (!opt_.enabled || finished_) return;
  finished_ = true;
  if (!shown_) return;
  std::string out;
  if (pending_) {
    const std::string l = line(last_done_, last_extra_);
    out = tty_ ? "\r\033[K" + l : l + "\n";
  }
  if (tty_) out += opt_.keep_on_finish ? "\n" : "\r\033[K";
  emit(out);
}

}  // namespace mart
