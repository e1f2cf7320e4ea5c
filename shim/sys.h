// SPDX-License-Identifier: MIT
/// @file sys.h
/// @brief Raw system calls and a fixed-size text builder. Everything valley does for itself
/// goes through here, never through the libc names it wraps, so its own I/O is never traced
/// and never re-enters a hook.
#pragma once

#include <cstddef>
#include <cstdint>
#include <sys/stat.h>
#include <sys/types.h>

namespace valley::shim::sys {

/// The fds valley opens for a moment are moved to kHighFd or above (below RLIMIT_NOFILE's soft
/// limit), at once: a program that closes and reopens low numbers while another of its threads
/// is inside valley (I-19) races with valley only for the open and the move, not for a whole
/// drain. Fewer than 1000 keeps the fd table at its usual size.
inline constexpr int kHighFd = 960;
/// `fd` moved to the lowest free number at or above kHighFd (and 64 below the soft limit),
/// closed where it was; `fd` itself when it cannot move.
int off_low_numbers(int fd);
/// openat with O_CLOEXEC, off the low numbers.
int open(const char* path, int flags, int mode = 0);
int close(int fd);
ssize_t read(int fd, void* buf, size_t n);
/// Writes all of buf, retrying on EINTR and short writes. Returns false on error.
bool write_all(int fd, const void* buf, size_t n);
ssize_t readlink(const char* path, char* buf, size_t n);
int mkdir(const char* path, int mode);
pid_t getpid();
/// Copies `n` bytes of the program's memory at `addr` into `out` through the kernel
/// (process_vm_readv on this process): false, never a fault, where any of them is unreadable.
/// For pointers a failed call handed back, which the kernel may not have read (I-20). errno
/// is kept.
bool copy_from_program(void* out, const void* addr, size_t n);
/// The NUL-terminated string at `addr` into `out` (at most cap - 1 bytes), read the same way a
/// page at a time; false when its first byte is unreadable. errno is kept.
bool copy_string_from_program(char* out, const char* addr, size_t cap);
// Functions the coalescer wraps as flush points: valley's own calls go around them.
int fstat(int fd, struct ::stat* st);
int lstat(const char* path, struct ::stat* st);
int ioctl(int fd, unsigned long req, void* arg);
void* mmap(void* addr, size_t len, int prot, int flags, int fd, off_t off);
pid_t gettid();
/// True when this process shares its memory with its parent: a vfork child (kcmp KCMP_VM).
/// Also true where kcmp is missing or not allowed.
bool shares_parent_memory();
/// False when RLIMIT_FSIZE forbids a file of `end` bytes: growing it would raise SIGXFSZ in
/// the program (whose default action kills it), so valley does not grow its own files there.
bool file_may_reach(uint64_t end);
/// RLIMIT_FSIZE's soft limit in bytes; UINT64_MAX for none.
uint64_t file_size_limit();
/// Reads a small file (a /proc entry) into buf, NUL-terminated. Returns bytes read or -1.
ssize_t read_file(const char* path, char* buf, size_t n);

/// The read/write syscalls (and bytes) valley itself made: coverage figures subtract them.
struct OwnIo {
  uint64_t reads, writes, rbytes, wbytes;
};
OwnIo own_io();
/// A fork child starts counting its own I/O from zero.
void reset_own_io();
/// Notes a write valley made with its own raw syscall (outside write_all).
void note_own_write(uint64_t bytes);

} // namespace valley::shim::sys

namespace valley::shim {

/// Builds a NUL-terminated string in a caller-provided buffer; silently truncates.
class Text {
public:
  Text(char* buf, size_t cap) : buf_(buf), cap_(cap) { buf_[0] = '\0'; }
  Text& str(const char* s);
  Text& num(uint64_t v);
  Text& hex(uint64_t v); ///< lower-case, no prefix
  Text& chr(char c);
  const char* c_str() const { return buf_; }
  size_t size() const { return len_; }
  bool truncated() const { return truncated_; }

private:
  char* buf_;
  size_t cap_;
  size_t len_ = 0;
  bool truncated_ = false;
};

/// Parses a decimal unsigned integer; false on anything else (empty, sign, junk, overflow).
bool parse_u64(const char* s, uint64_t* out);
bool starts_with(const char* s, const char* prefix);
size_t str_len(const char* s);
void str_copy(char* dst, const char* src, size_t cap);

} // namespace valley::shim
