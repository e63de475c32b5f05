// Helpers shared by the unit tests of every layer: exception checks that look
// at the message, and per-test temporary folders. GoogleMock is not a
// dependency, so `throws_with` plays the part of EXPECT_THAT(..., HasSubstr).
#pragma once

#include <cxxabi.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <typeinfo>
#include <vector>

namespace optimum::test_util {

// Readable name of an exception's dynamic type.
inline std::string type_name(const std::type_info& type) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> name(
      abi::__cxa_demangle(type.name(), nullptr, nullptr, &status), std::free);
  return status == 0 && name ? std::string(name.get()) : std::string(type.name());
}

// `text` in single quotes, as error messages quote names. (Built by append:
// GCC 12 at -O3 gives a false -Wrestrict on "'" + std::string(...).)
inline std::string in_quotes(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out.push_back('\'');
  out.append(text);
  out.push_back('\'');
  return out;
}

// Succeeds when `fn` throws an E whose message contains every needle; use as
// EXPECT_TRUE(throws_with<FormatError>([&] { ... }, {"file", "field"})).
template <typename E, typename F>
::testing::AssertionResult throws_with(F&& fn, const std::vector<std::string>& needles) {
  try {
    fn();
  } catch (const E& e) {
    const std::string message = e.what();
    for (const std::string& needle : needles) {
      if (message.find(needle) == std::string::npos) {
        return ::testing::AssertionFailure()
               << type_name(typeid(e)) << " message \"" << message << "\" lacks \"" << needle
               << "\"";
      }
    }
    return ::testing::AssertionSuccess();
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure() << "threw " << type_name(typeid(e)) << " instead of "
                                         << type_name(typeid(E)) << ": " << e.what();
  } catch (...) {
    return ::testing::AssertionFailure() << "threw something that is not a std::exception";
  }
  return ::testing::AssertionFailure() << "did not throw " << type_name(typeid(E));
}

// A fresh folder under the system temp dir, removed with its content on
// destruction. The name holds the test name and the process id, so tests
// run in parallel by CTest never share one.
class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string stem = "optimum-unit-";
    if (info) {
      stem.append(info->test_suite_name()).append("-").append(info->name());
    }
    for (char& c : stem) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') c = '_';
    }
    stem.append("-").append(std::to_string(::getpid())).append("-");
    static std::atomic<int> counter{0};
    const auto base = std::filesystem::temp_directory_path();
    do {
      path_ = base / (stem + std::to_string(counter++));
    } while (!std::filesystem::create_directory(path_));
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// Writes `bytes` to `path` exactly as given.
inline void write_bytes(const std::filesystem::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("test setup: cannot write " + path.string());
}

// The whole content of `path`.
inline std::string read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("test setup: cannot read " + path.string());
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace optimum::test_util
