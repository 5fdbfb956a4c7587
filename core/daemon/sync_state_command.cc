#include "core/daemon/sync_state_command.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "core/backoff/backoff.h"
#include "core/config/validate.h"
#include "core/daemon/command_flags.h"
#include "core/daemon/daemon.h"
#include "core/daemon/plugins.h"
#include "core/os/clock.h"
#include "core/os/files.h"
#include "core/plugin_host/call_stats.h"
#include "core/supervisor/event_log.h"
#include "core/sync/state_sync.h"

namespace fleet::daemon {
namespace {

namespace v1 = ::fleet::config::v1;
using fleet::plugin::v1::SyncRequest;
using fleet::plugin::v1::SyncResult;

constexpr char kUsage[] =
    "usage: fleetd sync-state pull|publish|watch --dir DIR --remote URL [options]\n"
    "  pull             bring DIR up to date (clone it on first use)\n"
    "  publish          commit what DIR holds and push it\n"
    "  watch            publish every --every, and once more on SIGTERM\n"
    "  --dir DIR        the work tree (FLEET_STATE_DIR)\n"
    "  --remote URL     the state repository (a path or a URL libgit2 reaches)\n"
    "  --branch B       default main\n"
    "  --author NAME    default $FLEET_ENGINE/$FLEET_INSTANCE, else the host name\n"
    "  --rule GLOB=STRATEGY   a merge rule (repeatable; the first match wins)\n"
    "  --catch-up rebase|merge   default rebase\n"
    "  --push-attempts N   default 8\n"
    "  --network-timeout D default 30s\n"
    "  --every D        watch: how often (default 5m)\n"
    "  --message M      publish: the commit message\n"
    "  --plugin FILE    the sync plugin (default libfleet_sync_git.so)\n";

// A pull without a work tree, and a failed publish of watch, are tried
// again after 2s, 4s, ... up to 5 minutes: fleetd's state module's pace.
constexpr Backoff kRetry{absl::Seconds(2), absl::Minutes(5), 2, 0};
// How long one call may take, lock wait included (fleetd's SyncJob's).
constexpr absl::Duration kCallTimeout = absl::Minutes(2);

struct Args {
  std::string op;
  std::string dir, remote, branch = "main", author, message, plugin = "libfleet_sync_git.so";
  std::vector<std::pair<std::string, std::string>> rules;  // glob, strategy
  bool merge = false;
  uint32_t push_attempts = 8;
  absl::Duration network_timeout = absl::Seconds(30);
  absl::Duration every = absl::Minutes(5);
};

int Usage(const std::string& why) {
  fprintf(stderr, "fleetd sync-state: %s\n%s", why.c_str(), kUsage);
  return kExitUsage;
}

void Say(const std::string& line) { fprintf(stderr, "fleetd sync-state: %s\n", line.c_str()); }

// Parses args into *a; "" when they make sense, else why not.
std::string Parse(const std::vector<std::string>& args, Args* a) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    const bool takes_value = absl::StartsWith(arg, "--") && arg != "--help";
    if (takes_value && i + 1 >= args.size()) return arg + " needs a value";
    const std::string value = takes_value ? args[++i] : "";
    std::string error;
    if (arg == "--dir") {
      a->dir = value;
    } else if (arg == "--remote") {
      a->remote = value;
    } else if (arg == "--branch") {
      a->branch = value;
    } else if (arg == "--author") {
      a->author = value;
    } else if (arg == "--message") {
      a->message = value;
    } else if (arg == "--plugin") {
      a->plugin = value;
    } else if (arg == "--rule") {
      const size_t eq = value.rfind('=');
      const std::vector<std::string>& strategies = config::MergeStrategies();
      if (eq == std::string::npos || eq == 0 ||
          std::find(strategies.begin(), strategies.end(), value.substr(eq + 1)) ==
              strategies.end()) {
        return absl::StrCat("--rule '", value, "' is not GLOB=STRATEGY with a strategy of ",
                            absl::StrJoin(strategies, ", "));
      }
      a->rules.emplace_back(value.substr(0, eq), value.substr(eq + 1));
    } else if (arg == "--catch-up") {
      if (value != "rebase" && value != "merge") return "--catch-up is rebase or merge";
      a->merge = value == "merge";
    } else if (arg == "--push-attempts") {
      char* end = nullptr;
      const unsigned long n = strtoul(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || n == 0 || n > 1000) {
        return "--push-attempts takes a number from 1 to 1000";
      }
      a->push_attempts = static_cast<uint32_t>(n);
    } else if (arg == "--network-timeout") {
      error = ParsePositiveDuration(arg, value, &a->network_timeout);
    } else if (arg == "--every") {
      error = ParsePositiveDuration(arg, value, &a->every);
    } else if (takes_value || (!arg.empty() && arg[0] == '-')) {
      return "unknown flag " + arg;
    } else if (a->op.empty()) {
      a->op = arg;
    } else {
      return "unexpected argument '" + arg + "'";
    }
    if (!error.empty()) return error;
  }
  if (a->op != "pull" && a->op != "publish" && a->op != "watch") {
    return a->op.empty() ? "pull, publish or watch?" : "unknown operation '" + a->op + "'";
  }
  if (a->dir.empty()) return "--dir DIR is required";
  if (a->remote.empty()) return "--remote URL is required";
  if (a->author.empty()) {
    const char* engine = getenv("FLEET_ENGINE");
    const char* instance = getenv("FLEET_INSTANCE");
    char host[256] = {};
    if (engine != nullptr && *engine != '\0') {
      a->author = absl::StrCat(engine, "/", instance != nullptr ? instance : "0");
    } else if (gethostname(host, sizeof(host) - 1) == 0 && host[0] != '\0') {
      a->author = host;
    } else {
      a->author = "fleet";
    }
  }
  a->dir = os::AbsolutePath(a->dir);
  return "";
}

