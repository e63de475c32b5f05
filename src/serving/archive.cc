// Reading model archives from untrusted sources. Every archive is validated
// whole (names, entry types, counts, sizes, compression ratio, manifest,
// model-config.yaml) before a byte is written; extraction then goes into a
// hidden sibling of the destination, bounded by the bytes actually read,
// and is renamed into place only when complete.
#include "optimum/serving/archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <system_error>

#include "optimum/core/errors.h"
#include "optimum/core/paths.h"

namespace optimum::serving {

namespace fs = std::filesystem;

namespace {

constexpr const char* kManifestPath = "MAR-INF/MANIFEST.json";
constexpr uint64_t kMaxManifestBytes = 1 << 20;
constexpr uint64_t kMaxConfigBytes = 1 << 20;
constexpr uint64_t kRatioFloorBytes = 1 << 20;  // the ratio limit applies beyond this size
constexpr size_t kMaxNameBytes = 4096;
constexpr size_t kChunk = 1 << 16;

[[noreturn]] void refuse(const std::string& archive, const std::string& entry, const std::string& why) {
  throw FormatError(archive + ": entry " + quote_untrusted(entry) + ": " + why);
}

// One file or folder of an archive, its name normalized ('/'-separated, no
// empty or "." segments).
struct Entry {
  std::string name;
  bool dir = false;
  uint64_t size = 0;       // uncompressed, as declared
  uint64_t comp_size = 0;  // compressed, as declared (zip only)
  int64_t index = -1;      // zip index
};

// The checked content of an archive: what extraction will write.
struct Plan {
  std::vector<Entry> entries;
  std::map<std::string, size_t> files;  // name -> entries index
  std::set<std::string> dirs;           // explicit and implied folders
  std::set<std::string> explicit_dirs;  // folders with their own entry
  uint64_t total = 0;
};

// A raw entry name to its normalized form; FormatError for absolute paths,
// "..", backslashes, control characters and names that are too long.
std::string normalize_name(const std::string& archive, const std::string& raw) {
  if (raw.empty()) refuse(archive, raw, "empty name");
  if (raw.size() > kMaxNameBytes) refuse(archive, raw.substr(0, 64), "name longer than 4096 bytes");
  if (raw.front() == '/') refuse(archive, raw, "absolute path");
  try {
    check_relative_path(raw, "archive entry");
  } catch (const InvalidArgument&) {
    refuse(archive, raw, "path leaves the archive (absolute, '..', backslash or control character)");
  }
  std::string out;
  size_t start = 0;
  while (start <= raw.size()) {
    size_t end = raw.find('/', start);
    if (end == std::string::npos) end = raw.size();
    const std::string seg = raw.substr(start, end - start);
    if (seg == "..") refuse(archive, raw, "path leaves the archive ('..')");
    if (!seg.empty() && seg != ".") out += (out.empty() ? "" : "/") + seg;
    start = end + 1;
  }
  return out;
}

// Adds an entry, enforcing count, duplicate, size and ratio limits.
void add_entry(Plan& plan, Entry e, const std::string& archive, const ArchiveLimits& limits) {
  if (plan.entries.size() >= limits.max_entries) {
    refuse(archive, e.name, "more than " + std::to_string(limits.max_entries) + " entries");
  }
  if (e.dir) {
    if (e.size != 0) refuse(archive, e.name, "folder entry with data");
    if (e.name.empty()) return;  // "./"
    if (!plan.explicit_dirs.insert(e.name).second) refuse(archive, e.name, "duplicate name");
    plan.dirs.insert(e.name);
  } else {
    if (e.name.empty()) refuse(archive, e.name, "file entry without a name");
    if (plan.files.count(e.name)) refuse(archive, e.name, "duplicate name");
    if (e.size > limits.max_entry_bytes) {
      refuse(archive, e.name, std::to_string(e.size) + " bytes uncompressed, above the limit of " +
                                  std::to_string(limits.max_entry_bytes));
    }
    if (e.comp_size > 0 && e.size > kRatioFloorBytes &&
        static_cast<double>(e.size) > limits.max_compression_ratio * static_cast<double>(e.comp_size)) {
      refuse(archive, e.name, "compression ratio " + std::to_string(e.size / e.comp_size) + " above the limit of " +
                                  std::to_string(static_cast<int64_t>(limits.max_compression_ratio)) +
                                  " (a zip bomb?)");
    }
    if (e.comp_size == 0 && e.index >= 0 && e.size > kRatioFloorBytes) {
      refuse(archive, e.name, "compressed size 0 for " + std::to_string(e.size) + " bytes (a zip bomb?)");
    }
    plan.total += e.size;
    if (plan.total > limits.max_total_bytes) {
      refuse(archive, e.name, "total uncompressed size above the limit of " + std::to_string(limits.max_total_bytes) +
                                  " bytes");
    }
    plan.files[e.name] = plan.entries.size();
  }
  // Parent folders are implied.
  for (size_t p = e.name.find('/'); p != std::string::npos; p = e.name.find('/', p + 1)) {
    plan.dirs.insert(e.name.substr(0, p));
  }
  plan.entries.push_back(std::move(e));
}

// A name that is both a file and a folder cannot be extracted.
void check_conflicts(const Plan& plan, const std::string& archive) {
  for (const auto& [name, _] : plan.files) {
    if (plan.dirs.count(name)) refuse(archive, name, "both a file and a folder");
  }
}

// The manifest and the configuration, checked against the plan.
void check_manifest(const Plan& plan, const Manifest& m, const std::string& archive) {
  if (!plan.files.count(m.serialized_file) && !plan.dirs.count(m.serialized_file)) {
    refuse(archive, m.serialized_file, "named by " + std::string(kManifestPath) + " model.serializedFile but missing");
  }
  if (!m.config_file.empty() && !plan.files.count(m.config_file)) {
    refuse(archive, m.config_file, "named by " + std::string(kManifestPath) + " model.configFile but missing");
  }
}

std::string normalized_member(const std::string& value, const std::string& source, const std::string& key) {
  try {
    check_relative_path(value, key);
  } catch (const InvalidArgument&) {
    throw FormatError(source + ": " + key + ": " + quote_untrusted(value) +
                      " is not a relative path inside the archive");
  }
  std::string out;
  size_t start = 0;
  while (start <= value.size()) {
    size_t end = value.find('/', start);
    if (end == std::string::npos) end = value.size();
    const std::string seg = value.substr(start, end - start);
    if (!seg.empty() && seg != ".") out += (out.empty() ? "" : "/") + seg;
    start = end + 1;
  }
  if (out.empty()) throw FormatError(source + ": " + key + ": empty path");
  return out;
}

// The folder to load: serializedFile, or the root when it names a file.
fs::path model_folder(const Plan& plan, const fs::path& root, const Manifest& m) {
  return plan.files.count(m.serialized_file) ? root : root / m.serialized_file;
}

// ---- extraction target ----

// A hidden sibling folder of `dest`, removed unless committed.
class Staging {
 public:
  explicit Staging(const fs::path& dest) : dest_(dest) {
    std::error_code ec;
    if (fs::symlink_status(dest, ec).type() != fs::file_type::not_found) {
      throw InvalidArgument("extraction folder " + dest.string() + " already exists");
    }
    fs::path parent = dest.parent_path();
    if (parent.empty()) parent = ".";
    fs::create_directories(parent, ec);
    if (ec) throw IoError("cannot create " + parent.string() + ": " + ec.message());
    std::string tmpl = (parent / ("." + dest.filename().string() + ".partial-XXXXXX")).string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw IoError(errno_message("mkdtemp " + tmpl));
    tmp_ = tmpl;
    fs::permissions(tmp_, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                              fs::perms::others_read | fs::perms::others_exec, ec);
  }
  ~Staging() {
    if (!tmp_.empty()) {
      std::error_code ec;
      fs::remove_all(tmp_, ec);
    }
  }
  Staging(const Staging&) = delete;
  Staging& operator=(const Staging&) = delete;

