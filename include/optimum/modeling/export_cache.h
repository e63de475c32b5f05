// The export cache: where from_pretrained(..., export=true) keeps the native
// exports it makes, one entry per source, task, precision and options.
//
// Location (first that applies):
//   1. LoadOptions::export_cache (Python: export_cache_dir=; CLI: --cache-dir)
//   2. $OPTIMUM_CPP_CACHE
//   3. $HF_HOME/optimum-cpp/exports
//   4. $XDG_CACHE_HOME/huggingface/optimum-cpp/exports
//   5. ~/.cache/huggingface/optimum-cpp/exports
// Entries: <root>/models--<org>--<name>/<dtype>-<task>-<hash> for a Hub
// model (also when it is reached through its huggingface_hub cache snapshot,
// as SentenceTransformer does, so AutoModel and SentenceTransformer share one
// entry), <root>/local--<folder name>/<dtype>-<task>-<hash> for a local
// folder. <hash> covers the commit (or the folder's files), subfolder,
// calibration, fallback precision, tool and layout versions. An entry's
// folder time is its last use. Entries of older versions (<root>/<name>--<hash>)
// are listed and cleaned as "legacy".
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace optimum::modeling {

// The cache root from the environment (items 2-5 above).
std::filesystem::path default_export_cache_dir();

// One export in the cache.
struct ExportCacheEntry {
  std::filesystem::path path;    // the entry folder
  std::string repo;              // "org/name", "local/<folder name>", or the legacy folder name
  std::string name;              // "<dtype>-<task>-<hash>" (legacy: the folder name)
  std::string source;            // optimum_export.json source.model_id ("" when unreadable)
  std::string commit;            // source.commit
  std::string dtype, task;       // from optimum_export.json
  uint64_t size_bytes = 0;       // regular files below the entry (symbolic links not followed)
  std::filesystem::file_time_type last_used;  // the entry folder's time
  bool legacy = false;           // an entry of the flat layout before models--org--name
  bool complete = true;          // false: no readable optimum_export.json (an interrupted export)
};

struct ExportCacheScan {
  std::filesystem::path root;
  std::vector<ExportCacheEntry> entries;   // sorted by repo, then name
  std::vector<std::string> warnings;       // what was skipped and why (symbolic links, files, unreadable folders)
};

// Lists the cache under `root` without following symbolic links; nothing in
// it is modified. A root that does not exist gives an empty scan.
ExportCacheScan scan_export_cache(const std::filesystem::path& root);

// Removes one entry of `scan` (and its repo folder when that becomes empty).
// Refuses (InvalidArgument) a path that is not a direct entry under the
// scan's root or that is a symbolic link; IoError names the path when the
// removal fails. Symbolic links inside the entry are removed, never followed.
void remove_export_cache_entry(const ExportCacheScan& scan, const ExportCacheEntry& entry);

// Marks `entry` as used now (its folder time).
void touch_export_cache_entry(const std::filesystem::path& entry);

}  // namespace optimum::modeling
