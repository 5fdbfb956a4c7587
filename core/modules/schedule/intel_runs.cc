#include "core/modules/schedule/intel_runs.h"

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/backoff/backoff.h"
#include "core/intel/answer_check.h"
#include "core/log/log.h"
#include "core/os/env.h"
#include "core/os/files.h"
#include "core/os/process.h"
#include "core/proto_time/proto_time.h"

namespace fleet::modules {
namespace {

namespace v1 = ::fleet::config::v1;
namespace ctl = ::fleet::control::v1;

constexpr size_t kStderrTail = 4096;

// The head of a file a worker could have replaced (by a FIFO, a symlink):
// never waited on or followed; "" when it cannot be read.
std::string ReadUpTo(const std::string& path, size_t limit) {
  return os::ReadUntrustedFileHead(path, limit).value_or("");
}

std::string JudgePath(const std::string& run_dir, const std::string& engine, uint32_t index) {
  return os::JoinPath(run_dir, absl::StrCat("runs/", engine, ".", index, ".judge"));
}

}  // namespace

std::string AnswerPath(const std::string& run_dir, const std::string& engine, uint32_t index) {
  return os::JoinPath(run_dir, absl::StrCat("runs/", engine, ".", index, ".answer"));
}

int IntelRuns::OpenStdout(const module::InstanceView& inst, RunTrack* t) {
  const std::string path = AnswerPath(host_->run_dir(), t->engine, t->index);
  (void)os::MakeDirs(os::DirName(path), 0700);
  int fd = os::CurrentEnv()->Open(path.c_str(),
                                  O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    log::Warning(absl::StrCat(inst.id, ": cannot open its answer file ", path, ": ",
                              strerror(errno), "; the answer goes to the log"));
    return fd;
  }
  CloseAnswer(t);
  t->intel.answer_fd = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);  // Kept to measure the answer.
  return fd;
}

void IntelRuns::OnAnswerChanged(const std::string& path) {
  const std::string runs = os::JoinPath(host_->run_dir(), "runs/");
  if (!absl::StartsWith(path, runs) || !absl::EndsWith(path, ".answer")) return;
  // ENGINE.N.answer -> ENGINE/N
  std::string name = path.substr(runs.size(), path.size() - runs.size() - 7);
  const size_t dot = name.rfind('.');
  if (dot == std::string::npos) return;
  name[dot] = '/';
  if (RunTrack* t = find_(name)) CheckAnswerSize(name, t);
}

void IntelRuns::CheckAnswerSize(const std::string& id, RunTrack* t) {
  if (!t->plan->intelligence || !t->in_run || t->intel.over_cap) return;
  struct stat st;
  if (t->intel.answer_fd >= 0) {
    if (::fstat(t->intel.answer_fd, &st) != 0) return;
  } else {
    // Adopted after a restart: the path, never followed through a symlink.
    const std::string path = AnswerPath(host_->run_dir(), t->engine, t->index);
    if (::lstat(path.c_str(), &st) != 0) return;
  }
  const uint64_t cap = t->plan->spec.output().max_size();
  if (static_cast<uint64_t>(st.st_size) <= cap) return;
  t->intel.over_cap = true;
  host_->Emit(
      id, "run_over_cap",
      absl::StrCat("its answer passed output.max_size (", cap, " bytes): stopping the run"));
  host_->Stop(id, absl::StrCat("answer over ", cap, " bytes"));
}

void IntelRuns::OnStderr(RunTrack* t, absl::string_view data) {
  std::string& tail = t->intel.stderr_tail;
  tail.append(data.data(), data.size());
  if (tail.size() > 2 * kStderrTail) tail.erase(0, tail.size() - kStderrTail);
}

void IntelRuns::OnRunStarted(RunTrack* t) {
  t->intel.over_cap = false;
  t->intel.stderr_tail.clear();
}

void IntelRuns::CloseAnswer(RunTrack* t) {
  if (t->intel.answer_fd >= 0) ::close(t->intel.answer_fd);
  t->intel.answer_fd = -1;
}