  const fs::path& path() const { return tmp_; }

  void commit() {
    if (::renameat2(AT_FDCWD, tmp_.c_str(), AT_FDCWD, dest_.c_str(), RENAME_NOREPLACE) != 0) {
      if (errno == EEXIST) throw InvalidArgument("extraction folder " + dest_.string() + " already exists");
      throw IoError(errno_message("rename " + tmp_.string() + " to " + dest_.string()));
    }
    tmp_.clear();
  }

 private:
  fs::path dest_;
  fs::path tmp_;
};

// Writes one file below the staging folder from `read` (returns bytes, 0 at
// the end, < 0 on error), never more than `declared` bytes.
void extract_file(const fs::path& root, const Entry& e, const std::string& archive,
                  const std::function<int64_t(char*, size_t)>& read) {
  const fs::path target = safe_join(root, e.name, "archive entry");
  fs::create_directories(target.parent_path());
  const int fd = ::open(target.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) throw IoError(errno_message("create " + target.string()));
  std::unique_ptr<int, void (*)(int*)> guard(new int(fd), [](int* p) {
    ::close(*p);
    delete p;
  });
  std::vector<char> buf(kChunk);
  uint64_t done = 0;
  for (;;) {
    const int64_t n = read(buf.data(), buf.size());
    if (n < 0) refuse(archive, e.name, "corrupt data");
    if (n == 0) break;
    done += static_cast<uint64_t>(n);
    if (done > e.size) refuse(archive, e.name, "more data than its declared " + std::to_string(e.size) + " bytes");
    for (int64_t off = 0; off < n;) {
      const ssize_t w = ::write(fd, buf.data() + off, static_cast<size_t>(n - off));
      if (w < 0) {
        if (errno == EINTR) continue;
        throw IoError(errno_message("write " + target.string()));
      }
      off += w;
    }
  }
  if (done != e.size) {
    refuse(archive, e.name, "truncated: " + std::to_string(done) + " of " + std::to_string(e.size) + " bytes");
  }
}

void make_dirs(const fs::path& root, const Plan& plan) {
  for (const auto& d : plan.dirs) fs::create_directories(safe_join(root, d, "archive entry"));
}

// An open file descriptor, closed on scope exit.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// Opens a regular file read-only without blocking on FIFOs or devices.
int open_regular(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ENOENT) throw NotFound("archive " + path.string() + " not found");
    throw IoError(errno_message("open " + path.string()));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw IoError("archive " + path.string() + " is not a regular file");
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return fd;
}

Manifest parse_manifest(const std::string& text, const std::string& archive) {
  const std::string source = archive + "!" + kManifestPath;
  io::JsonOptions opts;
  opts.max_depth = 32;
  opts.max_bytes = kMaxManifestBytes;
  return Manifest::from_json(io::parse_json(text, source, opts), source);
}

// ---- zip (.mar) ----

struct ZipCloser {
  void operator()(zip_t* z) const { zip_discard(z); }
};
struct ZipFileCloser {
  void operator()(zip_file_t* f) const { zip_fclose(f); }
};

std::string zip_error_text(int code) {
  zip_error_t err;
  zip_error_init_with_code(&err, code);
  std::string s = zip_error_strerror(&err);
  zip_error_fini(&err);
  return s;
}

// A small member read whole, bounded by `max_bytes` (declared and actual).
std::string read_zip_member(zip_t* z, const Entry& e, const std::string& archive, uint64_t max_bytes) {
  if (e.size > max_bytes) refuse(archive, e.name, "larger than " + std::to_string(max_bytes) + " bytes");
  std::unique_ptr<zip_file_t, ZipFileCloser> f(zip_fopen_index(z, static_cast<zip_uint64_t>(e.index), 0));
  if (!f) refuse(archive, e.name, std::string("cannot read: ") + zip_strerror(z));
  std::string out;
  std::vector<char> buf(kChunk);
  for (;;) {
    const zip_int64_t n = zip_fread(f.get(), buf.data(), buf.size());
    if (n < 0) refuse(archive, e.name, std::string("corrupt data: ") + zip_file_strerror(f.get()));
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > e.size) refuse(archive, e.name, "more data than declared");
    out.append(buf.data(), static_cast<size_t>(n));
  }
  if (out.size() != e.size) refuse(archive, e.name, "truncated");
  return out;
}

