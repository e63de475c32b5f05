// Exception hierarchy of optimum-cpp. Every message names the file, field or
// value at fault; callers translate these into HTTP statuses or Python
// exceptions through one table each.
#pragma once

#include <stdexcept>
#include <string>

namespace optimum {

// Base of every error optimum-cpp throws on purpose.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A caller passed a value that cannot be used (bad shape, unknown option...).
class InvalidArgument : public Error {
 public:
  using Error::Error;
};

// A file, tensor, key or model that was asked for does not exist.
class NotFound : public Error {
 public:
  using Error::Error;
};

// The input is valid but this build cannot handle it (model_type, dtype...).
class Unsupported : public Error {
 public:
  using Error::Error;
};

// A file's content is malformed (bad JSON, truncated safetensors...).
class FormatError : public Error {
 public:
  using Error::Error;
};

// The operating system refused an operation (open, mmap, write...).
class IoError : public Error {
 public:
  using Error::Error;
};

// Builds "what: detail" messages; keeps call sites short.
std::string errno_message(const std::string& what);

}  // namespace optimum
