// Runs a user's shell command (`/bin/sh -c COMMAND`, via posix_spawn) with bytes on its stdin,
// collecting its stdout and the tail of its stderr, under a wall-clock timeout. The I/O is one
// poll() loop over all three pipes, so a command that writes output before reading its input
// cannot deadlock against us. The command runs in its own process group; on a timeout (or any
// error on our side) the whole group gets SIGKILL and the child is reaped: the call never hangs
// past the timeout (plus the kill) and never leaves a zombie. SIGPIPE from a command that exits
// without reading all its input is blocked in the calling thread and discarded (the rest of the
// input is dropped; the exit status and output decide). The child gets the default SIGPIPE
// disposition and the caller's signal mask. No shell quoting is added or removed: COMMAND is
// what the user wrote. Threads: calls on different threads may run at once (pipes are
// close-on-exec, so one call's child never holds another's pipe; the SIGPIPE block is per thread).
#pragma once
#include <string>

namespace mart {

struct ShellResult {
  std::string out;         // everything the command wrote to stdout
  std::string err_tail;    // the last stderr_tail bytes of its stderr
  bool timed_out = false;  // killed at the timeout (exit_code/signal then describe the kill)
  int exit_code = -1;      // its exit status when it exited normally, else -1
  int signal = 0;          // the signal that ended it, else 0
};

struct ShellOptions {
  double timeout_s = 60;          // > 0: wall-clock limit from spawn to reaped
  size_t stderr_tail = 2000;      // bytes of stderr kept (the end)
  size_t max_out = 256ull << 20;  // stdout beyond this: killed, mart::Error
};

// Throws mart::Error (naming the command) when it cannot be started or writes more than max_out;
// a non-zero exit, a signal or a timeout are reported in the result, not thrown.
ShellResult run_shell(const std::string& command, const std::string& input,
                      const ShellOptions& opt);

}  // namespace mart
