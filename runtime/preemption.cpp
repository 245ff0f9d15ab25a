#include "runtime/preemption.h"

#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "common/error.h"

namespace mart {
namespace {

struct SignalName {
  const char* name;
  int sig;
  const char* notice;  // printed by the handler: write(2) of a constant is async-signal-safe
};

#define MART_STOP_NOTICE(S)                                                     \
  "\nmart: " S                                                                  \
  " received: finishing the step in flight, then saving a checkpoint (send it " \
  "again to abort at once)\n"
constexpr SignalName kSignals[] = {
    {"TERM", SIGTERM, MART_STOP_NOTICE("SIGTERM")}, {"INT", SIGINT, MART_STOP_NOTICE("SIGINT")},
    {"USR1", SIGUSR1, MART_STOP_NOTICE("SIGUSR1")}, {"USR2", SIGUSR2, MART_STOP_NOTICE("SIGUSR2")},
    {"HUP", SIGHUP, MART_STOP_NOTICE("SIGHUP")},    {"QUIT", SIGQUIT, MART_STOP_NOTICE("SIGQUIT")},
    {"XCPU", SIGXCPU, MART_STOP_NOTICE("SIGXCPU")},
};
#undef MART_STOP_NOTICE

// The handler cannot carry a pointer, so the flag it sets lives here; ScopedStopSignals hands it
// out, and only while installed. Lock-free atomics are async-signal-safe.
std::atomic<int> g_stop{0};
std::atomic<bool> g_installed{false};
static_assert(std::atomic<int>::is_always_lock_free);

extern "C" void on_stop_signal(int sig) {
  const int saved_errno = errno;
  int expected = 0;
  if (!g_stop.compare_exchange_strong(expected, sig)) {
    // Second signal: die as if unhandled. The signal stays blocked until this handler returns,
    // so the re-raised one is delivered with the default disposition right after.
    ::signal(sig, SIG_DFL);
    ::raise(sig);
    errno = saved_errno;
    return;
  }
  for (const SignalName& s : kSignals)
    if (s.sig == sig) {
      ssize_t ignored = ::write(STDERR_FILENO, s.notice, std::strlen(s.notice));
      (void)ignored;
    }
  errno = saved_errno;
}

}  // namespace

int stop_signal_number(const std::string& name) {
  std::string n = name.rfind("SIG", 0) == 0 ? name.substr(3) : name;
  std::string names;
  for (const SignalName& s : kSignals) {
    if (n == s.name) return s.sig;
    names += (names.empty() ? "" : ", ") + std::string(s.name);
  }
  throw Error(str("train.stop_signals: unknown signal '", name, "'; use names from ", names));
}

std::string stop_signal_name(int sig) {
  for (const SignalName& s : kSignals)
    if (s.sig == sig) return std::string("SIG") + s.name;
  return str("signal ", sig);
}

ScopedStopSignals::ScopedStopSignals(const std::vector<std::string>& names) {
  for (const std::string& n : names) {
    int sig = stop_signal_number(n);
    // An inherited SIG_IGN is the parent's decision (nohup ignores HUP; a shell's background
    // jobs ignore INT and QUIT): leave such a signal ignored.
    struct sigaction cur {};
    ::sigaction(sig, nullptr, &cur);
    if (cur.sa_handler == SIG_IGN) continue;
    if (std::find(sigs_.begin(), sigs_.end(), sig) == sigs_.end()) sigs_.push_back(sig);
  }
  bool expected = false;
  MART_CHECK(g_installed.compare_exchange_strong(expected, true),
             "stop-signal handlers are already installed by another run in this process; "
             "run one trainer with signal handling at a time");
  g_stop.store(0);
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sa.sa_flags = SA_RESTART;  // slow system calls resume; the flag is polled between steps
  sigemptyset(&sa.sa_mask);
  for (int sig : sigs_) sigaddset(&sa.sa_mask, sig);  // handlers never nest
  old_.resize(sigs_.size());
  for (size_t i = 0; i < sigs_.size(); ++i) ::sigaction(sigs_[i], &sa, &old_[i]);
}

ScopedStopSignals::~ScopedStopSignals() {
  if (!restore_on_destroy_) return;  // keep_until_exit: the handlers stay, and so does the claim
  for (size_t i = 0; i < sigs_.size(); ++i) ::sigaction(sigs_[i], &old_[i], nullptr);
  g_installed.store(false);
}

const std::atomic<int>* ScopedStopSignals::flag() const {
  return &g_stop;
}

double slurm_seconds_left(const char* end_time_env, double now_epoch) {
  if (!end_time_env || !*end_time_env) return DeadlineGuard::kNone;
  char* end = nullptr;
  double t = std::strtod(end_time_env, &end);
  if (*end != '\0' || !std::isfinite(t) || t <= 0) return DeadlineGuard::kNone;
  return t - now_epoch;
}

double DeadlineGuard::margin() const {
  const double ckpt = ckpt_ > 0 ? ckpt_ : step_;
  return 1.5 * (step_ + ckpt);
}

}  // namespace mart
