// What fleetctl's command table (a CLI::App) says about itself, in the forms
// operators use besides --help: a man page, bash and zsh completions, and
// usage errors that suggest the flag that was meant. Generated from the
// table, so they cannot drift from the parser.
#ifndef FLEET_CLI_FLEETCTL_CLI_DOCS_H_
#define FLEET_CLI_FLEETCTL_CLI_DOCS_H_

#include <string>

#include "CLI/CLI.hpp"

namespace fleet::cli {

// fleetctl(1) in roff: synopsis, global options, every command with its
// arguments and options, and the footer (fleet finding, exit codes).
std::string ManPage(const CLI::App& app, const std::string& version);

// `source <(fleetctl completion bash)`: commands, subcommands and flags.
std::string BashCompletion(const CLI::App& app);
// zsh, through bashcompinit (the same table, the same answers).
std::string ZshCompletion(const CLI::App& app);

// A usage error in fleetctl's words: what was wrong, the flag that was
// probably meant for an unknown one, and where to read more.
std::string ExplainParseError(const CLI::App& app, const CLI::ParseError& error, int argc,
                              char** argv);

}  // namespace fleet::cli

#endif  // FLEET_CLI_FLEETCTL_CLI_DOCS_H_