// SIGTERM and SIGINT are blocked (for every thread started after) and
// taken with sigtimedwait: a wait ends early when one arrives.
class Signals {
 public:
  Signals() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGTERM);
    sigaddset(&set_, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set_, nullptr);
  }
  // True when a signal came (now or before).
  bool Wait(absl::Duration d) {
    if (got_) return true;
    const absl::Time until = absl::Now() + d;
    for (absl::Duration left = d; left > absl::ZeroDuration(); left = until - absl::Now()) {
      timespec ts = absl::ToTimespec(left);
      const int sig = sigtimedwait(&set_, nullptr, &ts);
      if (sig > 0) return got_ = true;
      if (sig < 0 && errno != EINTR && errno != EAGAIN) break;
    }
    return got_;
  }

 private:
  sigset_t set_;
  bool got_ = false;
};

// One work tree, one plugin instance, one call at a time.
class Tree {
 public:
  explicit Tree(const Args& args) : args_(args), events_(os::RealClock()) {}

  absl::Status Load() {
    v1::FleetConfig config;
    config.mutable_state()->set_plugin(args_.plugin);
    control::v1::PluginInfo info = LoadSyncPlugin(
        config, &events_, &stats_, 1, [this](sync::SyncOutcome o) { Answer(std::move(o)); },
        &sync_);
    if (sync_ != nullptr) return absl::OkStatus();
    std::string why = info.error();
    for (const control::v1::Event& e : events_.Since(0)) why = e.message();
    return absl::FailedPreconditionError(
        absl::StrCat("the sync plugin ", args_.plugin, " is not loaded: ", why));
  }

