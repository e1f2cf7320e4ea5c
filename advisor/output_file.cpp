// SPDX-License-Identifier: MIT
/// @file output_file.cpp
/// @brief OutputFile: see output_file.h.
#include "output_file.h"

#include "text.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include <sys/stat.h>
#include <unistd.h>

namespace valley::advisor {

namespace fs = std::filesystem;

OutputFile::OutputFile(const std::string& path, const std::string& run_dir)
    : path_(path), shown_(path) {
  if (path == "-") {
    file_ = stdout;
    return;
  }
  // Through a symlink: replace the file it names, not the link.
  std::error_code ec;
  if (fs::is_symlink(path, ec)) {
    const fs::path target = fs::weakly_canonical(path, ec);
    if (!ec) path_ = target.string();
  }
  struct stat st {};
  const bool exists = ::stat(path_.c_str(), &st) == 0;
  if (exists && S_ISDIR(st.st_mode))
    throw std::runtime_error(fmt::format("{}: is a directory", printable(path)));
  const fs::path parent = fs::absolute(path_, ec).parent_path();
  if (fs::equivalent(parent, run_dir, ec)) {
    const std::string ext = fs::path(path_).extension().string();
    if (ext == ".vseg" || ext == ".vev")
      throw std::runtime_error(
          fmt::format("{}: would replace a trace of the run directory", printable(path)));
  }
  if (exists && !S_ISREG(st.st_mode)) {
    file_ = std::fopen(path_.c_str(), "w");
    if (!file_)
      throw std::runtime_error(fmt::format("{}: {}", printable(path), std::strerror(errno)));
    return;
  }
  temp_ = path_ + ".valley-XXXXXX";
  const int fd = ::mkstemp(temp_.data());
  if (fd < 0)
    throw std::runtime_error(
        fmt::format("cannot create a file beside {}: {}", printable(path), std::strerror(errno)));
  // mkstemp makes 0600; the output is an ordinary file (0666 less the umask).
  const mode_t mask = ::umask(0);
  ::umask(mask);
  ::fchmod(fd, exists ? st.st_mode & 07777 : 0666 & ~mask);
  file_ = ::fdopen(fd, "w");
  if (!file_) {
    ::close(fd);
    ::unlink(temp_.c_str());
    throw std::runtime_error(fmt::format("{}: {}", printable(temp_), std::strerror(errno)));
  }
}

OutputFile::~OutputFile() {
  if (file_ && file_ != stdout) std::fclose(file_);
  if (!temp_.empty()) ::unlink(temp_.c_str());
}

void OutputFile::commit() {
  const bool ok = std::fflush(file_) == 0 && !std::ferror(file_);
  if (file_ != stdout) {
    const bool closed = std::fclose(file_) == 0;
    file_ = nullptr;
    if (!ok || !closed)
      throw std::runtime_error(fmt::format("cannot write {}", printable(shown_)));
  } else if (!ok) {
    throw std::runtime_error("cannot write the output");
  }
  if (!temp_.empty()) {
    if (std::rename(temp_.c_str(), path_.c_str()) != 0)
      throw std::runtime_error(fmt::format("cannot rename {} to {}: {}", printable(temp_),
                                           printable(shown_), std::strerror(errno)));
    temp_.clear();
  }
}

} // namespace valley::advisor
