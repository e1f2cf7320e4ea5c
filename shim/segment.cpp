// SPDX-License-Identifier: MIT
#include "segment.h"

#include "clock.h"
#include "coverage.h"
#include "diag.h"
#include "sys.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace valley::shim {
namespace {

// Table sizes. Counters and sites are hash tables (power of two); the rest are append-only.
constexpr uint32_t kCounterRows = 1024;
constexpr uint32_t kShardCounterRows = 128; // per thread: a key it cannot hold goes to the shared table
constexpr uint32_t kSiteRows = 4096;
constexpr uint32_t kStackRows = 1024;
constexpr uint32_t kModuleRows = 256;
constexpr uint32_t kFileRows = 1024;
constexpr uint32_t kPyFrameRows = 2048; // 512 KiB: the Python stacks of Python sites
// Every page below the shard bodies needs a bit in Segment::table_pages to be backed:
// the header, the tables and their alignment padding must fit in it.
static_assert(sizeof(SegmentHeader) + kMaxShards * sizeof(ShardHeader) +
                  size_t{kCounterRows} * sizeof(CounterRow) + size_t{kSiteRows} * sizeof(SiteRow) +
                  size_t{kStackRows} * sizeof(StackRow) + size_t{kModuleRows} * sizeof(ModuleRow) +
                  size_t{kFileRows} * sizeof(FileRow) + size_t{kPyFrameRows} * sizeof(PyFrameRow) +
                  8 * 4096 <=
              size_t{kTablePageWords} * 32 << kPageShift);

// Field 22 of /proc/self/stat: the start time in clock ticks. It survives exec and differs
// between two processes that got the same pid, which is what tells the two apart.
uint64_t proc_start_ticks() {
  char buf[1024];
  if (sys::read_file("/proc/self/stat", buf, sizeof buf) <= 0) return 0;
  const char* p = nullptr;
  for (const char* q = buf; *q; ++q)
    if (*q == ')') p = q; // the command may itself contain ')'
  if (!p) return 0;
  int fieldno = 2;
  for (++p; *p && fieldno < 22; ++p)
    if (*p == ' ') ++fieldno;
  uint64_t v = 0;
  while (*p >= '0' && *p <= '9') v = v * 10 + static_cast<uint64_t>(*p++ - '0');
  return v;
}

// mkdir -p with 0700 for what it creates.
bool make_dirs(const char* path) {
  char buf[1024];
  str_copy(buf, path, sizeof buf);
  for (char* p = buf + 1; *p; ++p) {
    if (*p != '/') continue;
    *p = '\0';
    if (sys::mkdir(buf, 0700) < 0 && errno != EEXIST) return false;
    *p = '/';
  }
  return sys::mkdir(buf, 0700) == 0 || errno == EEXIST;
}

void fail(const char* what, const char* path) {
  char msg[64];
  Text t(msg, sizeof msg);
  t.str(" (").str(strerrorname_np(errno) ? strerrorname_np(errno) : "error").str("); tracing off");
  char head[1300];
  Text h(head, sizeof head);
  h.str("error: ").str(what).str(" ").str(path);
  diag(head, msg);
}

// fail() for `return`: always false. `err` replaces errno.
bool cannot(const char* what, const char* path, int err = 0) {
  if (err) errno = err;
  fail(what, path);
  return false;
}

// In a shared /tmp another user may create valley-<uid> first, or make it a symlink, and so
// receive the traces (file names, command lines, code addresses) or plant a pgid-N of their
// own inside. Like ssh with ~/.ssh, valley uses the directory only if it is a real directory of
// ours that nobody else may write to, and otherwise says which of these it is not.
bool private_dir(const char* path) {
  struct stat st;
  if (sys::lstat(path, &st) != 0) {
    fail("cannot look at the run directory", path);
    return false;
  }
  const char* why = S_ISLNK(st.st_mode)       ? "it is a symbolic link"
                    : !S_ISDIR(st.st_mode)    ? "it is not a directory"
                    : st.st_uid != getuid()   ? "it belongs to another user (uid "
                    : (st.st_mode & 022) != 0 ? "other users may write to it (mode 0"
                                              : nullptr;
  if (!why) return true;
  char line[1400];
  Text t(line, sizeof line);
  t.str("error: refusing the run directory ").str(path).str(": ").str(why);
  if (S_ISDIR(st.st_mode) && st.st_uid != getuid())
    t.num(st.st_uid).chr(')');
  else if (S_ISDIR(st.st_mode))
    t.num(st.st_mode >> 6 & 7).num(st.st_mode >> 3 & 7).num(st.st_mode & 7).chr(')');
  t.str("; remove it or set VALLEY_DIR; tracing off");
  diag(line);
  return false;
}

// The default directory lives under $TMPDIR, never in the program's working directory, where
// it would be visible to the program (`ls` would list it). Reports why it cannot be used.
bool default_dir(char* out, size_t cap) {
  const char* tmp = nullptr;
  for (char** e = environ; e && *e; ++e)
    if (starts_with(*e, "TMPDIR=")) tmp = *e + 7;
  if (!tmp || *tmp != '/') tmp = "/tmp";
  Text t(out, cap);
  t.str(tmp).str("/valley-").num(getuid());
  if (t.truncated()) return cannot("cannot use the run directory under", tmp, ENAMETOOLONG);
  if (!make_dirs(out)) return cannot("cannot create the run directory", out);
  if (!private_dir(out)) return false;
  t.str("/pgid-").num(static_cast<uint64_t>(getpgrp()));
  if (sys::mkdir(out, 0700) < 0 && errno != EEXIST)
    return cannot("cannot create the run directory", out);
  return private_dir(out);
}

// Reports why the directory cannot be used.
bool resolve_dir(const Options& opts, char* out, size_t cap) {
  if (!opts.dir[0]) return default_dir(out, cap);
  Text t(out, cap);
  if (opts.dir[0] != '/') {
    char cwd[512];
    if (!getcwd(cwd, sizeof cwd)) return cannot("cannot resolve the run directory", opts.dir);
    t.str(cwd).chr('/');
  }
  t.str(opts.dir);
  if (t.truncated()) return cannot("cannot use the run directory", opts.dir, ENAMETOOLONG);
  if (!make_dirs(out)) return cannot("cannot create the run directory", out);
  return true;
}

size_t align(size_t v, size_t a) { return (v + a - 1) / a * a; }

void layout(SegmentHeader* h, uint32_t events) {
  size_t off = sizeof(SegmentHeader);
  auto place = [&](Section& s, uint32_t cap, uint32_t entry, size_t alignment) {
    off = align(off, alignment);
    s = Section{off, cap, entry};
    off += size_t{cap} * entry;
  };
  place(h->shards, kMaxShards, sizeof(ShardHeader), 128);
  place(h->counters, kCounterRows, sizeof(CounterRow), 64);
  place(h->sites, kSiteRows, sizeof(SiteRow), 64);
  place(h->stacks, kStackRows, sizeof(StackRow), 64);
  place(h->modules, kModuleRows, sizeof(ModuleRow), 64);
  place(h->files, kFileRows, sizeof(FileRow), 64);
  place(h->pyframes, kPyFrameRows, sizeof(PyFrameRow), 64);
  // Bodies are page-aligned, and so is the event buffer in each, so that its storage can be
  // punched out after the final drain.
  h->bodies_offset = align(off, 4096);
  h->body_counters = kShardCounterRows;
  h->body_events_offset = static_cast<uint32_t>(align(size_t{kShardCounterRows} * sizeof(CounterRow), 4096));
  h->body_events = events;
  h->body_size = static_cast<uint32_t>(h->body_events_offset + align(size_t{events} * sizeof(EventRecord), 4096));
  h->segment_size = h->bodies_offset + uint64_t{kMaxShards} * h->body_size;
}

template <class T> T* section(SegmentHeader* h, const Section& s) {
  return reinterpret_cast<T*>(reinterpret_cast<char*>(h) + s.offset);
}

void bind(Segment* seg) {
  SegmentHeader* h = seg->hdr;
  seg->counters = section<CounterRow>(h, h->counters);
  seg->counters_mask = h->counters.capacity - 1;
  seg->sites = section<SiteRow>(h, h->sites);
  seg->sites_mask = h->sites.capacity - 1;
  seg->stacks = section<StackRow>(h, h->stacks);
  seg->modules = section<ModuleRow>(h, h->modules);
  seg->files = section<FileRow>(h, h->files);
  seg->pyframes = section<PyFrameRow>(h, h->pyframes);
  seg->shards = section<ShardHeader>(h, h->shards);
  seg->bodies = reinterpret_cast<char*>(h) + h->bodies_offset;
}

} // namespace

