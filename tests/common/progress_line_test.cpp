// ProgressPrinter with a fake clock and a string sink: the delay threshold, ETA arithmetic, TTY
// versus plain framing and rate limits, finish(), disabled printers, the env override.
#include "common/progress_line.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>

#include <string>

#include "common/error.h"

namespace mart {
namespace {

struct Rig {
  double t = 100.0;  // an arbitrary epoch: only differences matter
  std::string out;
  ProgressOptions opts(bool tty, double delay = 2.0) {
    ProgressOptions o;
    o.tty = tty;
    o.delay_s = delay;
    o.clock = [this] { return t; };
    o.sink = [this](std::string_view s) { out += s; };
    return o;
  }
};

ProgressFormat items(const char* noun) {
  ProgressFormat f;
  f.noun = noun;
  return f;
}

TEST(ProgressLine, FormatEta) {
  EXPECT_EQ(format_eta(0), "0:00:00");
  EXPECT_EQ(format_eta(72), "0:01:12");
  EXPECT_EQ(format_eta(72.4), "0:01:12");
  EXPECT_EQ(format_eta(3600 * 12 + 300), "12:05:00");
  EXPECT_EQ(format_eta(-1), "--:--:--");
  EXPECT_EQ(format_eta(1.0 / 0.0), "--:--:--");
}

TEST(ProgressLine, NothingBeforeTheDelayThenALine) {
  Rig r;
  ProgressPrinter p("plan", 5000, items("candidates"), r.opts(/*tty=*/false));
  r.t += 1.9;
  p.update(100);
  EXPECT_EQ(r.out, "");  // quiet: the phase has run less than delay_s
  EXPECT_FALSE(p.shown());
  r.t += 0.1;  // 2.0 s: at the threshold
  p.update(1000);
  EXPECT_EQ(r.out, "[plan] 1000/5000 candidates | ETA 0:00:08\n");
  EXPECT_TRUE(p.shown());
}

TEST(ProgressLine, QuickPhaseWritesNothingEvenAtFinish) {
  Rig r;
  ProgressPrinter p("plan", 10, items("candidates"), r.opts(false));
  r.t += 0.5;
  p.update(10);
  p.finish();
  EXPECT_EQ(r.out, "");
}

TEST(ProgressLine, EtaFromTheObservedRateSinceStart) {
  Rig r;
  // A resumed run: 100 of 200 steps were done before; 20 steps in 10 s -> 2 steps/s -> 80 left
  // take 40 s.
  ProgressFormat f;
  f.prefix = "step ";
  ProgressPrinter p("train", 200, f, r.opts(false, 0), /*start=*/100);
  r.t += 10;
  p.update(120, "loss 2.3100");
  EXPECT_EQ(r.out, "[train] step 120/200 | loss 2.3100 | ETA 0:00:40\n");
  // Negative control: no progress yet gives no ETA rather than a made-up one.
  Rig r2;
  ProgressPrinter q("train", 200, f, r2.opts(false, 0), 100);
  r2.t += 10;
  q.update(100);
  EXPECT_EQ(r2.out, "[train] step 100/200 | ETA --:--:--\n");
}

TEST(ProgressLine, BytesWithRate) {
  Rig r;
  ProgressFormat f;
  f.unit = ProgressUnit::Bytes;
  f.rate = true;
  ProgressPrinter p("checkpoint", 4ull << 30, f, r.opts(false, 0));
  r.t += 2;
  p.update(1ull << 30);  // 512 MiB/s; 3 GiB left -> 6 s
  EXPECT_EQ(r.out, "[checkpoint] 1.00 GiB/4.00 GiB | 512.00 MiB/s | ETA 0:00:06\n");
}

TEST(ProgressLine, PlainLinesAreRateLimitedButTheLastIsWritten) {
  Rig r;
  ProgressPrinter p("eval", 100, items("batches"), r.opts(false, 0));
  r.t += 1;
  p.update(10);
  r.t += 1;
  p.update(20);  // 1 s after the last line: held back (plain_every_s 5)
  EXPECT_EQ(r.out, "[eval] 10/100 batches | ETA 0:00:09\n");
  r.t += 5;
  p.update(70);
  EXPECT_NE(r.out.find("[eval] 70/100 batches"), std::string::npos);
  r.t += 1;
  p.update(100);  // complete: always written
  EXPECT_NE(r.out.find("[eval] 100/100 batches | ETA 0:00:00\n"), std::string::npos);
  p.finish();  // nothing pending, not a TTY: no more output
  EXPECT_EQ(r.out.back(), '\n');
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 3);
  EXPECT_EQ(r.out.find('\r'), std::string::npos);  // logs get no carriage returns
}

TEST(ProgressLine, FinishWritesThePendingState) {
  Rig r;
  ProgressPrinter p("eval", 100, items("batches"), r.opts(false, 0));
  r.t += 1;
  p.update(10);
  r.t += 1;
  p.update(40);  // held back
  p.finish();
  EXPECT_NE(r.out.find("[eval] 40/100 batches"), std::string::npos);
  const std::string once = r.out;
  p.finish();    // idempotent
  p.update(50);  // after finish: ignored
  EXPECT_EQ(r.out, once);
}

TEST(ProgressLine, TtyRewritesOneLineAndFinishEndsIt) {
  Rig r;
  ProgressPrinter p("plan", 10, items("candidates"), r.opts(/*tty=*/true, 0));
  r.t += 1;
  p.update(2);
  r.t += 1;
  p.update(4);
  EXPECT_EQ(r.out,
            "\r\033[K[plan] 2/10 candidates | ETA 0:00:04"
            "\r\033[K[plan] 4/10 candidates | ETA 0:00:03");
  r.t += 0.05;
  p.update(5);  // within tty_every_s: not redrawn
  EXPECT_EQ(r.out.find("5/10"), std::string::npos);
  p.finish();  // writes the pending 5/10, then ends the line
  EXPECT_NE(r.out.find("\r\033[K[plan] 5/10 candidates"), std::string::npos);
  EXPECT_EQ(r.out.back(), '\n');
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1);
}