ExtractedArchive open_zip(const fs::path& path, const fs::path& dest, const ArchiveLimits& limits) {
  const std::string archive = path.string();
  const int fd = open_regular(path);
  int code = 0;
  std::unique_ptr<zip_t, ZipCloser> z(zip_fdopen(fd, ZIP_RDONLY | ZIP_CHECKCONS, &code));
  if (!z) {
    ::close(fd);
    if (code == ZIP_ER_EXISTS) throw FormatError(archive + ": two entries have the same name (duplicate names)");
    throw FormatError(archive + ": not a valid zip (.mar) archive: " + zip_error_text(code));
  }
  const zip_int64_t n = zip_get_num_entries(z.get(), 0);
  if (n < 0) throw FormatError(archive + ": cannot list entries");
  if (static_cast<uint64_t>(n) > limits.max_entries) {
    throw FormatError(archive + ": " + std::to_string(n) + " entries, above the limit of " +
                      std::to_string(limits.max_entries));
  }
  Plan plan;
  for (zip_int64_t i = 0; i < n; ++i) {
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(z.get(), static_cast<zip_uint64_t>(i), ZIP_FL_ENC_RAW, &st) != 0 || !(st.valid & ZIP_STAT_NAME)) {
      throw FormatError(archive + ": entry #" + std::to_string(i) + ": unreadable header: " + zip_strerror(z.get()));
    }
    const std::string raw = st.name;
    if (!(st.valid & ZIP_STAT_SIZE) || !(st.valid & ZIP_STAT_COMP_SIZE)) refuse(archive, raw, "sizes unknown");
    if ((st.valid & ZIP_STAT_ENCRYPTION_METHOD) && st.encryption_method != ZIP_EM_NONE) {
      refuse(archive, raw, "encrypted entries are not supported");
    }
    if ((st.valid & ZIP_STAT_COMP_METHOD) && !zip_compression_method_supported(st.comp_method, 0)) {
      refuse(archive, raw, "unsupported compression method " + std::to_string(st.comp_method));
    }
    Entry e;
    e.dir = !raw.empty() && raw.back() == '/';
    zip_uint8_t opsys = 0;
    zip_uint32_t attr = 0;
    if (zip_file_get_external_attributes(z.get(), static_cast<zip_uint64_t>(i), 0, &opsys, &attr) == 0 &&
        opsys == ZIP_OPSYS_UNIX) {
      const mode_t mode = static_cast<mode_t>(attr >> 16);
      const mode_t type = mode & S_IFMT;
      if (S_ISLNK(mode)) refuse(archive, raw, "symbolic link (links are not allowed in archives)");
      if (type == S_IFDIR) e.dir = true;
      else if (type != 0 && type != S_IFREG) refuse(archive, raw, "special file (only files and folders are allowed)");
    }
    e.name = normalize_name(archive, raw);
    e.size = st.size;
    e.comp_size = st.comp_size;
    e.index = i;
    add_entry(plan, std::move(e), archive, limits);
  }
  check_conflicts(plan, archive);
  const auto m_it = plan.files.find(kManifestPath);
  if (m_it == plan.files.end()) throw FormatError(archive + ": no " + std::string(kManifestPath) + " (not a model archive)");
  ExtractedArchive out;
  out.manifest = parse_manifest(read_zip_member(z.get(), plan.entries[m_it->second], archive, kMaxManifestBytes), archive);
  check_manifest(plan, out.manifest, archive);
  if (!out.manifest.config_file.empty()) {
    const Entry& ce = plan.entries[plan.files.at(out.manifest.config_file)];
    out.config = ModelConfig::from_yaml_text(read_zip_member(z.get(), ce, archive, kMaxConfigBytes),
                                             archive + "!" + out.manifest.config_file);
  }
  // Validated: extract.
  Staging staging(dest);
  make_dirs(staging.path(), plan);
  for (const auto& e : plan.entries) {
    if (e.dir) continue;
    std::unique_ptr<zip_file_t, ZipFileCloser> f(zip_fopen_index(z.get(), static_cast<zip_uint64_t>(e.index), 0));
    if (!f) refuse(archive, e.name, std::string("cannot read: ") + zip_strerror(z.get()));
    extract_file(staging.path(), e, archive, [&](char* buf, size_t size) -> int64_t {
      return zip_fread(f.get(), buf, size);
    });
  }
  staging.commit();
  out.root = dest;
  out.model_dir = model_folder(plan, dest, out.manifest);
  return out;
}

