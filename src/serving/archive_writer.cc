// Writing model archives (`optimum-cpp archive`): TorchServe's .mar (zip),
// tgz and no-archive layouts, with the exported model folder under
// serializedFile, extra files at the root and model-config.yaml as
// configFile. The target appears whole or not at all (written beside it,
// then renamed).
#include <cctype>
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
#include <zip.h>

#include <chrono>
#include <ctime>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>

#include "optimum/core/errors.h"
#include "optimum/core/paths.h"
#include "optimum/core/progress.h"
#include "optimum/exporters/export.h"
#include "optimum/pipelines/pipeline.h"
#include "optimum/serving/archive.h"
#include "optimum/tasks/registry.h"

namespace optimum::serving {

namespace fs = std::filesystem;

namespace {

constexpr const char* kManifestPath = "MAR-INF/MANIFEST.json";
// Folder of the archive holding the model (the manifest's serializedFile).
constexpr const char* kModelFolder = "model";
// Entries a written archive may hold: the reader's default limit.
constexpr size_t kMaxWrittenEntries = ArchiveLimits{}.max_entries;

std::string now_torchserve() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%d/%m/%Y %H:%M:%S", &tm);
  return buf;
}

// archive name -> file on disk, in insertion order.
struct Contents {
  std::vector<std::pair<std::string, fs::path>> files;
  std::map<std::string, fs::path> seen;

  void add(const std::string& name, const fs::path& source) {
    check_relative_path(name, "archive entry");
    const auto [it, inserted] = seen.emplace(name, source);
    if (!inserted) {
      throw InvalidArgument("archive entry '" + name + "' would come from both " + it->second.string() + " and " +
                            source.string());
    }
    if (files.size() >= kMaxWrittenEntries) {
      throw InvalidArgument("more than " + std::to_string(kMaxWrittenEntries) + " files to archive (at " +
                            source.string() + ")");
    }
    files.emplace_back(name, source);
  }

