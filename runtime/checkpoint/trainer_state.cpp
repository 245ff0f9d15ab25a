// trainer_state.json (format 3; format 2's is the same but for the number): {"format_version": 3,
// "step", "tokens_seen", "best_val_loss", "loader": {shard, position, epoch}, "config": the job
// config}. Written and read here; every number is range-checked on read so a damaged or hand-edited
// file is named, key by key.
#include <cmath>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "config/config_loader.h"
#include "runtime/checkpoint/checkpoint_manifest.h"
#include "runtime/checkpoint/train_checkpoint.h"

namespace mart {
namespace {

// Counts up to here are exact in a JSON double, which other tools reading the file may use.
constexpr uint64_t kMaxExactCount = uint64_t{1} << 53;

// nlohmann's message without its "[json.exception.parse_error.101] " tag.
std::string reason(const nlohmann::json::exception& e) {
  std::string w = e.what();
  const size_t p = w.find("] ");
  return p == std::string::npos ? w : w.substr(p + 2);
}

const nlohmann::json& key(const nlohmann::json& j, const char* k, const std::string& origin) {
  MART_CHECK(j.contains(k), origin, ": missing key '", k, "'");
  return j[k];
}

uint64_t get_count(const nlohmann::json& j, const char* k, const std::string& origin) {
  const nlohmann::json& v = key(j, k, origin);
  MART_CHECK(v.is_number_unsigned() && v.get<uint64_t>() <= kMaxExactCount, origin, ": key '", k,
             "' must be an integer in [0, 2^53], got ", v.dump());
  return v.get<uint64_t>();
}

LoaderState get_loader(const nlohmann::json& j, const JobConfig& cfg, const std::string& origin) {
  const nlohmann::json& l = key(j, "loader", origin);
  // {order, index} since data.order; states written before it have 3 keys (sequential).
  MART_CHECK(l.is_object() && (l.size() == 3 || (l.size() == 5 && l.contains("order"))), origin,
             ": key 'loader' must be an object {shard, position, epoch[, order, index]}, got ",
             l.dump());
  const std::string o = origin + " loader";
  LoaderState s;
  s.shard = get_count(l, "shard", o);
  s.position = get_count(l, "position", o);
  s.epoch = get_count(l, "epoch", o);
  if (l.size() == 5) {
    const nlohmann::json& order = key(l, "order", o);
    MART_CHECK(order.is_string(), o, ": key 'order' must be a string, got ", order.dump());
    s.order = parse_data_order(order.get<std::string>(), o + " key 'order'");
    s.index = get_count(l, "index", o);
  }
  // Where the position lies within its shard is checked against the shards themselves when the
  // loader restores it (DataLoader::restore); here what the file alone can tell.
  const uint64_t T = static_cast<uint64_t>(cfg.train.seq_len);
  MART_CHECK(s.position % T == 0, origin, ": key 'loader.position' is ", s.position,
             ", not a multiple of train.seq_len = ", T, " (every window starts at one)");
  if (cfg.data.source != "shards")
    MART_CHECK(s.shard == 0 && s.epoch == 0, origin,
               ": keys 'loader.shard' and 'loader.epoch' "
               "must be 0 for the synthetic corpus, got ",
               s.shard, " and ", s.epoch);
  return s;
}

JobConfig get_config(const nlohmann::json& j, const std::string& origin) {
  JobConfig c;
  try {
    c = job_config_from_json(key(j, "config", origin));
    validate(c, origin + " key 'config'");
  } catch (const nlohmann::json::exception& e) {
    MART_FAIL(origin, ": key 'config' is malformed (", reason(e), ")");
  } catch (const Error& e) {
    const std::string w = e.what();
    if (w.rfind(origin, 0) == 0) throw;
    MART_FAIL(origin, ": key 'config': ", w);
  }
  return c;
}

}  // namespace

SavedTrainerState parse_trainer_state(const std::string& json_text, const std::string& origin) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(json_text);
  } catch (const nlohmann::json::exception& e) {
    MART_FAIL("corrupt checkpoint: ", origin, " is not valid JSON (", reason(e), ")");
  }
  MART_CHECK(j.is_object(), origin, ": must be a JSON object, got ", j.type_name());
  const nlohmann::json& v = key(j, "format_version", origin);
  MART_CHECK(v == kCheckpointFormatVersion || v == kFlatCheckpointFormatVersion, origin,
             ": format_version is ", v.dump(), "; this MART reads format_version ",
             kFlatCheckpointFormatVersion, " and ", kCheckpointFormatVersion);
  for (auto it = j.begin(); it != j.end(); ++it) {
    static const char* known[] = {"format_version", "step",   "tokens_seen",
                                  "best_val_loss",  "loader", "config"};
    bool ok = false;
    for (const char* k : known) ok = ok || it.key() == k;
    MART_CHECK(ok, origin, ": unknown key '", it.key(), "'");
  }
  SavedTrainerState out;
  out.config = get_config(j, origin);
  TrainState& st = out.state;
  const uint64_t step = get_count(j, "step", origin);
  MART_CHECK(step <= static_cast<uint64_t>(out.config.train.steps), origin, ": key 'step' is ",
             step, ", beyond the run's train.steps = ", out.config.train.steps);
  st.step = static_cast<int>(step);
  st.tokens_seen = get_count(j, "tokens_seen", origin);
  // Every step trains on at least one token, and none happen before the first step.
  MART_CHECK(st.tokens_seen >= step && (step > 0 || st.tokens_seen == 0), origin,
             ": key 'tokens_seen' is ", st.tokens_seen, ", impossible after ", step,
             " steps (each step sees at least one token)");
  const nlohmann::json& b = key(j, "best_val_loss", origin);
  MART_CHECK(b.is_number() && std::isfinite(b.get<double>()) && b.get<double>() >= 0, origin,
             ": key 'best_val_loss' must be a finite number >= 0 (0: none yet), got ", b.dump());
  st.best_val_loss = b.get<double>();
  st.loader = get_loader(j, out.config, origin);
  return out;
}

std::string trainer_state_text(const JobConfig& cfg, const TrainState& st) {
  nlohmann::json j;
  j["format_version"] = kCheckpointFormatVersion;
  j["step"] = st.step;
  j["tokens_seen"] = st.tokens_seen;
  j["best_val_loss"] = st.best_val_loss;
  j["loader"] = st.loader;
  j["config"] = to_json(cfg);
  return j.dump(2) + "\n";
}

}  // namespace mart