// ---- tar.gz ----

struct ArchiveReader {
  archive* a = nullptr;
  ArchiveReader(int fd, const std::string& name) {
    if (::lseek(fd, 0, SEEK_SET) != 0) throw IoError(errno_message("seek " + name));
    a = archive_read_new();
    if (!a) throw IoError("archive_read_new failed");
    archive_read_support_filter_gzip(a);
    archive_read_support_format_tar(a);
    if (archive_read_open_fd(a, fd, kChunk) != ARCHIVE_OK) {
      const std::string why = archive_error_string(a) ? archive_error_string(a) : "unknown error";
      archive_read_free(a);
      throw FormatError(name + ": not a valid tar.gz archive: " + why);
    }
  }
  ~ArchiveReader() { archive_read_free(a); }
  ArchiveReader(const ArchiveReader&) = delete;
  ArchiveReader& operator=(const ArchiveReader&) = delete;
  std::string error() const { return archive_error_string(a) ? archive_error_string(a) : "unknown error"; }
};

// One tar header, checked; `raw` is the name as stored.
Entry tar_entry(archive_entry* ae, const std::string& archive, std::string& raw) {
  const char* p = archive_entry_pathname(ae);
  if (!p) p = archive_entry_pathname_utf8(ae);
  if (!p) throw FormatError(archive + ": an entry has no readable name");
  raw = p;
  if (archive_entry_hardlink(ae)) refuse(archive, raw, "hard link (links are not allowed in archives)");
  if (archive_entry_symlink(ae) || archive_entry_filetype(ae) == AE_IFLNK) {
    refuse(archive, raw, "symbolic link (links are not allowed in archives)");
  }
  const auto type = archive_entry_filetype(ae);
  if (type != AE_IFREG && type != AE_IFDIR) refuse(archive, raw, "special file (only files and folders are allowed)");
  if (archive_entry_sparse_count(ae) > 0) refuse(archive, raw, "sparse file");
  if (type == AE_IFREG && !archive_entry_size_is_set(ae)) refuse(archive, raw, "size unknown");
  Entry e;
  e.dir = type == AE_IFDIR;
  const la_int64_t size = archive_entry_size(ae);
  if (size < 0) refuse(archive, raw, "negative size");
  e.size = e.dir ? 0 : static_cast<uint64_t>(size);
  e.name = normalize_name(archive, raw);
  return e;
}