  // One call on the tree, under its lock.
  absl::StatusOr<SyncResult> Call(SyncRequest::Op op, const std::string& message) {
    absl::StatusOr<int> lock = LockTree();
    if (!lock.ok()) return lock.status();
    sync::SyncJob job;
    job.instance_id = args_.author;
    job.seq = ++seq_;
    job.timeout = kCallTimeout;
    SyncRequest& r = job.request;
    r.set_op(op);
    r.set_work_tree(args_.dir);
    r.set_remote(args_.remote);
    r.set_branch(args_.branch);
    r.set_author(args_.author);
    r.set_message(message);
    r.set_max_attempts(args_.push_attempts);
    r.set_merge(args_.merge);
    r.set_network_timeout_ms(
        static_cast<uint32_t>(absl::ToInt64Milliseconds(args_.network_timeout)));
    r.set_network_budget_ms(
        static_cast<uint32_t>(absl::ToInt64Milliseconds(job.timeout - absl::Seconds(10))));
    for (const auto& [glob, strategy] : args_.rules) {
      auto* m = r.add_rules();
      m->set_glob(glob);
      m->set_strategy(strategy);
    }
    {
      absl::MutexLock hold(&mu_);
      outcome_.reset();
    }
    sync_->Submit(std::move(job));
    absl::MutexLock hold(&mu_);
    // The lane stops an isolated plugin at the timeout; an in-process one
    // answers late at worst, which is still its answer.
    mu_.AwaitWithTimeout(
        absl::Condition(
            +[](std::optional<sync::SyncOutcome>* o) { return o->has_value(); }, &outcome_),
        kCallTimeout + absl::Seconds(30));
    if (!outcome_.has_value()) {
      // The call may still be working the tree: the lock stays held until
      // this process ends (the caller gives up on the tree).
      stuck_ = true;
      return absl::DeadlineExceededError("the sync plugin did not answer");
    }
    ::close(*lock);
    if (!outcome_->result.ok()) return outcome_->result.status();
    return *outcome_->result;
  }

  bool HasRepo() const { return os::Exists(args_.dir + "/.git"); }
  // A call outlived its time: no other may be made on the tree.
  bool stuck() const { return stuck_; }

 private:
  void Answer(sync::SyncOutcome outcome) {
    absl::MutexLock hold(&mu_);
    outcome_ = std::move(outcome);
  }

  // DIR.sync-lock, held for the call: the sidecar's publish and the
  // worker's pull never work the same index at once. Never through a symlink.
  absl::StatusOr<int> LockTree() {
    const std::string path = args_.dir + ".sync-lock";
    if (absl::Status made = os::MakeDirs(os::DirName(path), 0755); !made.ok()) return made;
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) {
      return absl::InternalError(absl::StrCat("open ", path, ": ", std::strerror(errno)));
    }
    const absl::Time until = absl::Now() + kCallTimeout;
    while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      if ((errno != EWOULDBLOCK && errno != EINTR) || absl::Now() > until) {
        const std::string why =
            errno == EWOULDBLOCK ? "held by another sync for too long" : std::strerror(errno);
        ::close(fd);
        return absl::UnavailableError(absl::StrCat("lock ", path, ": ", why));
      }
      absl::SleepFor(absl::Milliseconds(50));
    }
    return fd;
  }

  const Args& args_;
  supervisor::EventLog events_;
  plugin_host::CallStats stats_;
  std::unique_ptr<sync::StateSync> sync_;
  uint64_t seq_ = 0;
  bool stuck_ = false;
  absl::Mutex mu_;
  std::optional<sync::SyncOutcome> outcome_;
};

std::string Short(const std::string& head) {
  return head.empty() ? "an empty branch" : head.substr(0, 7);
}

