#include "core/export/fleet_commands.h"

#include <algorithm>
#include <cmath>
#include <string_view>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/proto_time/proto_time.h"

namespace fleet::exporting {
namespace {

namespace v1 = ::fleet::config::v1;

std::string Seconds(const google::protobuf::Duration& d) {
  return absl::StrCat(WholeSeconds(FromProto(d)), "s");
}

}  // namespace

int64_t WholeSeconds(absl::Duration d) {
  return static_cast<int64_t>(std::ceil(absl::ToDoubleSeconds(d)));
}

std::vector<std::string> SyncStateArgv(const std::string& fleetd, const v1::State& s,
                                       const std::string& op, const std::string& dir) {
  std::vector<std::string> flags = {fleetd,     "sync-state", op,         "--dir",   dir,
                                    "--remote", s.remote(),   "--branch", s.branch()};
  for (const v1::MergeRule& rule : s.merge()) {
    flags.insert(flags.end(), {"--rule", absl::StrCat(rule.path(), "=", rule.strategy())});
  }
  if (s.catch_up() == "merge") flags.insert(flags.end(), {"--catch-up", "merge"});
  flags.insert(flags.end(), {"--push-attempts", absl::StrCat(s.push_attempts()),
                             "--network-timeout", Seconds(s.network_timeout())});
  if (op == "watch") flags.insert(flags.end(), {"--every", Seconds(s.watchdog())});
  return flags;
}

std::vector<std::string> KillWatchArgv(const std::string& fleetd, const v1::Engine& e,
                                       const std::string& marker) {
  std::vector<std::string> words = {fleetd, "kill-watch", "--condition", e.kill_condition()};
  if (!e.metrics_path().empty()) words.insert(words.end(), {"--metrics", e.metrics_path()});
  words.insert(words.end(), {"--marker", marker, "--grace", Seconds(e.stop().grace()), "--"});
  return words;
}

std::string ShellQuote(const std::string& word) {
  const bool plain = !word.empty() && std::all_of(word.begin(), word.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
           std::string_view("_./:=@%+,-").find(c) != std::string_view::npos;
  });
  if (plain) return word;
  std::string out = "'";
  for (char c : word) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string ShellLine(const std::vector<std::string>& words) {
  std::vector<std::string> quoted;
  for (const std::string& w : words) quoted.push_back(ShellQuote(w));
  return absl::StrJoin(quoted, " ");
}

}  // namespace fleet::exporting
