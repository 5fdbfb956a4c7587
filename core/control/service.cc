#include "core/control/service.h"

#include <algorithm>
#include <chrono>
#include <future>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/concurrency/mutex.h"
#include "core/control/log_stream.h"
#include "core/metrics/fleet_metrics.h"
#include "core/modules/bus/work_bus.h"
#include "core/modules/schedule/scheduler.h"
#include "core/modules/state/shared_state.h"

namespace fleet::control {
namespace {

namespace ctl = ::fleet::control::v1;
using supervisor::Supervisor;
using supervisor::Verb;

constexpr auto kLoopAnswerDeadline = std::chrono::seconds(10);
constexpr absl::Duration kLoopAnswerWait = absl::Seconds(10);
// A sync (pull, or commit and push with retries) answers within this.
constexpr absl::Duration kSyncAnswerDeadline = absl::Minutes(10);

grpc::Status ToGrpc(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

class ControlService final : public ctl::FleetControl::Service {
 public:
  ControlService(Supervisor* supervisor, ControlFeatures features, supervisor::EventLog* events,
                 std::string run_dir, std::vector<ctl::PluginInfo> plugins, const PeerBook* peers)
      : supervisor_(supervisor),
        bus_(features.bus),
        state_(features.state),
        runs_(features.runs),
        events_(events),
        run_dir_(std::move(run_dir)),
        plugins_(std::move(plugins)),
        peers_(peers) {}

  // A command that changes the fleet, with who sent it, in the event log
  // (and so fleetd's log) before it is carried out.
  void Audit(const grpc::ServerContext* context, absl::string_view what) {
    events_->Add(
        "fleetd", "command",
        absl::StrCat(what, " (from ",
                     peers_ != nullptr ? peers_->Describe(context->peer()) : context->peer(), ")"));
  }

  grpc::Status GetPlugins(grpc::ServerContext*, const ctl::GetPluginsRequest*,
                          ctl::GetPluginsResponse* response) override {
    for (const ctl::PluginInfo& p : plugins_) *response->add_plugins() = p;
    return grpc::Status::OK;
  }

  grpc::Status GetStatus(grpc::ServerContext*, const ctl::GetStatusRequest*,
                         ctl::GetStatusResponse* response) override {
    absl::StatusOr<ctl::GetStatusResponse> status = supervisor_->AwaitStatus(kLoopAnswerWait);
    if (!status.ok()) return ToGrpc(status.status());
    *response = *std::move(status);
    return grpc::Status::OK;
  }

  grpc::Status GetMetrics(grpc::ServerContext*, const ctl::GetMetricsRequest* request,
                          ctl::GetMetricsResponse* response) override {
    absl::StatusOr<ctl::GetStatusResponse> status =
        supervisor_->AwaitStatus(kLoopAnswerWait, /*with_metrics=*/true);
    if (!status.ok()) return ToGrpc(status.status());
    const metrics::Format format =
        request->openmetrics() ? metrics::Format::kOpenMetrics : metrics::Format::kPrometheusText;
    response->set_text(metrics::RenderFleetMetrics(*status, format));
    response->set_content_type(metrics::ContentType(format));
    return grpc::Status::OK;
  }

  grpc::Status Start(grpc::ServerContext* context, const ctl::TargetRequest* request,
                     ctl::ActionResponse* response) override {
    Audit(context, absl::StrCat("start ", request->target()));
    return Act(Verb::kStart, request->target(), response);
  }
  grpc::Status Stop(grpc::ServerContext* context, const ctl::TargetRequest* request,
                    ctl::ActionResponse* response) override {
    Audit(context, absl::StrCat("stop ", request->target()));
    return Act(Verb::kStop, request->target(), response);
  }
  grpc::Status Restart(grpc::ServerContext* context, const ctl::TargetRequest* request,
                       ctl::ActionResponse* response) override {
    Audit(context, absl::StrCat("restart ", request->target()));
    return Act(Verb::kRestart, request->target(), response);
  }

  grpc::Status RunNow(grpc::ServerContext* context, const ctl::TargetRequest* request,
                      ctl::ActionResponse* response) override {
    const std::string target = request->target();
    if (target.empty()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "a target is required: ENGINE, ENGINE/N or all");
    }
    Audit(context, absl::StrCat("run ", target));
    absl::StatusOr<ctl::ActionResponse> result;
    grpc::Status status = OnLoop<absl::StatusOr<ctl::ActionResponse>>(
        [this, target]() -> absl::StatusOr<ctl::ActionResponse> {
          if (runs_ == nullptr) return absl::UnavailableError("no cron or intelligence engines");
          return runs_->RunNow(target);
        },
        &result);
    if (!status.ok()) return status;
    if (!result.ok()) return ToGrpc(result.status());
    *response = *std::move(result);
    return grpc::Status::OK;
  }

  // Bus calls run on the work-bus thread, never on the loop: a slow disk
  // under the bus delays them, not supervision.
  template <typename Response, typename Fn>
  grpc::Status BusCall(Fn fn, Response* response) {
    absl::StatusOr<Response> result;
    grpc::Status status = Await<absl::StatusOr<Response>>(
        [this](std::function<void()> job) { return bus_ != nullptr && bus_->Post(std::move(job)); },
        "the work-bus", std::function<absl::StatusOr<Response>()>(std::move(fn)), &result);
    if (!status.ok()) return status;
    if (!result.ok()) return ToGrpc(result.status());
    *response = *std::move(result);
    return grpc::Status::OK;
  }

  grpc::Status BusSubmit(grpc::ServerContext* context, const ctl::BusSubmitRequest* request,
                         ctl::BusSubmitResponse* response) override {
    if (request->dag_text().size() > 4 * 1024 * 1024) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "the DAG file is over 4MB");
    }
    Audit(context, absl::StrCat("bus submit ", request->dag_path()));
    ctl::BusSubmitRequest copy = *request;
    return BusCall([this, copy] { return bus_->Submit(copy); }, response);
  }