  // Every regular file below `folder` (symlinks followed: a Hub cache
  // snapshot is made of them), under `prefix`.
  void add_tree(const fs::path& folder, const std::string& prefix) {
    std::error_code ec;
    fs::recursive_directory_iterator it(folder, fs::directory_options::follow_directory_symlink, ec), end;
    if (ec) throw IoError("cannot list " + folder.string() + ": " + ec.message());
    for (; it != end; it.increment(ec)) {
      if (ec) throw IoError("cannot list " + folder.string() + ": " + ec.message());
      const std::string name = it->path().lexically_relative(folder).generic_string();
      const std::string leaf = it->path().filename().string();
      if (it->is_directory() && (leaf == ".git" || leaf == ".cache" || leaf == "__pycache__")) {
        it.disable_recursion_pending();
        continue;
      }
      if (it.depth() > 32) throw InvalidArgument(folder.string() + ": folders nested too deep at " + name);
      if (it->is_directory()) continue;
      if (!it->is_regular_file()) {
        std::cerr << "warning: skipping " << it->path().string() << ": not a regular file\n";
        continue;
      }
      add(prefix.empty() ? name : prefix + "/" + name, it->path());
    }
  }
};

std::string file_name_of(const fs::path& p) {
  fs::path n = p.lexically_normal();
  if (n.filename().empty()) n = n.parent_path();
  return n.filename().string();
}

// ---- writers ----

void write_zip(const fs::path& target, const Contents& contents, const std::string& manifest, bool store,
               ProgressStep& progress) {
  int code = 0;
  zip_t* z = zip_open(target.c_str(), ZIP_CREATE | ZIP_EXCL, &code);
  if (!z) {
    zip_error_t err;
    zip_error_init_with_code(&err, code);
    const std::string why = zip_error_strerror(&err);
    zip_error_fini(&err);
    throw IoError("cannot create " + target.string() + ": " + why);
  }
  auto fail = [&](const std::string& what) {
    const std::string why = zip_strerror(z);
    zip_discard(z);
    throw IoError(target.string() + ": " + what + ": " + why);
  };
  auto add = [&](const std::string& name, zip_source_t* src) {
    if (!src) fail("cannot read the source of " + name);
    const zip_int64_t idx = zip_file_add(z, name.c_str(), src, ZIP_FL_ENC_UTF_8);
    if (idx < 0) {
      zip_source_free(src);
      fail("cannot add " + name);
    }
    zip_set_file_compression(z, static_cast<zip_uint64_t>(idx), store ? ZIP_CM_STORE : ZIP_CM_DEFLATE, store ? 0 : 1);
    zip_file_set_external_attributes(z, static_cast<zip_uint64_t>(idx), 0, ZIP_OPSYS_UNIX, (0100644u) << 16);
  };
  add(kManifestPath, zip_source_buffer(z, manifest.data(), manifest.size(), 0));
  for (const auto& [name, source] : contents.files) add(name, zip_source_file(z, source.c_str(), 0, -1));
  // libzip writes everything in zip_close: its progress (0..1) scaled to the bytes archived.
  zip_register_progress_callback_with_state(
      z, 0.01,
      [](zip_t*, double fraction, void* step) {
        auto* s = static_cast<ProgressStep*>(step);
        s->update(static_cast<uint64_t>(fraction * static_cast<double>(s->total())));
      },
      nullptr, &progress);
  if (zip_close(z) != 0) fail("cannot write");
}

void write_tgz(const fs::path& target, const std::string& top, const Contents& contents, const std::string& manifest,
               ProgressStep& progress) {
  archive* a = archive_write_new();
  if (!a) throw IoError("archive_write_new failed");
  std::unique_ptr<archive, int (*)(archive*)> guard(a, archive_write_free);
  auto check = [&](int rc, const std::string& what) {
    if (rc < ARCHIVE_WARN) {
      throw IoError(target.string() + ": " + what + ": " + (archive_error_string(a) ? archive_error_string(a) : "error"));
    }
  };
  check(archive_write_add_filter_gzip(a), "gzip");
  check(archive_write_set_format_pax_restricted(a), "tar format");
  check(archive_write_open_filename(a, target.c_str()), "open");
  const std::time_t now = std::time(nullptr);
  auto entry = [&](const std::string& name, uint64_t size) {
    std::unique_ptr<archive_entry, void (*)(archive_entry*)> e(archive_entry_new(), archive_entry_free);
    archive_entry_set_pathname(e.get(), (top + "/" + name).c_str());
    archive_entry_set_filetype(e.get(), AE_IFREG);
    archive_entry_set_perm(e.get(), 0644);
    archive_entry_set_size(e.get(), static_cast<la_int64_t>(size));
    archive_entry_set_mtime(e.get(), now, 0);
    check(archive_write_header(a, e.get()), "header of " + name);
  };
  entry(kManifestPath, manifest.size());
  if (archive_write_data(a, manifest.data(), manifest.size()) != static_cast<la_ssize_t>(manifest.size())) {
    check(ARCHIVE_FATAL, "write " + std::string(kManifestPath));
  }
  std::vector<char> buf(1 << 16);
  for (const auto& [name, source] : contents.files) {
    std::ifstream in(source, std::ios::binary);
    if (!in) throw IoError("cannot read " + source.string());
    const uint64_t size = fs::file_size(source);
    entry(name, size);
    uint64_t done = 0;
    while (in && done < size) {
      in.read(buf.data(), static_cast<std::streamsize>(std::min<uint64_t>(buf.size(), size - done)));
      const auto n = in.gcount();
      if (n <= 0) break;
      if (archive_write_data(a, buf.data(), static_cast<size_t>(n)) != n) check(ARCHIVE_FATAL, "write " + name);
      done += static_cast<uint64_t>(n);
      progress.advance(static_cast<uint64_t>(n));
    }
    if (done != size) throw IoError(source.string() + " changed while it was archived");
  }
  check(archive_write_close(a), "close");
}

void write_folder(const fs::path& target, const Contents& contents, const std::string& manifest,
                  ProgressStep& progress) {
  fs::create_directories(target / "MAR-INF");
  {
    std::ofstream out(target / kManifestPath, std::ios::binary);
    out << manifest;
    if (!out) throw IoError("cannot write " + (target / kManifestPath).string());
  }
  for (const auto& [name, source] : contents.files) {
    const fs::path dst = safe_join(target, name, "archive entry");
    fs::create_directories(dst.parent_path());
    fs::copy_file(source, dst);
    progress.advance(fs::file_size(source));
  }
}

}  // namespace

std::string default_handler(const fs::path& model_dir) {
  if (fs::exists(model_dir / "modules.json")) return "text-embedding";
  // A folder of a GGUF file (llama.cpp's format holds decoder language models only).
  if (!fs::exists(model_dir / "config.json") && fs::is_directory(model_dir)) {
    for (const auto& e : fs::directory_iterator(model_dir))
      if (e.path().extension() == ".gguf") return "text-generation";
  }
  const fs::path record = model_dir / "optimum_export.json";
  if (fs::exists(record)) {
    const io::Json j = io::read_json(record);
    if (j.is_object() && j.contains("task") && j["task"].is_string()) return j["task"].get<std::string>();
  }
  try {
    return tasks::infer_task(model_dir);
  } catch (const InvalidArgument& e) {
    throw InvalidArgument(std::string(e.what()) + "; give the task with --handler");
  }
}

