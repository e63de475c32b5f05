// `cache list|clean`: the export cache (modeling/export_cache.h), shown and
// cleaned like huggingface-cli scan-cache / delete-cache.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <memory>
#include <sstream>

#include "commands.h"
#include "optimum/core/errors.h"
#include "optimum/modeling/export_cache.h"

namespace optimum::cli {

namespace {

namespace fs = std::filesystem;

struct CacheArgs {
  std::string cache_dir;     // "" = default_export_cache_dir()
  std::string model;         // only entries of this model ("" = all)
  double older_than = -1;    // days; < 0 = any age
  bool dry_run = false;
};

// huggingface_hub's _format_size (utils/_cache_manager.py): powers of 1000, one decimal.
std::string format_size(uint64_t n) {
  double v = static_cast<double>(n);
  const char* units[] = {"", "K", "M", "G", "T", "P", "E", "Z"};
  int u = 0;
  while (v >= 1000.0 && u < 7) {
    v /= 1000.0;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%3.1f%s", v, units[u]);
  return buf;
}

double age_seconds(fs::file_time_type t) {
  return std::chrono::duration<double>(fs::file_time_type::clock::now() - t).count();
}

// huggingface_hub's format_timesince (utils/_parsing.py): the first unit whose
// rounded count stays within its limit.
std::string format_since(fs::file_time_type t) {
  const double delta = age_seconds(t);
  if (delta < 20) return "a few seconds ago";
  const struct {
    const char* label;
    double divider;
    double max_value;  // < 0: none
  } chunks[] = {{"second", 1, 59}, {"minute", 60, 59}, {"hour", 3600, 23}, {"day", 86400, 6},
                {"week", 604800, 6}, {"month", 2592000, 11}, {"year", 31536000, -1}};
  double value = 0;
  const char* label = "year";
  for (const auto& c : chunks) {
    value = std::nearbyint(delta / c.divider);  // Python's round: ties to even
    label = c.label;
    if (c.max_value >= 0 && value <= c.max_value) break;
  }
  const long n = static_cast<long>(value);
  return std::to_string(n) + " " + label + (n > 1 ? "s" : "") + " ago";
}

fs::path root_of(const CacheArgs& a) {
  return a.cache_dir.empty() ? modeling::default_export_cache_dir() : fs::path(a.cache_dir);
}

bool selected(const modeling::ExportCacheEntry& e, const CacheArgs& a) {
  if (!a.model.empty() && e.repo != a.model && e.source != a.model) return false;
  if (a.older_than >= 0 && age_seconds(e.last_used) < a.older_than * 86400.0) return false;
  return true;
}

void print_warnings(const modeling::ExportCacheScan& scan) {
  for (const std::string& w : scan.warnings) std::cerr << "warning: " << w << "\n";
}

std::string entry_name(const modeling::ExportCacheEntry& e) {
  std::string name = e.name;
  if (e.legacy) name += " (legacy)";
  if (!e.complete) name += " (incomplete)";
  return name;
}

void list(const CacheArgs& a) {
  const auto started = std::chrono::steady_clock::now();
  const modeling::ExportCacheScan scan = modeling::scan_export_cache(root_of(a));
  std::vector<const modeling::ExportCacheEntry*> shown;
  for (const auto& e : scan.entries) {
    if (selected(e, a)) shown.push_back(&e);
  }
  size_t w_repo = 7, w_entry = 5;
  for (const auto* e : shown) {
    w_repo = std::max(w_repo, e->repo.size());
    w_entry = std::max(w_entry, entry_name(*e).size());
  }
  std::ostringstream out;
  out << std::left << std::setw(static_cast<int>(w_repo)) << "REPO ID" << " " << std::setw(static_cast<int>(w_entry))
      << "ENTRY" << " " << std::setw(12) << "SIZE ON DISK" << " " << std::setw(18) << "LAST USED"
      << " LOCAL PATH\n";
  out << std::string(w_repo, '-') << " " << std::string(w_entry, '-') << " " << std::string(12, '-') << " "
      << std::string(18, '-') << " " << std::string(10, '-') << "\n";
  uint64_t total = 0;
  for (const auto* e : shown) {
    total += e->size_bytes;
    out << std::left << std::setw(static_cast<int>(w_repo)) << e->repo << " " << std::setw(static_cast<int>(w_entry))
        << entry_name(*e) << " " << std::right << std::setw(12) << format_size(e->size_bytes) << " " << std::left
        << std::setw(18) << format_since(e->last_used) << " " << e->path.string() << "\n";
  }
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  char secs[32];
  std::snprintf(secs, sizeof secs, "%.1f", took);
  out << "\nDone in " << secs << "s. Scanned " << shown.size() << " entr" << (shown.size() == 1 ? "y" : "ies")
      << " for a total of " << format_size(total) << " in " << scan.root.string() << ".\n";
  std::cout << out.str();
  print_warnings(scan);
}

void clean(const CacheArgs& a) {
  const modeling::ExportCacheScan scan = modeling::scan_export_cache(root_of(a));
  print_warnings(scan);
  uint64_t freed = 0;
  size_t removed = 0, failed = 0;
  for (const auto& e : scan.entries) {
    if (!selected(e, a)) continue;
    const std::string what = e.repo + " " + entry_name(e) + " (" + format_size(e.size_bytes) + ", last used " +
                             format_since(e.last_used) + ") " + e.path.string();
    if (a.dry_run) {
      std::cout << "would remove " << what << "\n";
    } else {
      try {
        modeling::remove_export_cache_entry(scan, e);
      } catch (const Error& err) {
        std::cerr << "error: " << err.what() << "\n";
        ++failed;
        continue;
      }
      std::cout << "removed " << what << "\n";
    }
    ++removed;
    freed += e.size_bytes;
  }
  std::cout << (a.dry_run ? "Would remove " : "Removed ") << removed << " entr" << (removed == 1 ? "y" : "ies")
            << ", " << (a.dry_run ? "would free " : "freed ") << format_size(freed) << " in " << scan.root.string()
            << ".\n";
  if (failed) {
    throw IoError(std::to_string(failed) + " entr" + (failed == 1 ? "y" : "ies") + " of " + scan.root.string() +
                  " could not be removed (see above)");
  }
}

void add_common(CLI::App* cmd, CacheArgs& a) {
  cmd->add_option("--cache-dir", a.cache_dir,
                  "Export cache folder (default: $OPTIMUM_CPP_CACHE, else $HF_HOME/optimum-cpp/exports, else "
                  "$XDG_CACHE_HOME/huggingface/optimum-cpp/exports, else ~/.cache/huggingface/optimum-cpp/exports)");
  cmd->add_option("--model", a.model, "Only the entries of this model (Hub id org/name, or local/<folder name>)");
}

}  // namespace

void add_cache_command(CLI::App& app) {
  auto a = std::make_shared<CacheArgs>();
  CLI::App* cmd = app.add_subcommand(
      "cache", "List or clean the export cache (the native exports from_pretrained(..., export=True) makes)");
  cmd->require_subcommand(1);
  CLI::App* ls = cmd->add_subcommand("list", "Print a table of the cache entries: model, entry, size, last use");
  add_common(ls, *a);
  ls->callback([a] { list(*a); });
  CLI::App* cl = cmd->add_subcommand(
      "clean", "Remove cache entries (all, or those --model / --older-than select); prints what it removes");
  add_common(cl, *a);
  cl->add_option("--older-than", a->older_than, "Only entries last used more than DAYS days ago")
      ->check(CLI::NonNegativeNumber);
  cl->add_flag("--dry-run", a->dry_run, "Print what would be removed; remove nothing");
  cl->callback([a] { clean(*a); });
}

}  // namespace optimum::cli
