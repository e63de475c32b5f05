// What every subcommand shares: --quiet / --verbose and the progress sink,
// informational messages, local-path checks, and option-name suggestions.
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace optimum::cli {

// How much the CLI writes besides results and errors.
enum class Verbosity { Quiet, Normal, Verbose };

// Adds -q/--quiet and --verbose to the main app (accepted after the
// subcommand too) and installs the progress sink once parsing is complete.
void add_verbosity_flags(CLI::App& app);

// The verbosity chosen on the command line.
Verbosity verbosity();

// Writes "<text>\n" on stderr unless --quiet: what a command did, not its result.
void inform(const std::string& text);

// Writes an error line on stderr (also under --quiet), without breaking a
// progress bar drawn on a terminal.
void report_error(const std::string& text);

// Whether `id` reads as a local path rather than a Hub id: it starts with
// "./", "../", "/" or "~", or holds a backslash, or more than one "/".
bool looks_like_local_path(const std::string& id);

// Throws NotFound naming `option` when `id` looks like a local path
// (looks_like_local_path) that does not exist, before any Hub request. A
// leading "~/" is expanded from HOME (returned).
std::string check_local_path(const std::string& id, const std::string& option);

// In commands with positional arguments, makes every option that takes
// several values take one per occurrence (repeat the option), so that it
// never swallows the positional arguments after it.
void one_value_per_option(CLI::App& app);

// The message for unknown arguments of the parsed command: each unknown
// option named, with the closest known option; "" when there are none.
std::string unknown_options_message(const CLI::App& app);

}  // namespace optimum::cli
