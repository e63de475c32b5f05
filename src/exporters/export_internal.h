// Helpers shared by the encoder and decoder exporters.
#pragma once

#include <filesystem>
#include <system_error>
#include <utility>

namespace optimum::exporters::internal {

// A folder removed (with a partially written export) unless released.
class TempDir {
 public:
  explicit TempDir(std::filesystem::path p) : path_(std::move(p)) {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    if (!released_) {
      std::error_code ec;
      std::filesystem::remove_all(path_, ec);
    }
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  void release() { released_ = true; }

 private:
  std::filesystem::path path_;
  bool released_ = false;
};

// Moves the files of `from` into `to` (created if needed), replacing files of the same name.
inline void move_into(const std::filesystem::path& from, const std::filesystem::path& to) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(to, ec)) {
    fs::create_directories(to.parent_path().empty() ? fs::path(".") : to.parent_path());
    fs::rename(from, to);
    return;
  }
  for (auto it = fs::recursive_directory_iterator(from); it != fs::recursive_directory_iterator(); ++it) {
    if (!it->is_regular_file()) continue;
    const fs::path target = to / fs::relative(it->path(), from);
    fs::create_directories(target.parent_path());
    fs::rename(it->path(), target);
  }
  fs::remove_all(from, ec);
}

}  // namespace optimum::exporters::internal
