#include "core/supervisor/status_reporter.h"

#include <unistd.h>

#include <cstdint>
#include <future>

#include "absl/strings/str_cat.h"
#include "core/defaults/defaults.h"
#include "core/os/process.h"

namespace fleet::supervisor {
namespace {
namespace ctl = ::fleet::control::v1;
}  // namespace

void LoopHealth::Fill(ctl::DaemonStatus* d) const {
  d->set_loop_lag_ms(absl::ToInt64Milliseconds(lag));
  d->set_max_loop_lag_ms(absl::ToInt64Milliseconds(max_lag));
  d->set_loop_passes(passes.count());
  d->set_loop_pass_p50_us(absl::ToInt64Microseconds(passes.Percentile(0.5)));
  d->set_loop_pass_p99_us(absl::ToInt64Microseconds(passes.Percentile(0.99)));
  d->set_loop_pass_max_us(absl::ToInt64Microseconds(passes.max()));
  d->set_loop_pass_sum_us(static_cast<uint64_t>(absl::ToInt64Microseconds(passes.sum())));
  for (int i = 0; i < stats::LatencyHistogram::kBuckets; ++i) {
    d->add_loop_pass_buckets(passes.bucket(i));
  }
  d->set_watchdog(watchdog_due.has_value());
}

StatusReporter::StatusReporter(Sources sources)
    : sources_(std::move(sources)),
      started_wall_(sources_.clock->WallNow()),
      started_mono_(sources_.clock->MonotonicNow()) {}

ctl::GetStatusResponse StatusReporter::Whole() const {
  ctl::GetStatusResponse status;
  StatusCursor cursor;
  FillEngines(*sources_.table, *sources_.modules, sources_.clock->MonotonicNow(), SIZE_MAX, &cursor,
              &status);
  status.mutable_daemon()->set_instances(cursor.instances);
  FillFleet(&status, /*with_metrics=*/true);
  return status;
}

void StatusReporter::FillUsage(ctl::GetStatusResponse* status) {
  usage_.Fill(status, sources_.clock->MonotonicNow());
  status->mutable_daemon()->set_rss_bytes(os::SelfRssBytes());
  status->mutable_daemon()->set_open_fds(os::SelfOpenFds());
}

bool StatusReporter::Build(std::function<void(ctl::GetStatusResponse)> done, bool with_metrics) {
  auto build = std::make_shared<Building>();
  build->done = std::move(done);
  build->with_metrics = with_metrics;
  return sources_.loop->Post([this, build] { Continue(build); });
}

absl::StatusOr<ctl::GetStatusResponse> StatusReporter::Await(absl::Duration timeout,
                                                             bool with_metrics) {
  auto answer = std::make_shared<std::promise<ctl::GetStatusResponse>>();
  std::future<ctl::GetStatusResponse> status = answer->get_future();
  if (!Build([answer](ctl::GetStatusResponse s) { answer->set_value(std::move(s)); },
             with_metrics)) {
    return absl::UnavailableError("the supervision loop is not running (fleetd is shutting down)");
  }
  if (status.wait_for(absl::ToChronoMilliseconds(timeout)) != std::future_status::ready) {
    return absl::DeadlineExceededError(
        absl::StrCat("the supervision loop did not answer within ", absl::FormatDuration(timeout)));
  }
  ctl::GetStatusResponse out = status.get();
  FillUsage(&out);  // Here: /proc reads, off the loop.
  return out;
}

void StatusReporter::Continue(std::shared_ptr<Building> build) {
  FillEngines(*sources_.table, *sources_.modules, sources_.clock->MonotonicNow(),
              kStatusRowsPerSlice, &build->cursor, &build->status);
  // The loop finishing refuses the post: the answer goes as far as it got.
  if (!build->cursor.done && sources_.loop->Post([this, build] { Continue(build); })) return;
  build->status.mutable_daemon()->set_instances(build->cursor.instances);
  FillFleet(&build->status, build->with_metrics);
  build->done(std::move(build->status));
}

void StatusReporter::FillFleet(ctl::GetStatusResponse* status, bool with_metrics) const {
  status->set_fleet(fleet_name_);
  status->set_config_path(config_path_);
  status->set_run_dir(sources_.run_dir);
  status->set_version(defaults::kVersion);
  ctl::DaemonStatus* d = status->mutable_daemon();
  d->set_pid(::getpid());
  d->set_started_unix_ms(absl::ToUnixMillis(started_wall_));
  d->set_uptime_ms(absl::ToInt64Milliseconds(sources_.clock->MonotonicNow() - started_mono_));
  d->set_events(sources_.events->last_seq());
  d->set_loop_queue(static_cast<uint32_t>(sources_.loop->queued()));
  sources_.health->Fill(d);
  for (const auto& m : *sources_.modules) {
    m->FillStatus(status);
    if (with_metrics) m->FillMetrics(status);
  }
}

}  // namespace fleet::supervisor