  grpc::Status BusStatus(grpc::ServerContext*, const ctl::BusStatusRequest* request,
                         ctl::BusStatusResponse* response) override {
    const std::string run = request->run();
    return BusCall([this, run] { return bus_->Status(run); }, response);
  }

  grpc::Status BusCancel(grpc::ServerContext* context, const ctl::BusRunRequest* request,
                         ctl::ActionResponse* response) override {
    const std::string run = request->run();
    if (run.empty()) return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "a RUN is required");
    Audit(context, absl::StrCat("bus cancel ", run));
    return BusCall([this, run] { return bus_->Cancel(run); }, response);
  }

  grpc::Status BusRetry(grpc::ServerContext* context, const ctl::BusRetryRequest* request,
                        ctl::ActionResponse* response) override {
    const std::string run = request->run(), task = request->task();
    if (run.empty() || task.empty()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "RUN and TASK are required");
    }
    Audit(context, absl::StrCat("bus retry ", run, " ", task));
    return BusCall([this, run, task] { return bus_->Retry(run, task); }, response);
  }

  grpc::Status ListRuns(grpc::ServerContext*, const ctl::ListRunsRequest* request,
                        ctl::ListRunsResponse* response) override {
    const std::string target = request->target();
    const uint32_t limit = std::min<uint32_t>(request->limit(), 1000);
    if (target.empty()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "a target is required: ENGINE or ENGINE/N");
    }
    absl::StatusOr<ctl::ListRunsResponse> result;
    grpc::Status status = OnLoop<absl::StatusOr<ctl::ListRunsResponse>>(
        [this, target, limit]() -> absl::StatusOr<ctl::ListRunsResponse> {
          if (runs_ == nullptr) return absl::UnavailableError("no cron or intelligence engines");
          return runs_->ListRuns(target, limit);
        },
        &result);
    if (!status.ok()) return status;
    if (!result.ok()) return ToGrpc(result.status());
    *response = *std::move(result);
    return grpc::Status::OK;
  }

  grpc::Status Reload(grpc::ServerContext* context, const ctl::ReloadRequest*,
                      ctl::ReloadResponse* response) override {
    Audit(context, "reload");
    absl::StatusOr<ctl::ReloadResponse> result;
    grpc::Status status = OnLoop<absl::StatusOr<ctl::ReloadResponse>>(
        [this] { return supervisor_->Reload(); }, &result);
    if (!status.ok()) return status;
    if (!result.ok()) return ToGrpc(result.status());
    *response = *std::move(result);
    return grpc::Status::OK;
  }

  grpc::Status Shutdown(grpc::ServerContext* context, const ctl::ShutdownRequest*,
                        ctl::ShutdownResponse*) override {
    Audit(context, "shutdown");
    if (!supervisor_->Post([this] { supervisor_->Shutdown("fleetctl shutdown"); })) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "fleetd is already shutting down");
    }
    return grpc::Status::OK;
  }

  grpc::Status StreamEvents(grpc::ServerContext* context, const ctl::StreamEventsRequest* request,
                            grpc::ServerWriter<ctl::Event>* writer) override {
    uint64_t after = events_->SeqBefore(request->last() == 0 ? 20 : request->last());
    for (;;) {
      for (const ctl::Event& event : events_->Since(after)) {
        if (!writer->Write(event)) return grpc::Status::OK;  // Client went away.
        after = event.seq();
      }
      if (!request->follow() || context->IsCancelled() || events_->closed()) break;
      events_->WaitFor(after, absl::Milliseconds(500));
    }
    return grpc::Status::OK;
  }

  grpc::Status SyncState(grpc::ServerContext* context, const ctl::SyncStateRequest* request,
                         ctl::SyncStateResponse* response) override {
    if (request->target().empty()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "a target is required: ENGINE, ENGINE/N or all");
    }
    if (request->commit()) Audit(context, absl::StrCat("sync --commit ", request->target()));
    // The answers arrive on the loop, one per instance, when the plugin is
    // done; this thread waits for all of them (or the caller's deadline).
    struct Answers {
      fleet::Mutex mu;
      std::vector<ctl::InstanceSync> got ABSL_GUARDED_BY(mu);
    };
    auto answers = std::make_shared<Answers>();
    const ctl::SyncStateRequest r = *request;
    absl::StatusOr<int> expected;
    grpc::Status status = OnLoop<absl::StatusOr<int>>(
        [this, r, answers]() -> absl::StatusOr<int> {
          if (state_ == nullptr) {
            return absl::FailedPreconditionError("this fleet has no state: block");
          }
          return state_->Sync(r.target(), r.commit(), r.message(),
                              [answers](ctl::InstanceSync answer) {
                                fleet::MutexLock lock(&answers->mu);
                                answers->got.push_back(std::move(answer));
                              });
        },
        &expected);
    if (!status.ok()) return status;
    if (!expected.ok()) return ToGrpc(expected.status());
    const size_t n = static_cast<size_t>(*expected);
    // A timeout, not a wall-clock deadline: a clock jump neither cuts the
    // wait short nor stretches it.
    const absl::Duration wait =
        std::min(absl::FromChrono(context->deadline()) - absl::Now(), kSyncAnswerDeadline);
    fleet::MutexLock lock(&answers->mu);
    auto all_in = [&answers, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(answers->mu) {
      return answers->got.size() >= n;
    };
    if (!answers->mu.AwaitWithTimeout(absl::Condition(&all_in), wait)) {
      return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                          absl::StrCat(answers->got.size(), " of ", n,
                                       " instances answered in time; the rest goes on in fleetd "
                                       "(see fleetctl status)"));
    }
    std::sort(
        answers->got.begin(), answers->got.end(),
        [](const ctl::InstanceSync& a, const ctl::InstanceSync& b) { return a.id() < b.id(); });
    for (const ctl::InstanceSync& a : answers->got) *response->add_instances() = a;
    return grpc::Status::OK;
  }

  grpc::Status GetLogs(grpc::ServerContext* context, const ctl::GetLogsRequest* request,
                       grpc::ServerWriter<ctl::LogChunk>* writer) override {
    std::vector<std::string> targets(request->targets().begin(), request->targets().end());
    if (targets.empty()) targets.push_back("all");
    absl::StatusOr<std::vector<std::pair<std::string, std::string>>> logs;
    grpc::Status status = OnLoop<absl::StatusOr<std::vector<std::pair<std::string, std::string>>>>(
        [this, targets] { return supervisor_->LogPaths(targets); }, &logs);
    if (!status.ok()) return status;
    if (!logs.ok()) return ToGrpc(logs.status());
    return StreamLogs(*logs, *request, context, writer, [this] { return events_->closed(); });
  }

 private:
  // Runs fn on the supervision loop and waits for its value.
  template <typename T>
  grpc::Status OnLoop(std::function<T()> fn, T* out) {
    return Await<T>(
        [this](std::function<void()> job) { return supervisor_->PostCommand(std::move(job)); },
        "the supervision loop", std::move(fn), out);
  }

  // Hands fn to a thread through post and waits for its value.
  template <typename T>
  grpc::Status Await(const std::function<bool(std::function<void()>)>& post, const char* who,
                     std::function<T()> fn, T* out) {
    auto promise = std::make_shared<std::promise<T>>();
    std::future<T> future = promise->get_future();
    if (!post([promise, fn] { promise->set_value(fn()); })) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                          absl::StrCat(who,
                                       " is not running (fleetd is shutting down, or the "
                                       "work-bus is off: see fleetd's log)"));
    }
    if (future.wait_for(kLoopAnswerDeadline) != std::future_status::ready) {
      return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                          absl::StrCat(who, " did not answer within 10s"));
    }
    *out = future.get();
    return grpc::Status::OK;
  }

  grpc::Status Act(Verb verb, const std::string& target, ctl::ActionResponse* response) {
    if (target.empty()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "a target is required: ENGINE, ENGINE/N or all");
    }
    absl::StatusOr<ctl::ActionResponse> result;
    grpc::Status status = OnLoop<absl::StatusOr<ctl::ActionResponse>>(
        [this, verb, target] { return supervisor_->Act(verb, target); }, &result);
    if (!status.ok()) return status;
    if (!result.ok()) return ToGrpc(result.status());
    *response = *std::move(result);
    return grpc::Status::OK;
  }

  Supervisor* supervisor_;
  modules::WorkBus* bus_;        // null: the bus is off
  modules::SharedState* state_;  // null: no state module
  modules::Scheduler* runs_;     // null: no scheduler module
  supervisor::EventLog* events_;
  std::string run_dir_;
  const std::vector<ctl::PluginInfo> plugins_;
  const PeerBook* const peers_;  // May be null (no accept loop of ours).
};

}  // namespace

std::unique_ptr<ctl::FleetControl::Service> NewControlService(
    Supervisor* supervisor, ControlFeatures features, supervisor::EventLog* events,
    std::string run_dir, std::vector<ctl::PluginInfo> plugins, const PeerBook* peers) {
  return std::make_unique<ControlService>(supervisor, features, events, std::move(run_dir),
                                          std::move(plugins), peers);
}

}  // namespace fleet::control
