#include "core/plugin_host/call_stats.h"

namespace fleet::plugin_host {
namespace {

class CountedCaller final : public PluginCaller {
 public:
  CountedCaller(std::unique_ptr<PluginCaller> inner, CallStats::Counts* counts)
      : inner_(std::move(inner)), counts_(counts) {}

  absl::StatusOr<std::string> Call(uint32_t method, const std::string& request,
                                   absl::Duration timeout) override {
    counts_->calls.fetch_add(1, std::memory_order_relaxed);
    absl::StatusOr<std::string> response = inner_->Call(method, request, timeout);
    if (!response.ok()) counts_->failures.fetch_add(1, std::memory_order_relaxed);
    return response;
  }

 private:
  std::unique_ptr<PluginCaller> inner_;
  CallStats::Counts* counts_;
};

}  // namespace

CallStats::Counts* CallStats::For(const std::string& kind, const std::string& name) {
  fleet::MutexLock lock(&mu_);
  std::unique_ptr<Counts>& counts = counts_[{kind, name}];
  if (counts == nullptr) counts = std::make_unique<Counts>();
  return counts.get();
}

std::vector<CallStats::Row> CallStats::Snapshot() const {
  fleet::MutexLock lock(&mu_);
  std::vector<Row> rows;
  for (const auto& [key, counts] : counts_) {
    rows.push_back({key.first, key.second, counts->calls.load(std::memory_order_relaxed),
                    counts->failures.load(std::memory_order_relaxed)});
  }
  return rows;
}

std::unique_ptr<PluginCaller> Counted(std::unique_ptr<PluginCaller> inner,
                                      CallStats::Counts* counts) {
  return std::make_unique<CountedCaller>(std::move(inner), counts);
}

}  // namespace fleet::plugin_host
