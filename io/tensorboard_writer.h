// TensorBoard event files: what `tensorboard --logdir DIR` reads. A writer owns one file in its
// directory, events.out.tfevents.<unix seconds>.<hostname>.mart: TFRecord framing
// (io/tfrecord.h) of Event messages (io/tensorboard_event.proto, wire-compatible with
// TensorBoard's Event): the first record holds file_version "brain.Event:2", each later one the
// scalars of one step (one Value per scalar, tag = its name).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "io/tfrecord.h"

namespace mart {

struct TbScalar {
  std::string tag;  // e.g. "loss", "val_loss", "lr"
  float value = 0;
};

// One event: a step's scalars (or, when `file_version` is set, the file's first record).
struct TbEvent {
  double wall_time = 0;  // seconds since the Unix epoch
  int64_t step = 0;
  std::string file_version;  // "brain.Event:2" in the first record, empty in every other
  std::vector<TbScalar> scalars;
};

// The serialized Event message of `e` (a file_version event when e.file_version is set).
std::string tb_encode_event(const TbEvent& e);
// Parses an Event message; throws mart::Error naming `what` when the bytes are not one.
TbEvent tb_decode_event(std::string_view bytes, const std::string& what);

// "events.out.tfevents.<unix seconds>.<hostname>.mart"
std::string tb_event_file_name(double unix_seconds);
// MART's event files in `dir` (names matching events.out.tfevents.*.mart), sorted; none when
// `dir` does not exist.
std::vector<std::string> tb_event_files(const std::string& dir);

class TensorBoardWriter {
 public:
  // Creates `dir` when missing and writes a new event file there holding the file_version
  // record and then `history` (a resumed run's kept steps; empty for a fresh run), atomically
  // (io/atomic_file.h); then removes every other MART event file in `dir` (and temporaries a
  // killed writer left), so TensorBoard shows
  // exactly `history` and what is written after it. Later events are appended. `write_fn`
  // replaces write(2) for the appends (tests). Errors: mart::Error naming the file.
  TensorBoardWriter(const std::string& dir, const std::vector<TbEvent>& history,
                    RecordWriteFn write_fn = {});

  void write(const TbEvent& e);
  // Every event written so far is on disk.
  void sync() { file_.sync(); }
  const std::string& path() const { return file_.path(); }

 private:
  static std::string start_file(const std::string& dir, const std::vector<TbEvent>& history);
  TfRecordWriter file_;
};

}  // namespace mart
