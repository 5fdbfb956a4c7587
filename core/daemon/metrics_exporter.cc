#include "core/daemon/metrics_exporter.h"

#include "absl/strings/str_cat.h"
#include "core/log/log.h"
#include "core/os/files.h"
#include "core/proto_time/proto_time.h"

namespace fleet::daemon {

absl::StatusOr<std::unique_ptr<MetricsExporter>> MetricsExporter::Start(
    const fleet::config::v1::Metrics& config, Render render, std::function<bool()> healthy) {
  std::unique_ptr<MetricsExporter> exporter(new MetricsExporter(config, std::move(render)));
  if (!config.listen().empty()) {
    Render r = exporter->render_;
    absl::StatusOr<std::unique_ptr<metrics::HttpListener>> listener = metrics::HttpListener::Start(
        config.listen(), {[r](metrics::Format format) { return r(format); }, std::move(healthy)});
    if (!listener.ok()) return listener.status();
    exporter->listener_ = *std::move(listener);
    log::Info(
        absl::StrCat("metrics: serving /metrics and /healthz on ", exporter->listener_->address()));
  }
  if (!config.textfile().empty()) {
    exporter->textfile_thread_ = std::thread([e = exporter.get()] { e->WriteTextfiles(); });
    log::Info(absl::StrCat("metrics: writing ", config.textfile(), " every ",
                           absl::FormatDuration(FromProto(config.interval()))));
  }
  return exporter;
}

MetricsExporter::MetricsExporter(fleet::config::v1::Metrics config, Render render)
    : config_(std::move(config)), render_(std::move(render)) {}

MetricsExporter::~MetricsExporter() {
  {
    fleet::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (textfile_thread_.joinable()) textfile_thread_.join();
  listener_.reset();
}

void MetricsExporter::WriteTextfiles() {
  const absl::Duration interval = FromProto(config_.interval());
  bool failing = false;  // Said once each way.
  for (;;) {
    std::optional<std::string> text = render_(metrics::Format::kPrometheusText);
    absl::Status written = text.has_value()
                               ? os::WriteFileAtomic(config_.textfile(), *text, 0644)
                               : absl::UnavailableError("the supervision loop did not answer");
    if (!written.ok() && !failing) {
      log::Warning(absl::StrCat("metrics: cannot write ", config_.textfile(), ": ",
                                written.message(), "; trying again every ",
                                absl::FormatDuration(interval)));
    } else if (written.ok() && failing) {
      log::Info(absl::StrCat("metrics: writing ", config_.textfile(), " again"));
    }
    failing = !written.ok();
    fleet::MutexLock lock(&mu_);
    if (mu_.AwaitWithTimeout(absl::Condition(&stopping_), interval)) return;
  }
}

}  // namespace fleet::daemon
