// Intelligence engines: a cron engine whose run is a call to an LLM CLI.
// Its answer (stdout) goes to RUN_DIR/runs/ENGINE.N.answer, watched with
// inotify so a run that passes output.max_size is stopped at once; stderr
// goes to the log as usual. After the run the answer is judged: rate limited
// (declared exit code or pattern: the next slots are skipped for a growing
// backoff), the declared checks, then the optional judge command (the
// answer on its stdin, its own deadline; exit 0 accepts, a "score: X" line
// is kept). An accepted answer is delivered atomically where declared, and
// committed through the sync plugin when it lands in the state work tree.
// Budgets: runs per calendar day. Loop thread only.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/backoff/backoff.h"
#include "core/intel/answer_check.h"
#include "core/log/log.h"
#include "core/os/files.h"
#include "core/os/process.h"
#include "core/supervisor/supervisor.h"
#include "core/supervisor/supervisor_internal.h"
#include "core/os/env.h"

namespace fleet::supervisor {
namespace {

namespace v1 = ::fleet::config::v1;
namespace ctl = ::fleet::control::v1;

constexpr size_t kStderrTail = 4096;

// The head of a file a worker could have replaced (by a FIFO, a symlink):
// never waited on or followed; "" when it cannot be read.
std::string ReadUpTo(const std::string& path, size_t limit) {
  return os::ReadUntrustedFileHead(path, limit).value_or("");
}

}  // namespace

std::string AnswerPath(const std::string& run_dir, const std::string& engine, uint32_t index) {
  return os::JoinPath(run_dir, absl::StrCat("runs/", engine, ".", index, ".answer"));
}

int Supervisor::OpenAnswerFile(Instance* inst) {
  if (inst->engine->spec->type() != v1::ENGINE_TYPE_INTELLIGENCE) return -1;
  const std::string path = AnswerPath(options_.run_dir, inst->engine->spec->name(), inst->index);
  (void)os::MakeDirs(os::DirName(path), 0700);
  int fd = os::CurrentEnv()->Open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    log::Warning(absl::StrCat(inst->id, ": cannot open its answer file ", path, ": ",
                              strerror(errno), "; the answer goes to the log"));
  }
  return fd;
}

void Supervisor::CheckAnswerSize(Instance* inst) {
  CronTrack& c = inst->cron;
  if (!c.in_run || c.over_cap || !inst->life.HasProcess()) return;
  struct stat st;
  const std::string path = AnswerPath(options_.run_dir, inst->engine->spec->name(), inst->index);
  if (::lstat(path.c_str(), &st) != 0) return;
  const uint64_t cap = inst->engine->spec->output().max_size();
  if (static_cast<uint64_t>(st.st_size) <= cap) return;
  c.over_cap = true;
  Emit(inst->id, "run_over_cap",
       absl::StrCat("its answer passed output.max_size (", cap, " bytes): stopping the run"));
  Perform(inst, inst->life.Stop(now_, absl::StrCat("answer over ", cap, " bytes")));
}

void Supervisor::KeepStderrTail(Instance* inst, absl::string_view data) {
  CronTrack& c = inst->cron;
  if (!c.in_run || inst->engine->spec->type() != v1::ENGINE_TYPE_INTELLIGENCE) return;
  c.stderr_tail.append(data.data(), data.size());
  if (c.stderr_tail.size() > 2 * kStderrTail) {
    c.stderr_tail.erase(0, c.stderr_tail.size() - kStderrTail);
  }
}