std::string read_tar_member(ArchiveReader& r, const Entry& e, const std::string& archive, uint64_t max_bytes) {
  if (e.size > max_bytes) refuse(archive, e.name, "larger than " + std::to_string(max_bytes) + " bytes");
  std::string out;
  std::vector<char> buf(kChunk);
  for (;;) {
    const la_ssize_t n = archive_read_data(r.a, buf.data(), buf.size());
    if (n < 0) refuse(archive, e.name, "corrupt data: " + r.error());
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > e.size) refuse(archive, e.name, "more data than declared");
    out.append(buf.data(), static_cast<size_t>(n));
  }
  if (out.size() != e.size) refuse(archive, e.name, "truncated");
  return out;
}

// Strips the one top-level folder TorchServe's tgz format puts everything in
// (`name/MAR-INF/MANIFEST.json`); "" when the manifest is at the root.
std::string tgz_prefix(const Plan& plan) {
  if (plan.files.count(kManifestPath)) return "";
  std::string prefix;
  for (const auto& e : plan.entries) {
    const size_t slash = e.name.find('/');
    const std::string top = slash == std::string::npos ? e.name : e.name.substr(0, slash);
    if (slash == std::string::npos && !e.dir) return "";  // a file at the root
    if (prefix.empty()) prefix = top;
    else if (prefix != top) return "";
  }
  return prefix;
}

std::string strip(const std::string& name, const std::string& prefix) {
  if (prefix.empty()) return name;
  return name.size() > prefix.size() ? name.substr(prefix.size() + 1) : "";
}

