// hub::download_url: one allow-listed URL to a file, same-origin redirects only.
#include <cstdio>
#include <fstream>

#include "http.h"
#include "optimum/core/errors.h"
#include "optimum/hub/errors.h"
#include "optimum/hub/hub.h"

namespace optimum::hub {

void download_url(const std::string& url, const std::filesystem::path& dest, uint64_t max_bytes, long timeout_s) {
  detail::check_scheme(url, "download URL");
  const std::filesystem::path part = dest.string() + ".part";
  std::ofstream out(part, std::ios::binary | std::ios::trunc);
  if (!out) throw IoError(errno_message("cannot write " + part.string()));
  uint64_t written = 0;
  detail::HttpRequest req;
  req.url = url;
  req.follow_redirects = true;
  req.stop_at_cross_origin = true;
  req.deadline_s = timeout_s;
  req.sink = [&](const char* data, size_t size) {
    written += size;
    if (written > max_bytes) return false;
    out.write(data, static_cast<std::streamsize>(size));
    return static_cast<bool>(out);
  };
  detail::HttpResponse res;
  try {
    res = detail::http_send(req);
  } catch (...) {
    out.close();
    std::filesystem::remove(part);
    if (written > max_bytes)
      throw NetworkError(url + ": larger than the limit of " + std::to_string(max_bytes) + " bytes");
    throw;
  }
  out.close();
  if (res.status >= 300 && res.status < 400) {
    std::filesystem::remove(part);
    const auto location = res.headers.get("location").value_or("");
    throw NetworkError(url + ": redirect to another origin refused (" + detail::resolve_url(url, location) + ")");
  }
  if (res.status < 200 || res.status >= 300) {
    std::filesystem::remove(part);
    throw NetworkError(url + ": HTTP " + std::to_string(res.status));
  }
  std::filesystem::rename(part, dest);
}

}  // namespace optimum::hub