std::string IntelRuns::BudgetRefusal(const RunTrack& rt) const {
  const RunTrack* t = &rt;
  if (!t->plan->intelligence) return "";
  const os::MonoTime now = host_->Now();
  if (t->intel.rate_limited_until.has_value() && now < *t->intel.rate_limited_until) {
    return absl::StrCat(
        "rate limited: no call for another ",
        absl::FormatDuration(absl::Trunc(*t->intel.rate_limited_until - now, absl::Seconds(1))));
  }
  const std::optional<uint32_t> left = BudgetRemaining(*t);
  if (!left.has_value() || *left > 0) return "";
  const uint32_t max = t->plan->spec.budget().max_runs_per_day();
  return absl::StrCat("budget: ", max - *left, " runs today, max_runs_per_day is ", max);
}

std::optional<uint32_t> IntelRuns::BudgetRemaining(const RunTrack& t) const {
  if (t.plan == nullptr || !t.plan->intelligence) return std::nullopt;
  const uint32_t max = t.plan->spec.budget().max_runs_per_day();
  if (max == 0 || t.history == nullptr) return std::nullopt;
  const absl::CivilDay today = absl::ToCivilDay(host_->WallNow(), t.plan->zone);
  uint32_t runs = 0;
  for (const ctl::RunRecord& r : t.history->runs()) {
    if (r.verdict() == "skipped" || r.verdict() == "missed") continue;
    if (absl::ToCivilDay(absl::FromUnixMillis(r.started_unix_ms()), t.plan->zone) == today) {
      ++runs;
    }
  }
  return runs >= max ? 0 : max - runs;
}