ExtractedArchive open_tgz(const fs::path& path, const fs::path& dest, const ArchiveLimits& limits) {
  const std::string archive = path.string();
  Fd fd{open_regular(path)};
  struct stat st {};
  ::fstat(fd.fd, &st);
  const uint64_t file_size = static_cast<uint64_t>(st.st_size);

  // Pass 1: headers only (data skipped); the running total is held to the
  // ratio limit before any data is decompressed.
  Plan raw_plan;
  {
    ArchiveReader r(fd.fd, archive);
    archive_entry* ae = nullptr;
    for (;;) {
      const int rc = archive_read_next_header(r.a, &ae);
      if (rc == ARCHIVE_EOF) break;
      if (rc < ARCHIVE_WARN) throw FormatError(archive + ": corrupt tar.gz after " + std::to_string(raw_plan.entries.size()) + " entries: " + r.error());
      std::string raw;
      Entry e = tar_entry(ae, archive, raw);
      const std::string name = e.name;
      const uint64_t total = raw_plan.total + e.size;
      if (total > kRatioFloorBytes && static_cast<double>(total) > limits.max_compression_ratio * static_cast<double>(file_size)) {
        refuse(archive, raw, "compression ratio of the archive above the limit of " +
                                 std::to_string(static_cast<int64_t>(limits.max_compression_ratio)) + " (a gzip bomb?)");
      }
      add_entry(raw_plan, std::move(e), archive, limits);
      if (archive_read_data_skip(r.a) != ARCHIVE_OK) refuse(archive, raw, "corrupt data: " + r.error());
    }
  }
  check_conflicts(raw_plan, archive);
  // The plan with TorchServe's top-level folder stripped.
  const std::string prefix = tgz_prefix(raw_plan);
  Plan plan;
  std::vector<std::string> raw_names;  // entries in stream order (normalized, unstripped)
  for (const auto& e : raw_plan.entries) {
    raw_names.push_back(e.name);
    Entry s = e;
    s.name = strip(e.name, prefix);
    if (s.name.empty()) continue;  // the top-level folder itself
    add_entry(plan, std::move(s), archive, limits);
  }
  const auto m_it = plan.files.find(kManifestPath);
  if (m_it == plan.files.end()) throw FormatError(archive + ": no " + std::string(kManifestPath) + " (not a model archive)");

  // Pass 2: the manifest and the configuration.
  ExtractedArchive out;
  std::string config_text;
  {
    ArchiveReader r(fd.fd, archive);
    archive_entry* ae = nullptr;
    bool have_manifest = false;
    while (archive_read_next_header(r.a, &ae) >= ARCHIVE_WARN) {
      std::string raw;
      const Entry e = tar_entry(ae, archive, raw);
      const std::string name = strip(e.name, prefix);
      if (!e.dir && name == kManifestPath) {
        out.manifest = parse_manifest(read_tar_member(r, e, archive, kMaxManifestBytes), archive);
        check_manifest(plan, out.manifest, archive);
        have_manifest = true;
        if (out.manifest.config_file.empty()) break;
      } else if (have_manifest && !e.dir && name == out.manifest.config_file) {
        config_text = read_tar_member(r, e, archive, kMaxConfigBytes);
        break;
      }
    }
    if (!have_manifest) throw FormatError(archive + ": " + kManifestPath + " unreadable");
  }
  if (!out.manifest.config_file.empty()) {
    if (config_text.empty() && plan.entries[plan.files.at(out.manifest.config_file)].size != 0) {
      // The configuration came before the manifest in the stream.
      ArchiveReader r(fd.fd, archive);
      archive_entry* ae = nullptr;
      while (archive_read_next_header(r.a, &ae) >= ARCHIVE_WARN) {
        std::string raw;
        const Entry e = tar_entry(ae, archive, raw);
        if (!e.dir && strip(e.name, prefix) == out.manifest.config_file) {
          config_text = read_tar_member(r, e, archive, kMaxConfigBytes);
          break;
        }
      }
    }
    out.config = ModelConfig::from_yaml_text(config_text, archive + "!" + out.manifest.config_file);
  }

  // Pass 3: extraction; every header must be the one validated in pass 1.
  Staging staging(dest);
  make_dirs(staging.path(), plan);
  {
    ArchiveReader r(fd.fd, archive);
    archive_entry* ae = nullptr;
    size_t i = 0;
    for (;;) {
      const int rc = archive_read_next_header(r.a, &ae);
      if (rc == ARCHIVE_EOF) break;
      if (rc < ARCHIVE_WARN) throw FormatError(archive + ": corrupt tar.gz: " + r.error());
      std::string raw;
      Entry e = tar_entry(ae, archive, raw);
      if (i >= raw_plan.entries.size() || raw_plan.entries[i].name != e.name || raw_plan.entries[i].size != e.size ||
          raw_plan.entries[i].dir != e.dir) {
        refuse(archive, raw, "the archive changed while it was read");
      }
      ++i;
      e.name = strip(e.name, prefix);
      if (e.dir || e.name.empty()) continue;
      extract_file(staging.path(), e, archive, [&](char* buf, size_t size) -> int64_t {
        return archive_read_data(r.a, buf, size);
      });
    }
    if (i != raw_plan.entries.size()) throw FormatError(archive + ": the archive changed while it was read");
  }
  staging.commit();
  out.root = dest;
  out.model_dir = model_folder(plan, dest, out.manifest);
  return out;
}

