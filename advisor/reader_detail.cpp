// SPDX-License-Identifier: MIT
/// @file reader_detail.cpp
/// @brief Section bounds checks shared by the segment and event readers.
#include "reader_detail.h"

#include <cstring>

namespace valley::advisor::detail {

bool check_magic_and_version(const char (&magic)[8], const char (&expected)[8], const char* what,
                             uint32_t version, Reporter& report) {
  if (std::memcmp(magic, expected, sizeof(expected)) != 0) {
    report("bad magic at offset 0x0: not a valley {}", what);
    return false;
  }
  if (version > kFormatVersion) {
    report("written by a newer valley (format {}), this valley reads <= {}", version,
           kFormatVersion);
    return false;
  }
  if (version == 0) {
    report("format version 0 at offset 0x8 is not valid");
    return false;
  }
  if (version < kFormatVersion) {
    report("written by an older valley (format {}), this valley reads format {}; not read",
           version, kFormatVersion);
    return false;
  }
  return true;
}

SectionView check_section(const char* name, const Section& s, size_t entry_size,
                          uint64_t header_size, uint64_t file_size, Reporter& report) {
  if (s.capacity == 0) return {};
  if (s.entry_size != entry_size) {
    report("section '{}' has entry_size {}, this valley reads entries of {} bytes; section skipped",
           name, s.entry_size, entry_size);
    return {};
  }
  if (s.offset < header_size) {
    report("section '{}' at offset {} overlaps the header ({} bytes); section skipped", name,
           hex(s.offset), header_size);
    return {};
  }
  if (s.offset >= file_size) {
    report("section '{}' at offset {} starts past end of file (size {})", name, hex(s.offset),
           file_size);
    return {};
  }
  uint64_t fit = (file_size - s.offset) / entry_size; // no overflow: offset < file_size
  if (fit < s.capacity) {
    report("section '{}' at offset {} extends past end of file (size {}): {} of {} entries kept",
           name, hex(s.offset), file_size, fit, s.capacity);
    return {s.offset, static_cast<uint32_t>(fit)};
  }
  return {s.offset, s.capacity};
}

} // namespace valley::advisor::detail
