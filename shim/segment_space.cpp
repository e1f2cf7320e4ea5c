// SPDX-License-Identifier: MIT
/// @file segment_space.cpp
/// @brief Disk space for the sparse segment file: pages are reserved just before the
/// shim first touches them, thread bodies when a thread takes a shard, and event buffers are
/// given back after the final drain.
#include "segment.h"

#include "diag.h"
#include "sys.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

namespace valley::shim {
namespace {

void fail_grow(const char* path) {
  char msg[96];
  Text t(msg, sizeof msg);
  t.str(" (").str(strerrorname_np(errno) ? strerrorname_np(errno) : "error");
  t.str("); what does not fit is counted as full or dropped");
  diag("warning: cannot grow ", path, msg);
}

// Reserves [off, off + len) of the segment file, a range within its size. On refusal: false,
// one `valley:` line per image, and no more asking (a full file system would otherwise cost a
// failed call on every call).
bool allocate(Segment& seg, uint64_t off, uint64_t len) {
  // Write-faulting the pages through the mapping reserves them without an fd: an fd valley
  // opens, even for a moment, takes the lowest free number, which another thread of the
  // program may have just closed and be about to dup2 onto (I-19). Where the kernel would
  // raise SIGBUS (no space) this returns EFAULT instead.
  int err = 0;
  if (::madvise(reinterpret_cast<char*>(seg.hdr) + off, len, MADV_POPULATE_WRITE) == 0) return true;
  err = errno;
  if (err == EINVAL) { // a kernel before 5.14
    const int fd = sys::open(seg.seg_path, O_RDWR);
    err = fd < 0 ? errno : 0;
    if (!err) err = posix_fallocate(fd, static_cast<off_t>(off), static_cast<off_t>(len));
    if (fd >= 0) sys::close(fd);
  }
  if (!err) return true;
  errno = err;
  at(seg.grow_failed).store(1, std::memory_order_relaxed);
  if (at(seg.warned).exchange(1, std::memory_order_relaxed) == 0) fail_grow(seg.seg_path);
  return false;
}

uint64_t align(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

} // namespace

bool segment_back(Segment& seg, const void* p, size_t len) {
  // After a refusal valley stops asking: a full file system would otherwise cost three
  // syscalls on every call.
  if (at(seg.grow_failed).load(std::memory_order_relaxed)) return false;
  const uint64_t off =
      static_cast<uint64_t>(static_cast<const char*>(p) - reinterpret_cast<const char*>(seg.hdr));
  const uint64_t first = off >> kPageShift, last = (off + len - 1) >> kPageShift;
  // Within the file's size already (the tables, or a body the file reaches): never SIGXFSZ.
  if (!allocate(seg, first << kPageShift, (last - first + 1) << kPageShift)) return false;
  for (uint64_t pg = first; pg <= last; ++pg) {
    uint32_t bit = 0;
    if (uint32_t* w = page_bit(seg, pg, &bit))
      at(*w).fetch_or(1u << bit, std::memory_order_release);
  }
  return true;
}

bool segment_back_events(Segment& seg, uint32_t i, uint64_t need) {
  SegmentHeader* h = seg.hdr;
  uint64_t have = at(seg.events_backed[i]).load(std::memory_order_acquire);
  if (need <= have) return true;
  if (at(seg.grow_failed).load(std::memory_order_relaxed)) return false;
  const uint64_t ring = h->body_size - h->body_events_offset;
  uint64_t want = align(need, 4096);
  if (want < 2 * have) want = 2 * have;
  if (want > ring) want = ring;
  char* events = reinterpret_cast<char*>(seg.body_events(i));
  if (!allocate(seg, static_cast<uint64_t>(events - reinterpret_cast<char*>(h)) + have, want - have))
    return false;
  // A signal handler of the owner may have grown it further meanwhile: keep the larger.
  const uint64_t now = want == ring ? ~uint64_t{0} : want;
  while (have < now &&
         !at(seg.events_backed[i]).compare_exchange_weak(have, now, std::memory_order_release)) {
  }
  return true;
}

bool segment_reserve_body(Segment& seg, uint32_t i) {
  SegmentHeader* h = seg.hdr;
  const uint64_t off = h->bodies_offset + uint64_t{i} * h->body_size;
  bool ok = !at(seg.grow_failed).load(std::memory_order_relaxed) &&
            sys::file_may_reach(off + h->body_size);
  if (ok) {
    // Backing the body's last page makes the file reach the body's end, and never shortens it
    // (ftruncate could, racing with another thread taking a later shard).
    const int fd = sys::open(seg.seg_path, O_RDWR);
    ok = fd >= 0 && posix_fallocate(fd, static_cast<off_t>(off + h->body_size - 4096), 4096) == 0;
    if (fd >= 0) sys::close(fd);
    if (!ok) at(seg.grow_failed).store(1, std::memory_order_relaxed);
  }
  if (!ok) {
    if (at(seg.warned).exchange(1, std::memory_order_relaxed) == 0)
      diag("warning: cannot reserve a thread's shard in ", seg.seg_path,
           " (no space, or the file size limit); its calls are counted in the shared table");
    return false;
  }
  if (!h->body_events) at(seg.events_backed[i]).store(~uint64_t{0}, std::memory_order_release);
  return true;
}

void segment_release_events(Segment* seg, uint32_t i) {
  SegmentHeader* h = seg->hdr;
  if (!h->body_events) return;
  const size_t len = h->body_size - h->body_events_offset;
  void* p = sys::mmap(seg->body_events(i), len, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  if (p == MAP_FAILED) return;
  at(seg->events_backed[i]).store(~uint64_t{0}, std::memory_order_release); // anonymous now
  int fd = sys::open(seg->seg_path, O_RDWR);
  if (fd >= 0) {
    const off_t off = static_cast<off_t>(h->bodies_offset + uint64_t{i} * h->body_size + h->body_events_offset);
    fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, static_cast<off_t>(len));
    sys::close(fd);
  }
  at(h->state).fetch_or(kStateRingReleased, std::memory_order_release);
}

bool segment_restore_events(Segment* seg) {
  SegmentHeader* h = seg->hdr;
  if (!(at(h->state).load(std::memory_order_acquire) & kStateRingReleased)) return true;
  const size_t len = h->body_size - h->body_events_offset;
  int fd = sys::open(seg->seg_path, O_RDWR);
  if (fd < 0) return false;
  bool ok = true;
  const uint32_t used = at(h->shards_used).load(std::memory_order_acquire);
  for (uint32_t i = 0; i < used && ok; ++i) {
    if (!(at(seg->shards[i].state).load(std::memory_order_acquire) & kShardReserved)) continue;
    const off_t off = static_cast<off_t>(h->bodies_offset + uint64_t{i} * h->body_size + h->body_events_offset);
    ok = sys::file_may_reach(static_cast<uint64_t>(off) + len) &&
         posix_fallocate(fd, off, static_cast<off_t>(len)) == 0 &&
         sys::mmap(seg->body_events(i), len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd,
                   off) != MAP_FAILED;
    if (ok) at(seg->events_backed[i]).store(~uint64_t{0}, std::memory_order_release);
  }
  sys::close(fd);
  if (ok) at(h->state).fetch_and(~uint32_t{kStateRingReleased}, std::memory_order_release);
  return ok;
}

} // namespace valley::shim
