// SPDX-License-Identifier: MIT
/// @file output_file.h
/// @brief A file the `valley` command writes for the user (an export, an emitted config):
/// written beside its place and renamed over it at the end, so a failed write leaves what was
/// there.
#pragma once

#include <cstdio>
#include <string>

namespace valley::advisor {

/// A regular file (or a new one) is written beside it and renamed over it by commit(); anything
/// else (a FIFO, /dev/stdout) is written in place, since renaming over it would replace the node
/// itself. Through a symlink, the file it names is replaced and the link kept. "-" is stdout.
/// Throws std::runtime_error with the path when it cannot be opened or written.
class OutputFile {
public:
  /// run_dir: the traces there (.vseg, .vev) are never replaced.
  OutputFile(const std::string& path, const std::string& run_dir);
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  std::FILE* file() { return file_; }
  /// Makes the output final; throws when it cannot be written.
  void commit();

private:
  std::string path_, shown_, temp_; ///< the file replaced, the name the user gave, the temporary
  std::FILE* file_ = nullptr;
};

} // namespace valley::advisor
