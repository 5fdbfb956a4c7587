// Intelligence engines: the answer file, its size cap, the checks and judge
// after a run, delivery, budgets and rate limits. Loop thread.
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
#include "core/modules/schedule/scheduler.h"
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

int Scheduler::OpenStdout(const module::InstanceView& inst) {
  Track* t = Find(inst.id);
  if (t == nullptr || !t->plan->intelligence) return -1;
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
  t->answer_fd = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);  // Kept to measure the answer.
  return fd;
}

void Scheduler::WatchedFiles(std::vector<std::string>* paths) const {
  // An answer grows under a cap: every write is a chance to stop the run.
  for (const auto& [id, t] : tracks_) {
    if (t.plan->intelligence) paths->push_back(AnswerPath(host_->run_dir(), t.engine, t.index));
  }
}

void Scheduler::OnFileChanged(const std::string& path, bool complete) {
  const std::string runs = os::JoinPath(host_->run_dir(), "runs/");
  if (!absl::StartsWith(path, runs) || !absl::EndsWith(path, ".answer")) return;
  // ENGINE.N.answer -> ENGINE/N
  std::string name = path.substr(runs.size(), path.size() - runs.size() - 7);
  const size_t dot = name.rfind('.');
  if (dot == std::string::npos) return;
  name[dot] = '/';
  if (Track* t = Find(name)) CheckAnswerSize(name, t);
}

void Scheduler::CheckAnswerSize(const std::string& id, Track* t) {
  if (!t->plan->intelligence || !t->in_run || t->over_cap) return;
  struct stat st;
  if (t->answer_fd >= 0) {
    if (::fstat(t->answer_fd, &st) != 0) return;
  } else {
    // Adopted after a restart: the path, never followed through a symlink.
    const std::string path = AnswerPath(host_->run_dir(), t->engine, t->index);
    if (::lstat(path.c_str(), &st) != 0) return;
  }
  const uint64_t cap = t->plan->spec.output().max_size();
  if (static_cast<uint64_t>(st.st_size) <= cap) return;
  t->over_cap = true;
  host_->Emit(id, "run_over_cap",
              absl::StrCat("its answer passed output.max_size (", cap, " bytes): stopping the run"));
  host_->Stop(id, absl::StrCat("answer over ", cap, " bytes"));
}

void Scheduler::OnOutput(const module::InstanceView& inst, capture::Stream stream,
                         absl::string_view data) {
  Track* t = tracks_.empty() ? nullptr : Find(inst.id);
  if (t == nullptr) return;
  t->output_bytes += data.size();
  if (stream != capture::Stream::kStderr || !t->in_run || !t->plan->intelligence) return;
  t->stderr_tail.append(data.data(), data.size());
  if (t->stderr_tail.size() > 2 * kStderrTail) {
    t->stderr_tail.erase(0, t->stderr_tail.size() - kStderrTail);
  }
}

std::string Scheduler::BudgetRefusal(Track* t) {
  if (!t->plan->intelligence) return "";
  const os::MonoTime now = host_->Now();
  if (t->rate_limited_until.has_value() && now < *t->rate_limited_until) {
    return absl::StrCat(
        "rate limited: no call for another ",
        absl::FormatDuration(absl::Trunc(*t->rate_limited_until - now, absl::Seconds(1))));
  }
  const uint32_t max = t->plan->spec.budget().max_runs_per_day();
  if (max == 0 || t->history == nullptr) return "";
  const absl::CivilDay today = absl::ToCivilDay(host_->WallNow(), t->plan->zone);
  uint32_t runs = 0;
  for (const ctl::RunRecord& r : t->history->runs()) {
    if (r.verdict() == "skipped" || r.verdict() == "missed") continue;
    if (absl::ToCivilDay(absl::FromUnixMillis(r.started_unix_ms()), t->plan->zone) == today) {
      ++runs;
    }
  }
  if (runs < max) return "";
  return absl::StrCat("budget: ", runs, " runs today, max_runs_per_day is ", max);
}

void Scheduler::IntelAfterRun(const module::InstanceView& inst, Track* t, ctl::RunRecord r,
                              const os::ExitStatus& status) {
  const v1::Engine& spec = t->plan->spec;
  const std::string path = AnswerPath(host_->run_dir(), t->engine, t->index);
  const std::string answer = ReadUpTo(path, spec.output().max_size() + 1);
  r.set_output_bytes(answer.size());
  const int exit_code = status.signaled || status.unknown ? -1 : status.code;
  if (intel::RateLimited(spec.budget(), exit_code, answer + "\n" + t->stderr_tail)) {
    ++t->rate_limited_streak;
    const absl::Duration delay =
        Backoff::FromConfig(spec.budget().rate_limit_backoff()).Delay(t->rate_limited_streak);
    t->rate_limited_until = host_->Now() + delay;
    // Not a failure to retry at once: the next call waits out the limit.
    host_->Idle(inst.id, "rate limited");
    r.set_verdict("rate_limited");
    r.set_reason(absl::StrCat("the CLI reported a rate limit (", status.Describe(),
                              "); calls resume in ",
                              absl::FormatDuration(absl::Trunc(delay, absl::Seconds(1)))));
    FinishRun(inst, t, std::move(r));
    return;
  }
  if (r.verdict() != "succeeded") {
    FinishRun(inst, t, std::move(r));
    return;
  }
  t->rate_limited_streak = 0;
  if (std::string bad = intel::CheckAnswer(spec.output(), answer); !bad.empty()) {
    r.set_verdict("rejected");
    r.set_reason(absl::StrCat("its answer failed a check: ", bad));
    FinishRun(inst, t, std::move(r));
    return;
  }
  if (!spec.output().has_judge()) {
    AcceptAnswer(inst, t, std::move(r), answer);
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
    FinishRun(inst, t, std::move(r));
    return;
  }
  r.set_verdict("judging");
  t->judged = std::move(r);
  t->judged_answer = answer;
  t->judging = true;
  t->judge_pid = *pid;
  t->judge_timed_out = false;
  t->judge_deadline = host_->Now() + FromProto(spec.output().judge().timeout());
}

void Scheduler::RunJudgeTimers() {
  const os::MonoTime now = host_->Now();
  for (auto& [id, t] : tracks_) {
    if (!t.judging || !t.judge_deadline.has_value() || *t.judge_deadline > now) continue;
    t.judge_deadline.reset();
    t.judge_timed_out = true;
    os::SignalGroup(t.judge_pid, SIGKILL);  // Its exit comes back through the host.
  }
}

void Scheduler::OnJudgeExit(const std::string& id, const os::ExitStatus& status) {
  Track* t = Find(id);
  if (t == nullptr || !t->judging) return;
  const v1::Engine& spec = t->plan->spec;
  ctl::RunRecord r = std::move(t->judged);
  const std::string answer = std::move(t->judged_answer);
  t->judged.Clear();
  t->judged_answer.clear();
  t->judging = false;
  t->judge_pid = 0;
  t->judge_deadline.reset();
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
  if (t->judge_timed_out) {
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
      AcceptAnswer(inst, t, std::move(r), answer);
    } else {
      FinishRun(inst, t, std::move(r));
    }
  });
}

void Scheduler::AcceptAnswer(const module::InstanceView& inst, Track* t, ctl::RunRecord r,
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
      FinishRun(inst, t, std::move(r));
      return;
    }
    r.set_reason(absl::StrCat("delivered to ", target));
    host_->NoteDelivered(inst.id, target,
                         absl::StrCat("fleet: accepted answer of ", inst.id, " run #", r.seq()));
  }
  FinishRun(inst, t, std::move(r));
}

}  // namespace fleet::modules