// ---- folder (no-archive) ----

ExtractedArchive open_folder(const fs::path& folder, const ArchiveLimits& limits) {
  const std::string archive = folder.string();
  const fs::path real_root = resolved_location(folder);
  Plan plan;
  std::error_code ec;
  fs::recursive_directory_iterator it(folder, fs::directory_options::none, ec), end;
  if (ec) throw IoError("cannot list " + archive + ": " + ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) throw IoError("cannot list " + archive + ": " + ec.message());
    const fs::path rel = it->path().lexically_relative(folder);
    const std::string name = rel.generic_string();
    const auto status = it->symlink_status();
    Entry e;
    e.name = normalize_name(archive, name);
    if (fs::is_symlink(status)) {
      const fs::path target = resolved_location(it->path());
      const auto rel_target = target.lexically_relative(real_root);
      if (rel_target.empty() || *rel_target.begin() == "..") {
        refuse(archive, name, "symbolic link leading outside the folder, to " + target.string());
      }
      const auto tstatus = fs::status(target, ec);
      if (ec || !(fs::is_regular_file(tstatus) || fs::is_directory(tstatus))) {
        refuse(archive, name, "symbolic link to a missing or special file");
      }
      e.dir = fs::is_directory(tstatus);
      if (!e.dir) e.size = fs::file_size(target);
    } else if (fs::is_directory(status)) {
      e.dir = true;
    } else if (fs::is_regular_file(status)) {
      e.size = it->file_size();
    } else {
      refuse(archive, name, "special file (only files and folders are allowed)");
    }
    add_entry(plan, std::move(e), archive, limits);
  }
  if (!plan.files.count(kManifestPath)) throw FormatError(archive + ": no " + std::string(kManifestPath) + " (not a model archive)");
  ExtractedArchive out;
  const fs::path manifest = safe_join(folder, kManifestPath, "manifest");
  out.manifest = parse_manifest(io::read_text_file(manifest, kMaxManifestBytes), archive);
  check_manifest(plan, out.manifest, archive);
  if (!out.manifest.config_file.empty()) {
    out.config = ModelConfig::from_yaml_file(safe_join(folder, out.manifest.config_file, "configFile"));
  }
  out.root = folder;
  out.model_dir = plan.files.count(out.manifest.serialized_file)
                      ? folder
                      : safe_join(folder, out.manifest.serialized_file, "serializedFile");
  return out;
}

// ---- manifest helpers ----

const std::regex& name_pattern() {
  static const std::regex re("^[A-Za-z0-9][A-Za-z0-9_\\-.]*$");
  return re;
}

std::string manifest_string(const io::Json& obj, const char* key, const std::string& source, const std::string& where,
                            bool required) {
  const auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) {
    if (required) throw FormatError(source + ": " + where + key + " is missing");
    return "";
  }
  if (!it->is_string()) throw FormatError(source + ": " + where + key + " must be a string");
  const std::string v = it->get<std::string>();
  if (v.size() > kMaxNameBytes) throw FormatError(source + ": " + where + key + " is too long");
  return v;
}

}  // namespace

void check_model_name(const std::string& name, const std::string& what) {
  if (name.empty() || name.size() > 255 || !std::regex_match(name, name_pattern())) {
    throw InvalidArgument(what + " " + quote_untrusted(name) +
                          " must start with a letter or digit and contain only letters, digits, '_', '-' and '.'");
  }
}