std::string check_handler(const std::string& handler) {
  // TorchServe's built-in handler and setup_config mode names.
  static const std::map<std::string, std::string> torchserve = {
      {"text_classifier", "text-classification"},    {"sequence_classification", "text-classification"},
      {"token_classification", "token-classification"}, {"question_answering", "question-answering"},
      {"feature_extraction", "feature-extraction"},  {"text_embedding", "text-embedding"},
      {"text_generation", "text-generation"}};
  if (auto it = torchserve.find(handler); it != torchserve.end()) return it->second;
  // translation_xx_to_yy keeps its languages: the pipeline reads task_specific_params under that name.
  if (handler.starts_with("translation_") && handler.find("_to_") != std::string::npos && handler.size() <= 64) {
    bool ok = true;
    for (const char c : handler) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-');
    if (ok) return handler;
  }
  std::vector<std::string> known = pipelines::pipeline_tasks();
  known.push_back("text-embedding");
  for (const auto& k : known) {
    if (k == handler) return handler;
  }
  try {
    const std::string canonical = tasks::canonical_task(handler);
    for (const auto& k : known) {
      if (k == canonical) return canonical;
    }
  } catch (const InvalidArgument&) {
  }
  std::string list;
  for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
  if (handler == "automatic-speech-recognition" || handler == "speech_recognition" || handler == "asr")
    throw Unsupported("handler " + handler +
                      ": automatic-speech-recognition is not served by this build (no speech pipeline yet; known: " +
                      list + ")");
  throw InvalidArgument("handler " + quote_untrusted(handler) + " is not a task optimum-cpp serves (known: " + list + ")");
}

fs::path write_archive(const ArchiveOptions& o) {
  check_model_name(o.model_name, "--model-name");
  check_model_name(o.version, "--version");
  if (!fs::is_directory(o.model_dir)) throw NotFound("--model " + o.model_dir.string() + " is not a folder");
  if (o.format != "default" && o.format != "tgz" && o.format != "no-archive" && o.format != "zip-store") {
    throw InvalidArgument("--archive-format " + quote_untrusted(o.format) +
                          " is not one of default, tgz, no-archive, zip-store");
  }
  Manifest m;
  m.created_on = now_torchserve();
  m.model_name = o.model_name;
  m.model_version = o.version;
  m.handler = check_handler(o.handler.empty() ? default_handler(o.model_dir) : o.handler);
  m.serialized_file = kModelFolder;
  m.archiver_version = std::string("optimum-cpp ") + exporters::tool_version();

  Contents contents;
  contents.add_tree(o.model_dir, kModelFolder);
  if (!o.config_file.empty()) {
    ModelConfig::from_yaml_file(o.config_file);  // a bad configuration fails here, not at serve time
    m.config_file = file_name_of(o.config_file);
    contents.add(m.config_file, o.config_file);
  }
  if (!o.requirements_file.empty()) {
    if (!fs::is_regular_file(o.requirements_file)) {
      throw NotFound("--requirements-file " + o.requirements_file.string() + " not found");
    }
    m.requirements_file = file_name_of(o.requirements_file);
    contents.add(m.requirements_file, o.requirements_file);
  }
  for (const auto& extra : o.extra_files) {
    // As torch-model-archiver: a file goes to the root, a folder's content too.
    if (fs::is_directory(extra)) {
      contents.add_tree(extra, "");
    } else if (fs::is_regular_file(extra)) {
      contents.add(file_name_of(extra), extra);
    } else {
      throw NotFound("--extra-files " + extra.string() + " not found");
    }
  }
  for (const auto& [name, _] : contents.files) {
    if (name == kManifestPath) throw InvalidArgument("an archived file would replace " + std::string(kManifestPath));
  }
  const std::string manifest = m.to_text();

  const fs::path export_path = o.export_path.empty() ? fs::path(".") : o.export_path;
  fs::create_directories(export_path);
  const std::string ext = o.format == "tgz" ? ".tar.gz" : o.format == "no-archive" ? "" : ".mar";
  const fs::path target = export_path / (o.model_name + ext);
  std::error_code ec;
  const bool exists = fs::symlink_status(target, ec).type() != fs::file_type::not_found;
  if (exists && !o.force) {
    throw InvalidArgument(target.string() + " already exists; use --force (-f) to overwrite it");
  }
  // Written beside the target, then renamed over it.
  std::string tmpl = (export_path / ("." + o.model_name + ext + ".partial-XXXXXX")).string();
  if (::mkdtemp(tmpl.data()) == nullptr) throw IoError(errno_message("mkdtemp " + tmpl));
  const fs::path tmp_dir = tmpl;
  try {
    const fs::path tmp = tmp_dir / (o.model_name + ext);
    uint64_t bytes = 0;
    for (const auto& [name, source] : contents.files) bytes += fs::file_size(source);
    ProgressStep progress("archive", target.string(), bytes, true);
    if (o.format == "tgz") {
      write_tgz(tmp, o.model_name, contents, manifest, progress);
    } else if (o.format == "no-archive") {
      write_folder(tmp, contents, manifest, progress);
    } else {
      write_zip(tmp, contents, manifest, o.format == "zip-store", progress);
    }
    if (exists) fs::remove_all(target);
    fs::rename(tmp, target);
  } catch (...) {
    fs::remove_all(tmp_dir, ec);
    throw;
  }
  fs::remove_all(tmp_dir, ec);
  return target;
}

}  // namespace optimum::serving
