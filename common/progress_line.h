// ProgressPrinter: the one live progress line every long-running command shows on stderr.
//   [train] step 40/200 | loss 2.3100 | ETA 0:01:12
//   [checkpoint] 1.20 GiB/3.10 GiB | 410.00 MiB/s | ETA 0:00:05
//   [plan] 1830/5000 candidates | ETA 0:00:02
// Contract:
//   - Nothing is written until the phase has run delay_s seconds (default 2 s, or
//     $MART_PROGRESS_DELAY_S; tests set 0), so quick commands stay quiet. Disabled: never writes.
//   - On a TTY the line is rewritten in place ("\r\033[K" + line, at most every tty_every_s);
//     otherwise each update is a plain line ending in '\n', at most one every plain_every_s
//     (logs stay short). An update that reaches `total` is always written (once past the delay).
//   - ETA = (total - done) / observed rate, the rate measured from construction (from `start`,
//     so a resumed run's rate counts only this invocation's work); "--:--:--" until done moves.
//   - finish() ends the line: the final state is written if it was not yet, then '\n' on a TTY
//     (or, with keep_on_finish false, the TTY line is erased: nested phases such as [eval]
//     inside [train]). Nothing at all when nothing was shown. A printer destroyed unfinished
//     (an error unwinding) only ends a shown TTY line with '\n', so the error message that
//     follows starts on its own line.
//   - Clock and sink are injectable, so tests need no real sleeps and no real stderr.
// Not thread-safe: one thread drives a printer.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace mart {

// How the amount is shown: Items as "40/200 candidates" (with the noun), Bytes as
// "1.20 GiB/3.10 GiB" with a byte rate.
enum class ProgressUnit { Items, Bytes };

struct ProgressFormat {
  ProgressUnit unit = ProgressUnit::Items;
  std::string prefix;  // before the amount: "step "
  std::string noun;    // after the amount (Items): "candidates"
  bool rate = false;   // also show the observed rate ("| 410.00 MiB/s", "| 12.0 candidates/s")

  // "[phase] PREFIX done/total NOUN"
  static ProgressFormat items(std::string noun, std::string prefix = {});
  // "[phase] 1.20 GiB/3.10 GiB | 410.00 MiB/s"
  static ProgressFormat bytes();
};

struct ProgressOptions {
  bool enabled = true;
  std::optional<bool> tty;        // empty: isatty(stderr)
  std::function<double()> clock;  // monotonic seconds; empty: std::chrono::steady_clock
  std::function<void(std::string_view)> sink;  // empty: stderr (written and flushed)
  std::optional<double> delay_s;  // empty: progress_delay_s() ($MART_PROGRESS_DELAY_S or 2)
  double tty_every_s = 0.2;       // TTY redraw limit
  double plain_every_s = 5.0;     // non-TTY line limit (0: every update)
  bool keep_on_finish = true;     // TTY: false erases the line at finish()

  // Defaults, enabled or not (`--no-progress`, TrainOptions::progress).
  static ProgressOptions when(bool enabled);
};

// The default delay: $MART_PROGRESS_DELAY_S when set (seconds >= 0), else 2. Throws mart::Error
// naming the variable when it is set to anything else.
double progress_delay_s();

// "\r\033[K" when stderr is a terminal, else "": a message printed while a progress line may be
// on screen starts with it, so it replaces that line instead of running on after it (the next
// update draws the progress line again below).
const char* progress_clear();

// "0:01:12", "12:05:00": hours:minutes:seconds, rounded to the second; "--:--:--" for a negative
// or non-finite value.
std::string format_eta(double seconds);

class ProgressPrinter {
 public:
  ProgressPrinter(std::string phase, uint64_t total, ProgressFormat format = {},
                  ProgressOptions options = {}, uint64_t start = 0);
  ~ProgressPrinter();
  ProgressPrinter(const ProgressPrinter&) = delete;
  ProgressPrinter& operator=(const ProgressPrinter&) = delete;

  // `done` of `total` so far (clamped to total); `extra` goes between the amount and the ETA
  // ("loss 2.31 | lr 3.0e-04"). Writes when due (see the contract above).
  void update(uint64_t done, std::string_view extra = {});
  void set_total(uint64_t total) { total_ = total; }
  // Ends the line (see the contract above). Idempotent.
  void finish();
  // Whether anything has been written.
  bool shown() const { return shown_; }
  // The line update(done, extra) would write now, without the TTY/newline framing.
  std::string line(uint64_t done, std::string_view extra) const;

 private:
  double now() const;
  void emit(const std::string& text);
  std::string phase_;
  uint64_t total_, start_;
  ProgressFormat fmt_;
  ProgressOptions opt_;
  bool tty_ = false;
  double delay_s_ = 0, t0_ = 0, last_write_ = 0;
  bool shown_ = false, finished_ = false;
  bool pending_ = false;  // the last update was not written
  uint64_t last_done_ = 0;
  std::string last_extra_;
};

}  // namespace mart