io::Json Manifest::to_json() const {
  io::Json model = {{"modelName", model_name},
                    {"serializedFile", serialized_file},
                    {"handler", handler},
                    {"modelVersion", model_version}};
  if (!requirements_file.empty()) model["requirementsFile"] = requirements_file;
  if (!config_file.empty()) model["configFile"] = config_file;
  return {{"createdOn", created_on}, {"runtime", runtime}, {"model", model}, {"archiverVersion", archiver_version}};
}

std::string Manifest::to_text() const {
  // TorchServe's key order (Python dict order of its archiver).
  io::OrderedJson model;
  model["modelName"] = model_name;
  model["serializedFile"] = serialized_file;
  model["handler"] = handler;
  model["modelVersion"] = model_version;
  if (!requirements_file.empty()) model["requirementsFile"] = requirements_file;
  if (!config_file.empty()) model["configFile"] = config_file;
  io::OrderedJson root;
  root["createdOn"] = created_on;
  root["runtime"] = runtime;
  root["model"] = model;
  root["archiverVersion"] = archiver_version;
  return root.dump(2) + "\n";
}

Manifest Manifest::from_json(const io::Json& json, const std::string& source) {
  if (!json.is_object()) throw FormatError(source + ": expected a JSON object");
  const auto model_it = json.find("model");
  if (model_it == json.end() || !model_it->is_object()) throw FormatError(source + ": 'model' must be an object");
  const io::Json& model = *model_it;
  Manifest m;
  m.created_on = manifest_string(json, "createdOn", source, "", false);
  m.runtime = manifest_string(json, "runtime", source, "", false);
  if (m.runtime.empty()) m.runtime = "python";
  m.archiver_version = manifest_string(json, "archiverVersion", source, "", false);
  m.model_name = manifest_string(model, "modelName", source, "model.", true);
  try {
    check_model_name(m.model_name, "model.modelName");
  } catch (const InvalidArgument& e) {
    throw FormatError(source + ": " + e.what());
  }
  m.model_version = manifest_string(model, "modelVersion", source, "model.", false);
  if (m.model_version.empty()) m.model_version = "1.0";
  try {
    check_model_name(m.model_version, "model.modelVersion");
  } catch (const InvalidArgument& e) {
    throw FormatError(source + ": " + e.what());
  }
  m.handler = manifest_string(model, "handler", source, "model.", true);
  m.serialized_file =
      normalized_member(manifest_string(model, "serializedFile", source, "model.", true), source, "model.serializedFile");
  const std::string config = manifest_string(model, "configFile", source, "model.", false);
  if (!config.empty()) m.config_file = normalized_member(config, source, "model.configFile");
  const std::string req = manifest_string(model, "requirementsFile", source, "model.", false);
  if (!req.empty()) m.requirements_file = normalized_member(req, source, "model.requirementsFile");
  return m;
}

ExtractedArchive open_archive(const fs::path& archive, const fs::path& dest_in, const ArchiveLimits& limits) {
  fs::path dest = dest_in.lexically_normal();
  if (dest.filename().empty()) dest = dest.parent_path();
  std::error_code ec;
  const auto status = fs::status(archive, ec);
  if (status.type() == fs::file_type::not_found) throw NotFound("archive " + archive.string() + " not found");
  if (fs::is_directory(status)) return open_folder(archive, limits);
  unsigned char magic[4] = {0, 0, 0, 0};
  {
    Fd fd{open_regular(archive)};
    ssize_t got = 0;
    while (got < 4) {
      const ssize_t n = ::read(fd.fd, magic + got, static_cast<size_t>(4 - got));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      got += n;
    }
  }
  if (magic[0] == 'P' && magic[1] == 'K' && (magic[2] == 3 || magic[2] == 5) && (magic[3] == 4 || magic[3] == 6)) {
    return open_zip(archive, dest, limits);
  }
  if (magic[0] == 0x1f && magic[1] == 0x8b) return open_tgz(archive, dest, limits);
  throw FormatError(archive.string() + ": not a model archive (a .mar zip, a .tar.gz or a folder)");
}

}  // namespace optimum::serving