std::string Supervisor::IntelBudgetRefusal(Instance* inst) {
  const v1::Engine& spec = *inst->engine->spec;
  if (spec.type() != v1::ENGINE_TYPE_INTELLIGENCE) return "";
  CronTrack& c = inst->cron;
  if (c.rate_limited_until.has_value() && now_ < *c.rate_limited_until) {
    return absl::StrCat(
        "rate limited: no call for another ",
        absl::FormatDuration(absl::Trunc(*c.rate_limited_until - now_, absl::Seconds(1))));
  }
  const uint32_t max = spec.budget().max_runs_per_day();
  if (max == 0 || c.history == nullptr) return "";
  const absl::CivilDay today = absl::ToCivilDay(clock_->WallNow(), inst->engine->zone);
  uint32_t runs = 0;
  for (const ctl::RunRecord& r : c.history->runs()) {
    if (r.verdict() == "skipped" || r.verdict() == "missed") continue;
    if (absl::ToCivilDay(absl::FromUnixMillis(r.started_unix_ms()), inst->engine->zone) == today) {
      ++runs;
    }
  }
  if (runs < max) return "";
  return absl::StrCat("budget: ", runs, " runs today, max_runs_per_day is ", max);
}

void Supervisor::IntelAfterRun(Instance* inst, ctl::RunRecord r, const os::ExitStatus& status) {
  CronTrack& c = inst->cron;
  const v1::Engine& spec = *inst->engine->spec;
  const std::string path = AnswerPath(options_.run_dir, spec.name(), inst->index);
  const std::string answer = ReadUpTo(path, spec.output().max_size() + 1);
  r.set_output_bytes(answer.size());
  const int exit_code = status.signaled || status.unknown ? -1 : status.code;
  if (intel::RateLimited(spec.budget(), exit_code, answer + "\n" + c.stderr_tail)) {
    ++c.rate_limited_streak;
    const absl::Duration delay =
        Backoff::FromConfig(spec.budget().rate_limit_backoff()).Delay(c.rate_limited_streak);
    c.rate_limited_until = now_ + delay;
    // Not a failure to retry at once: the next call waits out the limit.
    if (inst->life.state() == State::kBackoff) inst->life.Idle("rate limited");
    r.set_verdict("rate_limited");
    r.set_reason(absl::StrCat("the CLI reported a rate limit (", status.Describe(),
                              "); calls resume in ",
                              absl::FormatDuration(absl::Trunc(delay, absl::Seconds(1)))));
    FinishRun(inst, std::move(r));
    return;
  }
  if (r.verdict() != "succeeded") {
    FinishRun(inst, std::move(r));
    return;
  }
  c.rate_limited_streak = 0;
  if (std::string bad = intel::CheckAnswer(spec.output(), answer); !bad.empty()) {
    r.set_verdict("rejected");
    r.set_reason(absl::StrCat("its answer failed a check: ", bad));
    FinishRun(inst, std::move(r));
    return;
  }
  if (!spec.output().has_judge()) {
    AcceptAnswer(inst, std::move(r), answer);
    return;
  }
  // The judge reads the answer on stdin and writes beside it.
  const std::string verdict_path = os::JoinPath(
      options_.run_dir, absl::StrCat("runs/", spec.name(), ".", inst->index, ".judge"));
  const int in = os::OpenUntrustedFile(path).value_or(-1);
  const int out = os::CurrentEnv()->Open(verdict_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  os::SpawnSpec judge;
  judge.argv.assign(spec.output().judge().command().begin(), spec.output().judge().command().end());
  judge.env = ChildEnvironment(*inst);
  judge.cwd = spec.cwd();
  judge.input_fd = in;
  judge.output_fd = out;
  absl::StatusOr<pid_t> pid = os::Spawn(judge);
  if (in >= 0) ::close(in);
  if (out >= 0) ::close(out);
  if (!pid.ok()) {
    r.set_verdict("rejected");
    r.set_reason(absl::StrCat("its judge could not start: ", pid.status().message()));
    FinishRun(inst, std::move(r));
    return;
  }
  r.set_verdict("judging");
  c.judged = std::move(r);
  c.judged_answer = answer;
  c.judge_pid = *pid;
  c.judge_timed_out = false;
  c.judge_deadline = now_ + FromProto(spec.output().judge().timeout());
  judges_[*pid] = inst;
}

void Supervisor::RunJudgeTimers() {
  for (auto& [name, engine] : engines_) {
    for (auto& inst : engine->instances) {
      CronTrack& c = inst->cron;
      if (c.judge_pid <= 0 || !c.judge_deadline.has_value() || *c.judge_deadline > now_) continue;
      c.judge_deadline.reset();
      c.judge_timed_out = true;
      os::SignalGroup(c.judge_pid, SIGKILL);  // Its exit comes through ReapChildren.
    }
  }
}

void Supervisor::OnJudgeExit(Instance* inst, const os::ExitStatus& status) {
  CronTrack& c = inst->cron;
  const v1::Engine& spec = *inst->engine->spec;
  ctl::RunRecord r = std::move(c.judged);
  const std::string answer = std::move(c.judged_answer);
  c.judged.Clear();
  c.judged_answer.clear();
  c.judge_pid = 0;
  c.judge_deadline.reset();
  const std::string said =
      ReadUpTo(os::JoinPath(options_.run_dir,
                            absl::StrCat("runs/", spec.name(), ".", inst->index, ".judge")),
               4096);
  std::string first_line;
  for (absl::string_view line : absl::StrSplit(said, '\n')) {
    absl::string_view text = absl::StripAsciiWhitespace(line);
    if (absl::ConsumePrefix(&text, "score:")) {
      r.set_score(std::string(absl::StripAsciiWhitespace(text)));
    } else if (first_line.empty() && !text.empty()) {
      first_line = std::string(text);
    }
  }
  if (c.judge_timed_out) {
    r.set_verdict("rejected");
    r.set_reason(absl::StrCat("its judge did not answer within ",
                              absl::FormatDuration(FromProto(spec.output().judge().timeout()))));
  } else if (!status.Success()) {
    r.set_verdict("rejected");
    r.set_reason(absl::StrCat("its judge refused it (", status.Describe(), ")",
                              first_line.empty() ? "" : absl::StrCat(": ", first_line)));
  } else {
    AcceptAnswer(inst, std::move(r), answer);
    dirty_ = true;
    return;
  }
  FinishRun(inst, std::move(r));
  dirty_ = true;
}

void Supervisor::AcceptAnswer(Instance* inst, ctl::RunRecord r, const std::string& answer) {
  const v1::Engine& spec = *inst->engine->spec;
  const std::string& deliver = spec.output().deliver();
  r.set_verdict("succeeded");
  if (!deliver.empty()) {
    const std::string target_rel =
        absl::StrReplaceAll(deliver, {{"{instance}", absl::StrCat(inst->index)}});
    // Relative to the instance's state work tree when it has one (a module
    // gives it FLEET_STATE_DIR), else to its working directory.
    std::map<std::string, std::string> env;
    const module::InstanceView view = ViewOf(*inst);
    for (const auto& m : modules_) m->AddEnvironment(view, &env);
    const std::string base = env.count("FLEET_STATE_DIR") ? env["FLEET_STATE_DIR"] : spec.cwd();
    const std::string target = target_rel[0] == '/' ? target_rel : os::JoinPath(base, target_rel);
    absl::Status made = os::MakeDirs(os::DirName(target), 0755);
    absl::Status written = made.ok() ? os::WriteFileAtomic(target, answer, 0644) : made;
    if (!written.ok()) {
      r.set_verdict("failed");
      r.set_reason(absl::StrCat("its accepted answer could not be delivered to ", target, ": ",
                                written.message()));
      FinishRun(inst, std::move(r));
      return;
    }
    r.set_reason(absl::StrCat("delivered to ", target));
    const std::string what = absl::StrCat("fleet: accepted answer of ", inst->id, " run #", r.seq());
    for (const auto& m : modules_) m->OnDelivered(view, target, what);
  }
  FinishRun(inst, std::move(r));
}

}  // namespace fleet::supervisor
