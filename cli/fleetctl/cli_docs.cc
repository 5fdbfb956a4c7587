#include "cli/fleetctl/cli_docs.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"

namespace fleet::cli {
namespace {

std::vector<const CLI::App*> Children(const CLI::App& app) {
  return app.get_subcommands([](const CLI::App*) { return true; });
}

bool Hidden(const CLI::App& app) { return app.get_group().empty(); }

// "-n, --lines N" for a flag; "TARGET" for a positional.
std::string Spelling(const CLI::Option& o) {
  if (!o.nonpositional()) return o.get_name(true);
  std::vector<std::string> names;
  for (const std::string& s : o.get_snames()) names.push_back("-" + s);
  for (const std::string& l : o.get_lnames()) names.push_back("--" + l);
  std::string out = absl::StrJoin(names, ", ");
  if (o.get_expected_min() > 0 || !o.get_option_text().empty()) {
    absl::StrAppend(&out, " ", o.get_option_text().empty() ? "VALUE" : o.get_option_text());
  }
  return out;
}

std::vector<std::string> FlagNames(const CLI::App& app) {
  std::vector<std::string> out;
  for (const CLI::Option* o : app.get_options()) {
    for (const std::string& s : o->get_snames()) out.push_back("-" + s);
    for (const std::string& l : o->get_lnames()) out.push_back("--" + l);
  }
  return out;
}

// "COMMAND SUB TARGET... [-f]"-style synopsis of one command.
std::string Synopsis(const CLI::App& command, const std::string& path) {
  std::string out = path;
  for (const CLI::Option* o : command.get_options()) {
    if (o->nonpositional()) continue;
    const std::string name = o->get_name(true);
    const bool many = o->get_items_expected_max() > 1;
    absl::StrAppend(&out, " ", o->get_required() ? "" : "[", name, many ? "..." : "",
                    o->get_required() ? "" : "]");
  }
  return out;
}

std::string Roff(const std::string& text) {
  std::string out = absl::StrReplaceAll(text, {{"\\", "\\e"}, {"-", "\\-"}});
  // A line starting with '.' or '\'' would be a request.
  if (!out.empty() && (out[0] == '.' || out[0] == '\'')) out = "\\&" + out;
  return out;
}

void ManOptions(const CLI::App& app, std::string* out) {
  for (const CLI::Option* o : app.get_options()) {
    absl::StrAppend(out, ".TP\n.B ", Roff(Spelling(*o)), "\n", Roff(o->get_description()), "\n");
  }
}

void ManCommands(const CLI::App& app, const std::string& path, std::string* out) {
  for (const CLI::App* c : Children(app)) {
    if (Hidden(*c)) continue;
    const std::string here = absl::StrCat(path, path.empty() ? "" : " ", c->get_name());
    absl::StrAppend(out, ".SS ", Roff(Synopsis(*c, here)), "\n", Roff(c->get_description()), "\n");
    std::vector<const CLI::Option*> options = c->get_options(
        [](const CLI::Option* o) { return o->get_lnames() != std::vector<std::string>{"help"}; });
    if (!options.empty()) {
      absl::StrAppend(out, ".RS\n");
      for (const CLI::Option* o : options) {
        absl::StrAppend(out, ".TP\n.B ", Roff(Spelling(*o)), "\n", Roff(o->get_description()),
                        "\n");
      }
      absl::StrAppend(out, ".RE\n");
    }
    ManCommands(*c, here, out);
  }
}

size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

// Every flag of app and the commands under it.
void AllFlags(const CLI::App& app, std::vector<std::string>* out) {
  std::vector<std::string> here = FlagNames(app);
  out->insert(out->end(), here.begin(), here.end());
  for (const CLI::App* c : Children(app)) AllFlags(*c, out);
}

}  // namespace

std::string ManPage(const CLI::App& app, const std::string& version) {
  std::string out = absl::StrCat(
      ".TH FLEETCTL 1 \"\" \"fleet ", Roff(version), "\" \"fleet manual\"\n.SH NAME\nfleetctl \\- ",
      Roff(app.get_description()), "\n.SH SYNOPSIS\n.B fleetctl\n",
      "[\\fIGLOBAL OPTIONS\\fR] \\fICOMMAND\\fR [\\fIARGS\\fR]\n", ".SH GLOBAL OPTIONS\n");
  ManOptions(app, &out);
  absl::StrAppend(&out, ".SH COMMANDS\n");
  ManCommands(app, "", &out);
  absl::StrAppend(&out, ".SH NOTES\n");
  for (absl::string_view paragraph :
       absl::StrSplit(app.get_footer(), "\n\n", absl::SkipWhitespace())) {
    absl::StrAppend(&out, ".PP\n", Roff(absl::StrReplaceAll(paragraph, {{"\n", " "}})), "\n");
  }
  absl::StrAppend(&out, ".SH SEE ALSO\n.BR fleetd (1),\n.BR fleet.yaml (5)\n");
  return out;
}

std::string BashCompletion(const CLI::App& app) {
  // One case arm per command path: its subcommands and flags.
  std::string arms;
  std::function<void(const CLI::App&, const std::string&)> walk = [&](const CLI::App& a,
                                                                      const std::string& path) {
    std::vector<std::string> words = FlagNames(a);
    for (const CLI::App* c : Children(a)) {
      if (!Hidden(*c)) words.push_back(c->get_name());
    }
    absl::StrAppend(&arms, "    \"", path, "\") words=\"", absl::StrJoin(words, " "), "\" ;;\n");
    for (const CLI::App* c : Children(a)) {
      walk(*c, absl::StrCat(path, path.empty() ? "" : " ", c->get_name()));
    }
  };
  walk(app, "");
  return absl::StrCat(R"sh(# bash completion for fleetctl (generated by `fleetctl completion bash`)
_fleetctl() {
  local cur=${COMP_WORDS[COMP_CWORD]} path="" words="" w i
  # The command path so far: the words that name commands, in order.
  for ((i = 1; i < COMP_CWORD; i++)); do
    w=${COMP_WORDS[i]}
    case "$w" in -*) continue ;; esac
    case " $(_fleetctl_words "${path}") " in
      *" $w "*) path="${path:+$path }$w" ;;
    esac
  done
  COMPREPLY=($(compgen -W "$(_fleetctl_words "$path")" -- "$cur"))
}
_fleetctl_words() {
  local words=""
  case "$1" in
)sh",
                      arms, R"sh(  esac
  echo "$words"
}
complete -F _fleetctl fleetctl
)sh");
}

