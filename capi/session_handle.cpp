#include "capi/session_handle.h"

#include "config/job_config.h"
#include "runtime/data/job_data.h"

namespace mart::capi {

HandleRegistry& session_registry() {
  static HandleRegistry r(
      {"session", "mart_session", "mart_session_create", "mart_session_destroy"});
  return r;
}

namespace {

void build_data(mart_session& h) {
  JobData d = make_job_data(h.session->config());
  h.markov = std::move(d.markov);
  h.train_data = std::move(d.train);
  h.val_data = std::move(d.val);
  h.data_built = true;
}

}  // namespace

DataLoader& train_loader(mart_session& h) {
  if (!h.data_built) build_data(h);
  return *h.train_data;
}

DataLoader* val_loader(mart_session& h) {
  if (!h.data_built) build_data(h);
  return h.val_data.get();
}

}  // namespace mart::capi
