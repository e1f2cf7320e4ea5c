// SPDX-License-Identifier: MIT
/// @file reader_detail.h
/// @brief What the segment and event readers share: bounded file reads, problem reporting,
/// section checks. Internal to the reader.
#pragma once

#include "segment_reader.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <string>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace valley::advisor::detail {

// Files are read with pread, not mmap: a file shrunk by someone else must give a short read,
// not SIGBUS.
class InputFile {
public:
  explicit InputFile(const std::filesystem::path& path) {
    // O_NONBLOCK so that a FIFO named like a trace cannot hang the reader.
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd_ < 0) {
      error_ = std::strerror(errno);
      return;
    }
    struct stat st {};
    if (::fstat(fd_, &st) != 0) {
      error_ = std::strerror(errno);
    } else if (!S_ISREG(st.st_mode)) {
      error_ = "not a regular file";
    } else {
      size_ = static_cast<uint64_t>(st.st_size);
      return;
    }
    ::close(fd_);
    fd_ = -1;
  }
  ~InputFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  bool ok() const { return fd_ >= 0; }
  const std::string& error() const { return error_; }
  uint64_t size() const { return size_; }

  /// Reads exactly `n` bytes at `offset`; false if the file ends first or reading fails.
  bool read_at(uint64_t offset, void* buf, size_t n) const {
    auto* out = static_cast<char*>(buf);
    while (n > 0) {
      ssize_t got = ::pread(fd_, out, n, static_cast<off_t>(offset));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) return false;
      out += got;
      n -= static_cast<size_t>(got);
      offset += static_cast<uint64_t>(got);
    }
    return true;
  }

private:
  int fd_ = -1;
  uint64_t size_ = 0;
  std::string error_;
};

inline std::string hex(uint64_t v) { return fmt::format("{:#x}", v); }

inline std::string file_name(const std::filesystem::path& p) { return p.filename().string(); }

/// Appends problems about one file.
struct Reporter {
  std::vector<Problem>& out;
  std::string file;
  template <typename... Args> void operator()(fmt::format_string<Args...> f, Args&&... args) {
    out.push_back({file, fmt::format(f, std::forward<Args>(args)...)});
  }
};

/// The entries of a section that are safe to read.
struct SectionView {
  uint64_t offset = 0;
  uint32_t count = 0;
};

/// Checks a section against the entry size this reader knows and the file's size; reports
/// what is wrong and returns the entries that can be read (maybe none).
SectionView check_section(const char* name, const Section& s, size_t entry_size,
                          uint64_t header_size, uint64_t file_size, Reporter& report);

/// The two checks that come first in both file kinds (magic at 0, version at 8); false when
/// nothing after them may be read.
bool check_magic_and_version(const char (&magic)[8], const char (&expected)[8], const char* what,
                             uint32_t version, Reporter& report);

inline bool op_valid(uint8_t op) { return op >= 1 && op <= kOpMax; }
inline bool kind_valid(uint8_t kind) { return kind <= kFdKindMax; }

} // namespace valley::advisor::detail