void segment_calibrate(Segment* seg) {
  uint64_t t = clock::ticks();
  uint64_t ns = clock::monotonic_ns();
  at(seg->hdr->calib_ticks1).store(t, std::memory_order_relaxed);
  at(seg->hdr->calib_ns1).store(ns, std::memory_order_relaxed);
  at(seg->hdr->end_ticks).store(t, std::memory_order_relaxed);
}

bool segment_create(const Options& opts, Origin origin, const SegmentHeader* parent,
                    Segment* seg) {
  char dir[1024];
  if (!resolve_dir(opts, dir, sizeof dir)) return false;
  const uint64_t pid = static_cast<uint64_t>(sys::getpid());
  int fd = -1;
  uint32_t seq = 0;
  // O_EXCL: never append to a file that is already there (an exec'd image of this pid takes
  // the next number; a reused pid, too).
  for (; seq < 1000; ++seq) {
    Text(seg->seg_path, sizeof seg->seg_path).str(dir).chr('/').num(pid).chr('-').num(seq).str(".vseg");
    fd = sys::open(seg->seg_path, O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd >= 0 || errno != EEXIST) break;
  }
  if (fd < 0) {
    fail("cannot create the trace file", seg->seg_path);
    return false;
  }
  Text(seg->ev_path, sizeof seg->ev_path).str(dir).chr('/').num(pid).chr('-').num(seq).str(".vev");
  fchmod(fd, 0600); // whatever the umask: traces name files and code the user may not share

  SegmentHeader proto{};
  layout(&proto, opts.events ? opts.ring_events : 0);
  // The file reaches the end of the tables at once but stays sparse: only the header, the shard
  // headers and the shared table's catch-all row are backed now, the rest page by page as the
  // process first touches it. The mapping covers every shard body too; the file reaches a body
  // when a thread first takes its shard (segment_reserve_body).
  const uint64_t eager = align(proto.counters.offset + sizeof(CounterRow), 4096);
  int err = !sys::file_may_reach(proto.bodies_offset) ||
                    (proto.bodies_offset >> kPageShift) > 32 * kTablePageWords
                ? EFBIG
                : posix_fallocate(fd, 0, static_cast<off_t>(eager));
  if (err == 0 && ftruncate(fd, static_cast<off_t>(proto.bodies_offset)) != 0) err = errno;
  if (err != 0) {
    errno = err;
    sys::close(fd);
    unlink(seg->seg_path);
    fail("cannot reserve space for", seg->seg_path);
    return false;
  }
  void* map = sys::mmap(nullptr, proto.segment_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  sys::close(fd); // valley keeps no fd open in the program
  if (map == MAP_FAILED) {
    unlink(seg->seg_path);
    fail("cannot map", seg->seg_path);
    return false;
  }
  // A fault on a fresh file reads ahead and zero-fills many pages the process may never use
  // (on ext4, most of the start-up cost of a short-lived image before this).
  madvise(map, proto.segment_size, MADV_RANDOM);
  for (auto& w : seg->table_pages)
    w = 0;
  for (auto& w : seg->body_pages)
    w = 0;
  for (auto& w : seg->events_backed)
    w = 0;
  seg->grow_failed = 0;
  seg->warned = 0;
  for (uint64_t pg = 0; pg < eager >> kPageShift; ++pg)
    seg->table_pages[pg >> 5] |= 1u << (pg & 31);
  seg->hdr = static_cast<SegmentHeader*>(map);
  seg->map_size = proto.segment_size;
  SegmentHeader* h = seg->hdr;
  *h = proto;
  h->version = kFormatVersion;
  h->header_size = sizeof(SegmentHeader);
  h->pid = static_cast<uint32_t>(pid);
  h->ppid = static_cast<uint32_t>(getppid());
  h->seq = seq;
  h->origin = origin;
  if (parent) {
    h->parent_pid = parent->pid;
    h->parent_seq = parent->seq;
  }
  h->proc_start_ticks = proc_start_ticks();
  timespec rt;
  clock_gettime(CLOCK_REALTIME, &rt);
  h->start_realtime_ns = static_cast<uint64_t>(rt.tv_sec) * 1000000000u + static_cast<uint64_t>(rt.tv_nsec);
  h->clock = clock::g_tsc ? ClockKind::tsc : ClockKind::monotonic;
  h->calib_ticks0 = clock::ticks();
  h->calib_ns0 = clock::monotonic_ns();
  h->start_ticks = h->calib_ticks0;
  // A first calibration pair 20 µs apart, so even a trace cut short has a usable scale.
  while (clock::monotonic_ns() - h->calib_ns0 < 20000) {
  }
  h->calib_ticks1 = clock::ticks();
  h->calib_ns1 = clock::monotonic_ns();
  h->end_ticks = h->calib_ticks1;
  h->stack_sample = opts.stack_sample;
  ssize_t n = sys::readlink("/proc/self/exe", h->exe, sizeof h->exe - 1);
  h->exe[n > 0 ? n : 0] = '\0';
  char cmd[kCmdlineMax + 1];
  ssize_t c = sys::read_file("/proc/self/cmdline", cmd, sizeof cmd);
  if (c > 0) {
    memcpy(h->cmdline, cmd, static_cast<size_t>(c));
    h->cmdline_len = static_cast<uint32_t>(c);
  }
  bind(seg);
  // Readers skip rows with key 0: without its key the catch-all's calls would be lost to them.
  seg->counters[0].key = kCatchAllKey;
  if (parent) { // a fork child has the same modules mapped at the same addresses
    uint32_t m =
        parent->modules_used < h->modules.capacity ? parent->modules_used : h->modules.capacity;
    if (m && !segment_back(*seg, seg->modules, size_t{m} * sizeof(ModuleRow))) m = 0;
    memcpy(seg->modules, reinterpret_cast<const char*>(parent) + parent->modules.offset,
           size_t{m} * sizeof(ModuleRow));
    h->modules_used = m;
  }
  // The magic goes last: a reader never sees a half-initialised header as valid.
  std::atomic_thread_fence(std::memory_order_release);
  memcpy(h->magic, kSegmentMagic, sizeof h->magic);
  return true;
}

void segment_unmap(Segment* seg) {
  if (seg->hdr) munmap(seg->hdr, seg->map_size);
  seg->hdr = nullptr;
}

void segment_record_end(Segment* seg) {
  segment_calibrate(seg);
  coverage_kernel_side(&seg->hdr->coverage);
}

bool segment_create_events(Segment& seg) {
  // Written under a name of this thread's, then linked into place: another thread that finds
  // the file there appends after a complete header.
  char tmp[sizeof seg.ev_path + 24];
  Text(tmp, sizeof tmp).str(seg.ev_path).chr('.').num(static_cast<uint64_t>(sys::gettid()));
  int fd = sys::open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return false;
  fchmod(fd, 0600);
  EventsHeader eh{};
  memcpy(eh.magic, kEventsMagic, sizeof eh.magic);
  eh.version = kFormatVersion;
  eh.header_size = sizeof(EventsHeader);
  eh.record_size = sizeof(EventRecord);
  eh.pid = seg.hdr->pid;
  eh.seq = seg.hdr->seq;
  bool ok = sys::write_all(fd, &eh, sizeof eh);
  sys::close(fd);
  // Raw syscalls: the libc names would reach valley's own unlink hook and record it.
  ok = ok && (::syscall(SYS_link, tmp, seg.ev_path) == 0 || errno == EEXIST);
  ::syscall(SYS_unlink, tmp);
  return ok;
}

} // namespace valley::shim