std::string ZshCompletion(const CLI::App& app) {
  return absl::StrCat(
      "#compdef fleetctl\n# zsh completion for fleetctl (generated by `fleetctl "
      "completion zsh`)\nautoload -U +X bashcompinit && bashcompinit\n",
      BashCompletion(app));
}

std::string ExplainParseError(const CLI::App& app, const CLI::ParseError& error, int argc,
                              char** argv) {
  std::string out = error.what();
  // The command the operator was using, for "see fleetctl COMMAND --help".
  std::string command;
  for (int i = 1; i < argc && command.empty(); ++i) {
    for (const CLI::App* c : Children(app)) {
      if (c->get_name() == argv[i]) command = c->get_name();
    }
  }
  // A word where a command belongs that names none ("fleetctl stauts").
  if (command.empty() && dynamic_cast<const CLI::ExtrasError*>(&error) == nullptr) {
    for (int i = 1; i < argc; ++i) {
      if (argv[i][0] == '-') {
        const CLI::Option* flag = app.get_option_no_throw(argv[i]);
        if (flag != nullptr && flag->get_items_expected_min() > 0) ++i;  // Its value.
        continue;
      }
      std::string best;
      size_t best_distance = 3;
      for (const CLI::App* c : Children(app)) {
        if (Hidden(*c)) continue;
        const size_t d = EditDistance(argv[i], c->get_name());
        if (d < best_distance) {
          best_distance = d;
          best = c->get_name();
        }
      }
      out = absl::StrCat("unknown command '", argv[i], "'",
                         best.empty() ? "" : absl::StrCat("; did you mean ", best, "?"));
      break;
    }
  }
  if (dynamic_cast<const CLI::ExtrasError*>(&error) != nullptr) {
    std::vector<std::string> known;
    AllFlags(app, &known);
    for (int i = 1; i < argc; ++i) {
      const std::string arg = std::string(argv[i]).substr(0, std::string(argv[i]).find('='));
      if (arg.size() < 2 || arg[0] != '-' ||
          std::find(known.begin(), known.end(), arg) != known.end()) {
        continue;
      }
      std::string best;
      size_t best_distance = 3;
      for (const std::string& k : known) {
        const size_t d = EditDistance(arg, k);
        if (d < best_distance) {
          best_distance = d;
          best = k;
        }
      }
      if (!best.empty()) absl::StrAppend(&out, "; did you mean ", best, "?");
    }
  }
  absl::StrAppend(&out, "\nRun `fleetctl ", command, command.empty() ? "" : " ",
                  "--help` for usage.");
  return out;
}

}  // namespace fleet::cli