TEST(ProgressLine, TtyNestedPhaseErasesItsLine) {
  Rig r;
  ProgressOptions o = r.opts(true, 0);
  o.keep_on_finish = false;
  ProgressPrinter p("eval", 4, items("batches"), o);
  r.t += 1;
  p.update(4);
  p.finish();
  EXPECT_EQ(r.out, "\r\033[K[eval] 4/4 batches | ETA 0:00:00\r\033[K");
}

TEST(ProgressLine, DestroyedUnfinishedEndsAShownTtyLineOnly) {
  Rig r;
  {
    ProgressPrinter p("train", 10, {}, r.opts(true, 0));
    r.t += 1;
    p.update(3);
  }  // e.g. an exception unwinding: the error message must start on its own line
  EXPECT_EQ(r.out.back(), '\n');
  EXPECT_EQ(r.out.find("[train] 3/10"), 4u);  // after "\r\033[K"
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1);
  Rig plain;  // not a TTY: lines already end in '\n'; nothing more
  {
    ProgressPrinter p("train", 10, {}, plain.opts(false, 0));
    plain.t += 1;
    p.update(3);
  }
  EXPECT_EQ(std::count(plain.out.begin(), plain.out.end(), '\n'), 1);
  Rig quiet;  // nothing shown: nothing written
  { ProgressPrinter p("train", 10, {}, quiet.opts(true, 5)); }
  EXPECT_EQ(quiet.out, "");
}

TEST(ProgressLine, DisabledWritesNothing) {
  Rig r;
  ProgressOptions o = r.opts(false, 0);
  o.enabled = false;
  ProgressPrinter p("train", 10, {}, o);
  r.t += 10;
  p.update(5);
  p.update(10);
  p.finish();
  EXPECT_EQ(r.out, "");
  EXPECT_FALSE(p.shown());
}

TEST(ProgressLine, DelayFromTheEnvironment) {
  ASSERT_EQ(setenv("MART_PROGRESS_DELAY_S", "0", 1), 0);
  EXPECT_EQ(progress_delay_s(), 0.0);
  ASSERT_EQ(setenv("MART_PROGRESS_DELAY_S", "3.5", 1), 0);
  EXPECT_EQ(progress_delay_s(), 3.5);
  ASSERT_EQ(setenv("MART_PROGRESS_DELAY_S", "soon", 1), 0);
  try {
    progress_delay_s();
    ADD_FAILURE() << "a bad value was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("MART_PROGRESS_DELAY_S='soon'"), std::string::npos);
  }
  ASSERT_EQ(setenv("MART_PROGRESS_DELAY_S", "-1", 1), 0);
  EXPECT_THROW(progress_delay_s(), Error);
  ASSERT_EQ(unsetenv("MART_PROGRESS_DELAY_S"), 0);
  EXPECT_EQ(progress_delay_s(), 2.0);
  // A printer without an explicit delay uses it: 2 s.
  Rig r;
  ProgressOptions o = r.opts(false);
  o.delay_s.reset();
  ProgressPrinter p("plan", 10, items("candidates"), o);
  r.t += 1;
  p.update(5);
  EXPECT_EQ(r.out, "");
  r.t += 1.5;
  p.update(6);
  EXPECT_NE(r.out.find("[plan] 6/10"), std::string::npos);
}

}  // namespace
}  // namespace mart
