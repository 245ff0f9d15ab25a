#include "runtime/rlhf/shell_command.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>
#include <tuple>

#include "common/error.h"

extern char** environ;

namespace mart {

namespace {

using Clock = std::chrono::steady_clock;

// The command as errors show it: its first 200 characters.
std::string shown(const std::string& command) {
  return command.size() <= 200 ? command : command.substr(0, 200) + "...";
}

struct Pipe {
  int fd[2] = {-1, -1};
  ~Pipe() { close_both(); }
  void close_end(int i) {
    if (fd[i] >= 0) ::close(fd[i]);
    fd[i] = -1;
  }
  void close_both() { close_end(0), close_end(1); }
};

// Blocks SIGPIPE in this thread for its lifetime, then discards one raised meanwhile (unless one
// was already pending before) and restores the mask.
class SigpipeBlock {
 public:
  SigpipeBlock() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~SigpipeBlock() {
    if (!was_pending_) {
      const timespec zero{0, 0};
      while (sigtimedwait(&pipe_, nullptr, &zero) == SIGPIPE) {
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  const sigset_t& old_mask() const { return old_; }

 private:
  sigset_t pipe_, old_;
  bool was_pending_ = false;
};

// The spawned child: SIGKILLs its process group and reaps it unless reaped already.
struct Child {
  pid_t pid = -1;
  bool reaped = false;
  int status = 0;
  ~Child() {
    if (pid > 0 && !reaped) kill_and_reap();
  }
  void kill_and_reap() {
    ::kill(-pid, SIGKILL);
    ::kill(pid, SIGKILL);
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    reaped = true;
  }
  bool try_reap() {
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) reaped = true;
    return reaped;
  }
};

void spawn(const std::string& command, Pipe& in, Pipe& out, Pipe& err, const sigset_t& mask,
           Child* child) {
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t at;
  posix_spawn_file_actions_init(&fa);
  posix_spawnattr_init(&at);
  posix_spawn_file_actions_adddup2(&fa, in.fd[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out.fd[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err.fd[1], 2);
  sigset_t def;
  sigemptyset(&def);
  sigaddset(&def, SIGPIPE);
  posix_spawnattr_setsigdefault(&at, &def);
  posix_spawnattr_setsigmask(&at, &mask);
  posix_spawnattr_setpgroup(&at, 0);
  posix_spawnattr_setflags(&at,
                           POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP);
  const char* argv[] = {"/bin/sh", "-c", command.c_str(), nullptr};
  const int rc = posix_spawn(&child->pid, "/bin/sh", &fa, &at, const_cast<char**>(argv), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&at);
  MART_CHECK(rc == 0, "cannot start the command `", shown(command),
             "` (/bin/sh -c): ", strerror(rc));
}

int ms_left(Clock::time_point deadline) {
  const auto d = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return static_cast<int>(std::max<int64_t>(0, d.count()));
}

void make_pipe(Pipe& p, const std::string& command) {
  MART_CHECK(::pipe2(p.fd, O_CLOEXEC) == 0, "cannot make a pipe for the command `", shown(command),
             "`: ", strerror(errno));
}

}  // namespace

ShellResult run_shell(const std::string& command, const std::string& input,
                      const ShellOptions& opt) {
  MART_CHECK(opt.timeout_s > 0, "the command timeout ", opt.timeout_s, " s must be > 0 (command `",
             shown(command), "`)");
  SigpipeBlock sigpipe;
  Pipe in, out, err;
  make_pipe(in, command);
  make_pipe(out, command);
  make_pipe(err, command);
  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                           std::chrono::duration<double>(opt.timeout_s));
  Child child;
  spawn(command, in, out, err, sigpipe.old_mask(), &child);
  in.close_end(0), out.close_end(1), err.close_end(1);
  for (int fd : {in.fd[1], out.fd[0], err.fd[0]}) ::fcntl(fd, F_SETFL, O_NONBLOCK);
  if (input.empty()) in.close_end(1);
  ShellResult res;
  std::string err_all;
  size_t written = 0;
  char buf[65536];
  while ((out.fd[0] >= 0 || err.fd[0] >= 0) && !res.timed_out) {
    pollfd fds[3] = {{in.fd[1], POLLOUT, 0}, {out.fd[0], POLLIN, 0}, {err.fd[0], POLLIN, 0}};
    const int wait = ms_left(deadline);
    if (wait == 0) {
      res.timed_out = true;
      break;
    }
    if (::poll(fds, 3, wait) < 0 && errno != EINTR)
      MART_FAIL("poll failed for the command `", shown(command), "`: ", strerror(errno));
    if (fds[0].revents & (POLLOUT | POLLERR | POLLHUP)) {
      const ssize_t n = ::write(in.fd[1], input.data() + written, input.size() - written);
      if (n > 0) written += n;
      if ((n < 0 && errno != EAGAIN && errno != EINTR) || written == input.size())
        in.close_end(1);  // done, or EPIPE: the command stopped reading
    }
    for (auto [pfd, p, into] :
         {std::tuple{&fds[1], &out, &res.out}, std::tuple{&fds[2], &err, &err_all}}) {
      if (!(pfd->revents & (POLLIN | POLLHUP | POLLERR))) continue;
      const ssize_t n = ::read(p->fd[0], buf, sizeof buf);
      if (n > 0) into->append(buf, n);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) p->close_end(0);
    }
    if (err_all.size() > 2 * opt.stderr_tail) err_all.erase(0, err_all.size() - opt.stderr_tail);
    MART_CHECK(res.out.size() <= opt.max_out, "the command `", shown(command), "` wrote more than ",
               opt.max_out, " bytes to stdout; it was stopped");
  }
  // Output closed: wait for the exit until the deadline.
  while (!res.timed_out && !child.try_reap()) {
    if (ms_left(deadline) == 0)
      res.timed_out = true;
    else
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (!child.reaped) child.kill_and_reap();
  if (WIFEXITED(child.status)) res.exit_code = WEXITSTATUS(child.status);
  if (WIFSIGNALED(child.status)) res.signal = WTERMSIG(child.status);
  res.err_tail =
      err_all.size() > opt.stderr_tail ? err_all.substr(err_all.size() - opt.stderr_tail) : err_all;
  return res;
}

}  // namespace mart