void IntelRuns::AfterRun(const module::InstanceView& inst, RunTrack* t, ctl::RunRecord r,
                         const os::ExitStatus& status) {
  const v1::Engine& spec = t->plan->spec;
  const std::string path = AnswerPath(host_->run_dir(), t->engine, t->index);
  const std::string answer = ReadUpTo(path, spec.output().max_size() + 1);
  r.set_output_bytes(answer.size());
  const int exit_code = status.signaled || status.unknown ? -1 : status.code;
  if (intel::RateLimited(spec.budget(), exit_code, answer + "\n" + t->intel.stderr_tail)) {
    ++t->intel.rate_limited_streak;
    const absl::Duration delay =
        Backoff::FromConfig(spec.budget().rate_limit_backoff()).Delay(t->intel.rate_limited_streak);
    t->intel.rate_limited_until = host_->Now() + delay;
    // Not a failure to retry at once: the next call waits out the limit.
    host_->Idle(inst.id, "rate limited");
    r.set_verdict("rate_limited");
    r.set_reason(absl::StrCat("the CLI reported a rate limit (", status.Describe(),
                              "); calls resume in ",
                              absl::FormatDuration(absl::Trunc(delay, absl::Seconds(1)))));
    finish_(inst, t, std::move(r));
    return;
  }
  if (r.verdict() != "succeeded") {
    finish_(inst, t, std::move(r));
    return;
  }
  t->intel.rate_limited_streak = 0;
  if (std::string bad = intel::CheckAnswer(spec.output(), answer); !bad.empty()) {
    r.set_verdict("rejected");
    r.set_reason(absl::StrCat("its answer failed a check: ", bad));
    finish_(inst, t, std::move(r));
    return;
  }
  if (!spec.output().has_judge()) {
    Accept(inst, t, std::move(r), answer);
    return;
  }
  // The judge reads the answer on stdin and writes beside it.
  const std::string verdict_path = JudgePath(host_->run_dir(), t->engine, t->index);
  const int in = os::OpenUntrustedFile(path).value_or(-1);
  const int out = os::CurrentEnv()->Open(
      verdict_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  os::SpawnSpec judge;
  judge.argv.assign(spec.output().judge().command().begin(), spec.output().judge().command().end());
  judge.env = host_->ChildEnvironment(inst.id);
  judge.cwd = spec.cwd();
  judge.input_fd = in;
  judge.output_fd = out;
  const std::string id = inst.id;
  absl::StatusOr<pid_t> pid = host_->SpawnHelper(
      id, judge, [this, id](const os::ExitStatus& exit) { OnJudgeExit(id, exit); });
  if (in >= 0) ::close(in);
  if (out >= 0) ::close(out);
  if (!pid.ok()) {
    r.set_verdict("rejected");
    r.set_reason(absl::StrCat("its judge could not start: ", pid.status().message()));
    finish_(inst, t, std::move(r));
    return;
  }
  r.set_verdict("judging");
  t->intel.judged = std::move(r);
  t->intel.judged_answer = answer;
  t->intel.judging = true;
  t->intel.judge_pid = *pid;
  t->intel.judge_timed_out = false;
  t->intel.judge_deadline = host_->Now() + FromProto(spec.output().judge().timeout());
}

void IntelRuns::KillLateJudge(RunTrack* t) {
  RunTrack::Intel& i = t->intel;
  if (!i.judging || !i.judge_deadline.has_value() || *i.judge_deadline > host_->Now()) return;
  i.judge_deadline.reset();
  i.judge_timed_out = true;
  os::SignalGroup(i.judge_pid, SIGKILL);  // Its exit comes back through the host.
}

void IntelRuns::OnJudgeExit(const std::string& id, const os::ExitStatus& status) {
  RunTrack* t = find_(id);
  if (t == nullptr || !t->intel.judging) return;
  const v1::Engine& spec = t->plan->spec;
  ctl::RunRecord r = std::move(t->intel.judged);
  const std::string answer = std::move(t->intel.judged_answer);
  t->intel.judged.Clear();
  t->intel.judged_answer.clear();
  t->intel.judging = false;
  t->intel.judge_pid = 0;
  t->intel.judge_deadline.reset();
  const std::string said = ReadUpTo(JudgePath(host_->run_dir(), t->engine, t->index), 4096);
  std::string first_line;
  for (absl::string_view line : absl::StrSplit(said, '\n')) {
    absl::string_view text = absl::StripAsciiWhitespace(line);
    if (absl::ConsumePrefix(&text, "score:")) {
      r.set_score(std::string(absl::StripAsciiWhitespace(text)));
    } else if (first_line.empty() && !text.empty()) {
      first_line = std::string(text);
    }
  }
  if (t->intel.judge_timed_out) {
    r.set_verdict("rejected");
    r.set_reason(absl::StrCat("its judge did not answer within ",
                              absl::FormatDuration(FromProto(spec.output().judge().timeout()))));
  } else if (!status.Success()) {
    r.set_verdict("rejected");
    r.set_reason(absl::StrCat("its judge refused it (", status.Describe(), ")",
                              first_line.empty() ? "" : absl::StrCat(": ", first_line)));
  }
  host_->WithInstance(id, [&](const module::InstanceView& inst) {
    if (r.verdict() == "judging") {
      Accept(inst, t, std::move(r), answer);
    } else {
      finish_(inst, t, std::move(r));
    }
  });
}

void IntelRuns::Accept(const module::InstanceView& inst, RunTrack* t, ctl::RunRecord r,
                       const std::string& answer) {
  const v1::Engine& spec = t->plan->spec;
  const std::string& deliver = spec.output().deliver();
  r.set_verdict("succeeded");
  if (!deliver.empty()) {
    const std::string target_rel =
        absl::StrReplaceAll(deliver, {{"{instance}", absl::StrCat(t->index)}});
    // Relative to the instance's state work tree when it has one (the state
    // module gives it FLEET_STATE_DIR), else to its working directory.
    std::string base = spec.cwd();
    for (const std::string& kv : host_->ChildEnvironment(inst.id)) {
      if (absl::StartsWith(kv, "FLEET_STATE_DIR=")) base = kv.substr(16);
    }
    const std::string target = target_rel[0] == '/' ? target_rel : os::JoinPath(base, target_rel);
    absl::Status made = os::MakeDirs(os::DirName(target), 0755);
    absl::Status written = made.ok() ? os::WriteFileAtomic(target, answer, 0644) : made;
    if (!written.ok()) {
      r.set_verdict("failed");
      r.set_reason(absl::StrCat("its accepted answer could not be delivered to ", target, ": ",
                                written.message()));
      finish_(inst, t, std::move(r));
      return;
    }
    r.set_reason(absl::StrCat("delivered to ", target));
    host_->NoteDelivered(inst.id, target,
                         absl::StrCat("fleet: accepted answer of ", inst.id, " run #", r.seq()));
  }
  finish_(inst, t, std::move(r));
}

}  // namespace fleet::modules
