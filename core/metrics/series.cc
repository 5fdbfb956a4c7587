#include "core/metrics/series.h"

#include <algorithm>

namespace fleet::metrics {
namespace {
namespace ctl = ::fleet::control::v1;

ctl::MetricFamily* NewFamily(ctl::GetStatusResponse* status, std::string name, std::string help,
                             ctl::MetricFamily::Type type) {
  ctl::MetricFamily* family = status->add_metrics();
  family->set_name(std::move(name));
  family->set_help(std::move(help));
  family->set_type(type);
  return family;
}
}  // namespace

void Buckets::Add(double value) {
  const auto bucket = std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  ++counts_[static_cast<size_t>(bucket)];
  sum_ += value;
  ++count_;
}

Series Series::Counter(ctl::GetStatusResponse* status, std::string name, std::string help) {
  return Series(NewFamily(status, std::move(name), std::move(help), ctl::MetricFamily::COUNTER));
}

Series Series::Gauge(ctl::GetStatusResponse* status, std::string name, std::string help) {
  return Series(NewFamily(status, std::move(name), std::move(help), ctl::MetricFamily::GAUGE));
}

Series Series::Histogram(ctl::GetStatusResponse* status, std::string name, std::string help) {
  return Series(NewFamily(status, std::move(name), std::move(help), ctl::MetricFamily::HISTOGRAM));
}

ctl::MetricSample* Series::Sample(const Labels& labels) {
  ctl::MetricSample* sample = family_->add_samples();
  for (const auto& [name, value] : labels) {
    ctl::MetricLabel* label = sample->add_labels();
    label->set_name(name);
    label->set_value(value);
  }
  return sample;
}

void Series::Add(const Labels& labels, double value) { Sample(labels)->set_value(value); }

void Series::Add(const Labels& labels, const Buckets& buckets) {
  ctl::MetricSample* sample = Sample(labels);
  // The last count (above every bound) is only in count: +Inf is implied.
  for (size_t i = 0; i < buckets.bounds().size(); ++i) {
    sample->add_bounds(buckets.bounds()[i]);
    sample->add_counts(buckets.counts()[i]);
  }
  sample->set_sum(buckets.sum());
  sample->set_count(buckets.count());
}

}  // namespace fleet::metrics