// What a call did, in fleetd's words; true when it succeeded.
bool Report(bool pull, const absl::StatusOr<SyncResult>& answer, absl::Duration took) {
  const std::string t = absl::FormatDuration(absl::Trunc(took, absl::Milliseconds(1)));
  if (!answer.ok()) {
    Say(absl::StrCat(pull ? "pull" : "publish", " failed: ", answer.status().message()));
    return false;
  }
  const SyncResult& r = *answer;
  for (int i = 0; i < r.resolved_size(); ++i) {
    Say(absl::StrCat("resolved ", r.resolved(i), " by rule",
                     i < r.resolved_by_size() ? absl::StrCat(" (", r.resolved_by(i), ")") : ""));
  }
  if (!r.undone().empty()) Say(r.undone());
  if (!r.rebuilt_from().empty()) {
    Say(absl::StrCat("the work tree was damaged (", r.rebuild_reason(),
                     "); rebuilt from the remote; the damaged one is kept at ", r.rebuilt_from()));
  }
  if (r.ok()) {
    if (pull) {
      Say(absl::StrCat("pulled ", Short(r.head()), " (", r.pull(), ", ", t, ")"));
    } else if (r.committed() || r.attempts() > 0) {
      Say(absl::StrCat("pushed ", Short(r.head()),
                       r.attempts() > 1 ? absl::StrCat(" after ", r.attempts(), " attempts") : "",
                       " (", t, ")"));
    } else {
      Say(absl::StrCat("nothing to commit at ", Short(r.head())));
    }
    return true;
  }
  std::string error = r.error();
  for (const std::string& why : r.refused()) absl::StrAppend(&error, "; ", why);
  if (r.unresolved_size() > 0) {
    Say(absl::StrCat("conflict in ", absl::StrJoin(r.unresolved(), ", "),
                     " that no merge rule resolves (", error,
                     "); nothing is discarded: resolve it in the work tree or add a rule"));
  } else {
    Say(absl::StrCat(
        pull ? "pull" : "publish", " failed (", t, "): ", error,
        r.remote_unreachable() ? " (the remote is unreachable; local commits are kept)" : ""));
  }
  return false;
}

// One timed call, reported.
bool Once(Tree* tree, SyncRequest::Op op, const std::string& message) {
  const absl::Time start = absl::Now();
  absl::StatusOr<SyncResult> answer = tree->Call(op, message);
  return Report(op == SyncRequest::OP_PULL, answer, absl::Now() - start);
}

int Pull(Tree* tree, Signals* signals) {
  for (uint32_t retries = 0;; ++retries) {
    if (Once(tree, SyncRequest::OP_PULL, "")) return kExitOk;
    if (tree->stuck()) return kExitFailure;
    if (tree->HasRepo()) {
      Say("the worker goes on from the work tree's last state");
      return kExitOk;
    }
    const absl::Duration delay = kRetry.Delay(retries + 1);
    Say(absl::StrCat("no work tree yet; trying again in ", absl::FormatDuration(delay)));
    if (signals->Wait(delay)) {
      Say("stopped before the work tree was made");
      return kExitFailure;
    }
  }
}

int Watch(Tree* tree, Signals* signals, const Args& args) {
  const std::string message = absl::StrCat("fleet: state from ", args.author, " (every ",
                                           absl::FormatDuration(args.every), ")");
  uint32_t retries = 0;
  absl::Duration wait = args.every;
  while (!signals->Wait(wait)) {
    const bool published = Once(tree, SyncRequest::OP_PUBLISH, message);
    if (tree->stuck()) return kExitFailure;  // Restarted, with a fresh plugin.
    if (published) {
      retries = 0;
      wait = args.every;
    } else {
      wait = std::min(args.every, kRetry.Delay(++retries));
    }
  }
  Say("stopping: publishing what is left");
  return Once(tree, SyncRequest::OP_PUBLISH,
              absl::StrCat("fleet: state from ", args.author, " (at its stop)"))
             ? kExitOk
             : kExitFailure;
}

}  // namespace

int SyncStateCommand(const std::vector<std::string>& args) {
  Args a;
  for (const std::string& arg : args) {
    if (arg == "-h" || arg == "--help") {
      printf("%s", kUsage);
      return kExitOk;
    }
  }
  if (std::string why = Parse(args, &a); !why.empty()) return Usage(why);
  Signals signals;  // Before any thread: the plugin's inherit the mask.
  Tree tree(a);
  if (absl::Status loaded = tree.Load(); !loaded.ok()) {
    Say(std::string(loaded.message()));
    return kExitFailure;
  }
  if (a.op == "pull") return Pull(&tree, &signals);
  if (a.op == "watch") return Watch(&tree, &signals, a);
  const std::string message =
      a.message.empty() ? absl::StrCat("fleet: state from ", a.author) : a.message;
  return Once(&tree, SyncRequest::OP_PUBLISH, message) ? kExitOk : kExitFailure;
}

}  // namespace fleet::daemon
