// Joining untrusted relative paths (file names from a server, module paths
// from a config file) onto a folder without ever leaving it. Every path that
// comes from outside and becomes a file or folder goes through safe_join.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace optimum {

// InvalidArgument naming `what` and the value when `relative` is absolute,
// has a ".." segment, a backslash, a NUL or another control character: the
// lexical half of safe_join, for names checked before any folder is known.
void check_relative_path(std::string_view relative, std::string_view what);

// `relative` ('/'-separated; "" and "." segments skipped) below `root`.
// InvalidArgument naming `what` and the value when `relative` is absolute,
// has a ".." segment, a backslash, a NUL or another control character, or
// when a symlink already on disk (dangling ones included) makes the result
// lead outside `root`. An empty `relative` gives `root`.
std::filesystem::path safe_join(const std::filesystem::path& root, std::string_view relative,
                                std::string_view what);

// Where `path` leads once every symlink on the way is followed, dangling
// ones included (realpath(3) that also resolves missing tails); relative
// paths are taken from the current folder. IoError for a symlink loop.
std::filesystem::path resolved_location(const std::filesystem::path& path);

// `text` in single quotes for messages about untrusted values: printable
// ASCII kept, other bytes (and quote, backslash) as \xNN, cut after 200 bytes.
std::string quote_untrusted(std::string_view text);

}  // namespace optimum
