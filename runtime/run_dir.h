// The run directory's ownership and reuse policy.
//   RUN/.lock   an exclusive flock(2) held for the life of the run; the kernel drops it when the
//               process dies in any way, so a stale file never blocks a later run. Its text
//               records the holder's PID, host and start time for the "in use" message.
// A fresh run refuses a RUN that already holds files, unless told to start over (--overwrite),
// which deletes the files MART writes there -- under the lock, and only when nothing else is in
// the directory (so a mistyped --run-dir never deletes a user's files).
#pragma once
#include <string>

namespace mart {

class RunDirLock {
 public:
  // Creates RUN if needed and takes RUN/.lock; throws mart::Error naming the holder when another
  // process (or another run in this process) has it.
  explicit RunDirLock(const std::string& run_dir);
  ~RunDirLock();
  RunDirLock(const RunDirLock&) = delete;
  RunDirLock& operator=(const RunDirLock&) = delete;

 private:
  int fd_ = -1;
};

// What a fresh run (not --resume) does with RUN, under its lock: nothing when RUN holds nothing
// but the lock; with `overwrite`, removes the previous run's files (config.yaml, metrics.jsonl,
// summary.json, timeline.json, checkpoints/, metrics.csv, tensorboard/ and their temporaries);
// otherwise throws mart::Error naming what is there and the options (--resume, --overwrite,
// another --run-dir).
void prepare_fresh_run_dir(const std::string& run_dir, bool overwrite);

}  // namespace mart
