// SPDX-License-Identifier: MIT
/// @file format.h
/// @brief The trace format: what libvalley.so writes and `valley` reads. The only code both
/// sides compile; a reader can be written from this header alone. No dependencies.
///
/// A run directory holds, per traced process image (a process, or the new image after exec):
///
///   <pid>-<n>.vseg    the segment: SegmentHeader, then the sections it names (shard headers,
///                     the shared counter table, call sites, stacks, modules, files) and the
///                     shard bodies (each thread's counter rows and event buffer). The shim maps
///                     it MAP_SHARED while the process lives, so it is complete even after
///                     SIGKILL. Shard bodies are reserved when a thread first takes the shard:
///                     the file may end before the last body (only taken shards have one).
///   <pid>-<n>.vev     the drained events: EventsHeader, then blocks (an EventBlock followed by
///                     its EventRecords). Created at the image's first drain or direct append:
///                     an image that drained nothing (a short one killed, one that made no
///                     call) may have none.
///
/// The .vseg file is sparse: the shim backs its pages as the process first touches them, so
/// most of the tables read as zeros (empty rows) from holes.
///
/// <n> is the smallest number free for that pid when the image started (0 normally, 1 after
/// the first exec, …); SegmentHeader::proc_start_ticks tells an exec (same value as the
/// previous <pid>-<n-1>) from pid reuse (different value).
///
/// Threads: each thread that makes a recorded call takes a shard (ShardHeader[i] and body i)
/// and is its only writer until it ends and gives it back; a later thread may take it again.
/// Counters are the sum of the shared table and every shard's rows with the same key. A thread
/// that found no free shard counts into the shared table (SegmentHeader::shared_calls) and
/// appends its events directly to the .vev file.
///
/// Reading events: a shard's events have indices 0, 1, … (ShardHeader::head is the next one);
/// index i lives in slot i % body_events of its body. The .vev file holds, in blocks, the
/// indices the shard's drains wrote; the rest, [max(drained, the end of the shard's last block),
/// head), are still in the body: a slot is valid only if its `commit` equals (uint32_t)(i + 1)
/// and its op is not 0 (op 0: a tombstone, a slot that was reserved and will never be written).
/// Others were torn (reserved, never committed). A shard may also hold one run record
/// (ShardHeader::held) that its thread had not committed yet: it follows the shard's other
/// records. Blocks with shard kBlockDirect hold records appended one by one (after the image's
/// final drain, or by threads without a shard). Within a shard records are in the order the
/// thread made its calls; across shards, merge by `ticks`. Records dropped because a buffer was
/// full are counted in the shard's `dropped` and never stored.
///
/// Every integer is little-endian, fixed width; every struct has its layout asserted below.
/// Readers must check magic, version and header_size, and treat every count and offset as
/// untrusted (clamp to the file size).
#pragma once

#include <cstddef>
#include <cstdint>

namespace valley {

inline constexpr char kSegmentMagic[8] = {'V', 'A', 'L', 'L', 'E', 'Y', 'S', '\0'};
inline constexpr char kEventsMagic[8] = {'V', 'A', 'L', 'L', 'E', 'Y', 'E', '\0'};
/// Bump on any layout change; readers refuse newer versions and name older ones.
inline constexpr uint32_t kFormatVersion = 4;

inline constexpr uint32_t kHistBuckets = 32; ///< log2 buckets, see bucket_of()
inline constexpr uint32_t kMaxFrames = 62;   ///< frames kept per stack
inline constexpr uint32_t kPathMax = 240;    ///< bytes kept of a path, NUL included
inline constexpr uint32_t kCmdlineMax = 2048;

enum class Op : uint8_t {
#define X(name, value, dir, flags) name = value,
#include "valley/ops.def"
#undef X
};
inline constexpr uint8_t kOpMax = 40; ///< highest Op value

enum class FdKind : uint8_t {
#define X(name, value, label) name = value,
#include "valley/fd_kinds.def"
#undef X
};
inline constexpr uint8_t kFdKindMax = 22;

/// Log2 bucket of a value: 0 → 0, 1 → 1, 2..3 → 2, 4..7 → 3, …, ≥2^30 → 31.
/// Bucket b (b ≥ 1) covers [2^(b-1), 2^b).
constexpr uint32_t bucket_of(uint64_t v) {
  if (v == 0) return 0;
  uint32_t b = 64u - static_cast<uint32_t>(__builtin_clzll(v));
  return b < kHistBuckets ? b : kHistBuckets - 1;
}

/// A region of the segment file. Offsets are from the start of the file.
struct Section {
  uint64_t offset;
  uint32_t capacity;   ///< number of entries the region holds
  uint32_t entry_size; ///< sizeof the entry type when written
};
static_assert(sizeof(Section) == 16);

/// How the shim's tick counter converts to time: two (ticks, CLOCK_MONOTONIC ns) pairs.
/// ns_per_tick = (ns1 - ns0) / (ticks1 - ticks0). The second pair is refreshed at every drain
/// and at exit, so even a killed process has a calibration.
enum class ClockKind : uint32_t {
  tsc = 1,       ///< x86 invariant TSC
  monotonic = 2, ///< ticks are CLOCK_MONOTONIC nanoseconds
};

/// How a traced image began.
enum class Origin : uint32_t {
  start = 1, ///< the process was started with the preload (or exec'd: see file comment)
  fork = 2,  ///< a fork child; parent_pid/parent_seq name the parent's segment
};

/// SegmentHeader::state bits.
enum StateBits : uint32_t {
  kStateFinished = 1u << 0,     ///< the image ended through exit/_exit; coverage is valid
  kStateExec = 1u << 1,         ///< the image ended by a successful-looking exec
  kStateRingReleased = 1u << 2, ///< the event buffers were drained and their storage given back
  kStateCountersFull = 1u << 3, ///< some calls landed in the catch-all counter row
};

/// Kernel vs intercepted syscall counts for this image: the kernel's figures are the sum of
/// /proc/self/task/*/io over the threads alive at the start and at the end, plus, for each
/// thread that made an intercepted call and ended before the image did, its counts as it ended
/// (read from a thread-exit destructor, since its task entry goes with it), with valley's own
/// reads and writes taken out. Not /proc/self/io: that also adds in every child the process
/// reaped. A thread that ended without making any call valley intercepts is missing.
struct Coverage {
  uint64_t valid;        ///< 1 if the fields below were measured
  uint64_t kernel_syscr; ///< read-family syscalls the kernel counted for this image
  uint64_t kernel_syscw; ///< write-family syscalls the kernel counted for this image
  uint64_t kernel_rchar; ///< bytes
  uint64_t kernel_wchar;
  uint64_t seen_reads;   ///< intercepted read/readv/pread/preadv-family calls (what syscr counts;
                         ///< socket calls are not in syscr/syscw and not here); the catch-all
                         ///< counter row, whose op is unknown, is left out
  uint64_t seen_writes;  ///< intercepted write-family calls, likewise
  uint64_t seen_rbytes;
  uint64_t seen_wbytes;
};
static_assert(sizeof(Coverage) == 72);

/// At offset 0 of a .vseg file. 4096 bytes.
struct SegmentHeader {
  char magic[8];             ///< kSegmentMagic
  uint32_t version;          ///< kFormatVersion
  uint32_t header_size;      ///< sizeof(SegmentHeader) as written
  uint64_t segment_size;     ///< bytes the file may grow to (every shard body reserved)
  uint32_t pid;              ///< process id
  uint32_t ppid;             ///< getppid() at start
  uint32_t seq;              ///< the <n> of the file name
  Origin origin;             ///< how the image began
  uint32_t parent_pid;       ///< for Origin::fork: the parent's pid
  uint32_t parent_seq;       ///< for Origin::fork: the parent's <n>
  uint64_t proc_start_ticks; ///< field 22 of /proc/self/stat: same across exec, differs on pid reuse
  uint64_t start_realtime_ns;///< CLOCK_REALTIME when tracing began
  ClockKind clock;           ///< what event ticks are
  uint32_t state;            ///< StateBits, written with release order
  uint64_t calib_ticks0, calib_ns0; ///< first calibration pair
  uint64_t calib_ticks1, calib_ns1; ///< latest calibration pair
  uint64_t start_ticks;      ///< tick counter when tracing began
  uint64_t end_ticks;        ///< tick counter at the last drain or at exit

  Section counters;          ///< CounterRow[]: the shared table; row 0 is the catch-all
  Section sites;             ///< SiteRow[]; a call site's id is its row index
  Section stacks;            ///< StackRow[]; a stack's id is its row index + 1 (0 = none)
  Section modules;           ///< ModuleRow[], appended in load order
  Section files;             ///< FileRow[], one per classified fd; id = row index + 1
  Section shards;            ///< ShardHeader[], one per thread slot

  // Shard bodies: body i starts at bodies_offset + i * body_size, exists only if
  // ShardHeader[i].state has kShardReserved, and holds CounterRow[body_counters] at its start
  // and EventRecord[body_events] at body_events_offset.
  uint64_t bodies_offset;
  uint32_t body_size;          ///< bytes, a multiple of 4096
  uint32_t body_counters;      ///< counter rows per shard (a hash table, like the shared one)
  uint32_t body_events_offset; ///< bytes from the body's start, a multiple of 4096
  uint32_t body_events;        ///< event slots per shard, a power of two (0: event log off)

  uint64_t events_dropped;   ///< events not stored outside the shards (a failed direct append)
  uint64_t events_torn;      ///< reserved
  uint64_t events_late;      ///< events after the final drain, appended to .vev directly
  uint64_t shared_calls;     ///< calls counted in the shared table with locked instructions: by
                             ///< threads without a shard, or keys a full shard table cannot hold
  uint32_t counters_used, sites_used, stacks_used, modules_used, files_used;
  uint32_t sites_full;       ///< call sites not given a row because the table was full
  uint32_t stacks_full;      ///< stacks not stored because the table was full
  uint32_t modules_full, files_full;
  uint32_t shards_used;      ///< shard bodies reserved (the highest shard taken + 1)
  uint32_t shards_full;      ///< threads that found no free shard
  uint32_t stack_sample;     ///< a stack is re-captured every this many calls per thread (0: never)

  Coverage coverage;
  char exe[kPathMax + 16];   ///< readlink(/proc/self/exe), NUL-terminated
  char cmdline[kCmdlineMax]; ///< /proc/self/cmdline: NUL-separated argv, truncated
  uint32_t cmdline_len;      ///< bytes used in cmdline
  uint32_t py_state;         ///< PyState: what the shim made of an interpreter in the process
  uint32_t py_version;       ///< the interpreter's Py_Version (0x030B07F0 = 3.11.7), 0 = none
  uint32_t pyframes_used;    ///< rows claimed (a site's stack is a run of consecutive rows)
  uint32_t pyframes_full;    ///< Python stacks not stored because the table was full
  uint32_t py_reserved;
  Section pyframes; ///< PyFrameRow[]: the Python stacks of Python call sites
  uint8_t reserved[4096 - 2736];
};
static_assert(offsetof(SegmentHeader, version) == 8);
static_assert(offsetof(SegmentHeader, counters) == 120);
static_assert(offsetof(SegmentHeader, bodies_offset) == 216);
static_assert(offsetof(SegmentHeader, coverage) == 320);
static_assert(offsetof(SegmentHeader, cmdline) == 648);
static_assert(offsetof(SegmentHeader, py_state) == 2700 &&
              offsetof(SegmentHeader, pyframes) == 2720);
static_assert(sizeof(SegmentHeader) == 4096);

/// Counters of one (call site, op, fd kind). They never lose data: a key a shard's table cannot
/// hold goes to the shared table, and when that is full, to its row 0 (key kCatchAllKey). The
/// same key may have a row in several shards and in the shared table: its counts are the sum.
/// A shard's rows are written by its thread only; the shared table's with locked atomics.
struct CounterRow {
  uint64_t key;          ///< 0 = empty; else counter_key(); claimed by compare-and-swap
  uint32_t last_file;    ///< FileRow id (row + 1) of the fd used by the latest call, 0 = none
  uint32_t reserved;
  uint64_t calls;
  uint64_t errors;       ///< calls that returned -1
  uint64_t bytes;        ///< bytes transferred (sum of positive results)
  uint64_t requested;    ///< bytes asked for (sum of sizes)
  uint64_t ticks;        ///< time inside the real call, in ticks
  uint64_t zero_results; ///< calls that returned 0 (EOF on reads)
  uint64_t size_hist[kHistBuckets]; ///< by bucket_of(requested size)
  uint64_t gap_hist[kHistBuckets];  ///< by bucket_of(ticks since the same thread's previous
                                    ///< call on that fd); bucket 0 also counts first calls
};
static_assert(sizeof(CounterRow) == 576);

inline constexpr uint64_t kCatchAllKey = ~uint64_t{0};
/// Site id used when no row could be given (site table full, or a call from a signal handler
/// that interrupted valley before the site's row was ready).
inline constexpr uint32_t kSiteUnknown = 0xFFFFFFFEu;
/// Site id of the writes valley itself makes when the coalescer flushes a buffer.
inline constexpr uint32_t kSiteFlush = 0xFFFFFFFDu;
constexpr uint64_t counter_key(uint32_t site, Op op, FdKind kind) {
  return (uint64_t{site} + 1) << 16 | uint64_t{static_cast<uint8_t>(op)} << 8 |
         static_cast<uint8_t>(kind);
}
constexpr uint32_t key_site(uint64_t key) { return static_cast<uint32_t>((key >> 16) - 1); }
constexpr Op key_op(uint64_t key) { return static_cast<Op>((key >> 8) & 0xff); }
constexpr FdKind key_kind(uint64_t key) { return static_cast<FdKind>(key & 0xff); }

/// SiteRow::flags bits.
enum SiteBits : uint32_t {
  kSiteReady = 1u << 0,   ///< fields below `key` are written
  kSiteSplit = 1u << 1,   ///< a library call site: `caller` splits it by the first frame outside
  kSiteMarker = 1u << 2,  ///< marks `return_address` as inside a library (`caller` then holds the
                          ///< library's ModuleRow index); its calls are keyed by split rows
                          ///< (return_address, caller). Calls that could not be split (signal
                          ///< context) are counted on the marker row itself.
  kSiteNoStack = 1u << 3, ///< the first stack could not be captured (signal context, table full)
  kSitePython = 1u << 4,  ///< a Python call site: keyed by (return address, code object,
                          ///< instruction offset); `caller` holds the first PyFrameRow id of its
                          ///< Python stack (row index + 1; 0 = none stored)
};

/// SegmentHeader::py_state: whether calls are keyed by the Python code that made them.
enum class PyState : uint32_t {
  none = 0,        ///< no CPython interpreter found in the process
  active = 1,      ///< a supported CPython: Python call sites are recorded
  unsupported = 2, ///< a CPython whose version has no layout table: native call sites only
};

/// A call site. Key: the return address into the caller of the wrapped function; for calls
/// made from inside a shared library (libstdc++, …) also the first return address outside
/// that library.
struct SiteRow {
  uint64_t key;            ///< 0 = empty; claimed by compare-and-swap
  uint64_t return_address; ///< absolute address in the traced process
  uint64_t caller;         ///< with kSiteSplit: first return address outside the library, else 0
  uint32_t flags;          ///< SiteBits
  uint32_t first_stack;    ///< StackRow id of the stack captured at first sight, 0 = none
};
static_assert(sizeof(SiteRow) == 32);

/// A captured stack, innermost frame first, libvalley's own frames removed. Frames are
/// absolute return addresses; resolve them with the ModuleRows [0, modules_seen).
struct StackRow {
  uint32_t site;         ///< call-site id this stack was captured for
  uint32_t nframes;      ///< frames used
  uint32_t hits;         ///< times this exact stack was captured (first sight + samples)
  uint32_t modules_seen; ///< modules_used when captured
  uint64_t frames[kMaxFrames];
};
static_assert(sizeof(StackRow) == 512);

/// One frame of a Python call site's stack, copied out of the interpreter at the site's first
/// sight. A site's stack is `count` consecutive rows, innermost (index 0) first. Strings are
/// NUL-terminated UTF-8, truncated to fit; "?" where the shim could not read them safely.
struct PyFrameRow {
  uint32_t site;      ///< call-site id
  uint16_t index;     ///< position in the stack, 0 = innermost (the code that made the call)
  uint16_t count;     ///< frames in this stack (the same in each of its rows)
  int32_t line;       ///< line being executed, 0 = unknown
  int32_t first_line; ///< the function's first line (co_firstlineno), 0 = unknown
  uint32_t ready;     ///< 1 once the fields are written (store with release)
  uint32_t reserved;
  char function[72]; ///< co_qualname
  char file[160];    ///< co_filename
};
static_assert(sizeof(PyFrameRow) == 256);

/// A loaded image (executable, shared library, vdso).
struct ModuleRow {
  uint64_t bias;        ///< load bias: file virtual address + bias = runtime address
  uint64_t lo, hi;      ///< runtime address range of its PT_LOAD segments [lo, hi)
  uint32_t build_id_len;///< bytes used in build_id (0: none found)
  uint32_t is_main;     ///< 1 for the main executable
  uint8_t build_id[32];
  char path[kPathMax];  ///< absolute path, or the loader's name (linux-vdso.so.1)
};
static_assert(sizeof(ModuleRow) == 304);

/// An fd as classified on first sight (or after open/dup/close, or a setsockopt of TCP_NODELAY
/// or TCP_CORK, changed it): the events of an fd belong to its latest FileRow with
/// first_ticks <= their ticks. A row with fd -1 and kind unknown names the path of an unlink or
/// of an open that failed (the event's `offset` holds its id).
struct FileRow {
  int32_t fd;
  uint8_t kind;         ///< FdKind
  uint8_t reserved[3];  ///< [0]: FileBits (tcp sockets), the rest 0
  uint64_t first_ticks; ///< tick counter when classified
  char path[kPathMax];  ///< readlink(/proc/self/fd/N): a path, "pipe:[ino]", "socket:[ino]", …;
                        ///< for an unlink or a failed open, the path as the program passed it
};
static_assert(sizeof(FileRow) == 256);

/// FileRow::reserved[0] bits, for TCP sockets: the socket options at classification.
enum FileBits : uint8_t {
  kFileTcpNodelay = 1u << 0, ///< TCP_NODELAY was set
  kFileTcpCork = 1u << 1,    ///< TCP_CORK was set
  kFileTcpValid = 1u << 7,   ///< the two bits above were read
};

/// EventRecord::flags bits.
enum EventBits : uint8_t {
  kEventNested = 1u << 0, ///< recorded while valley was already busy on this thread (signal handler)
  kEventLate = 1u << 1,   ///< after the image's final drain (a destructor running after valley's)
  kEventCoalesced = 1u << 2, ///< a program call the coalescer absorbed: no syscall was made
  kEventFlush = 1u << 3,     ///< a write valley made to flush coalesced bytes (site kSiteFlush)
  /// With kEventCoalesced: the record stands for a run of absorbed calls, identical but for
  /// their time and made one after another by one thread into one coalescer buffer, with no
  /// other call of that thread recorded between them (a signal handler's may be).
  /// `duration` then holds the number of calls and `offset` the ticks of the last one (an
  /// absorbed call has no duration and no offset). A byte-at-a-time loop under the coalescer
  /// would otherwise cost 48 bytes of trace per byte it writes.
  kEventRun = 1u << 4,
};

/// One intercepted call. 48 bytes: at millions of calls a second, every byte of the record is
/// paid for in copying it to the run directory.
struct EventRecord {
  uint32_t commit;   ///< (uint32_t)(the shard's event index + 1), stored last with release
                     ///< order; 0 in records appended directly (EventBlock::shard kBlockDirect)
  uint32_t tid;      ///< thread id
  uint64_t ticks;    ///< tick counter when the real call began
  int64_t offset;    ///< file offset for positional ops, the range's start for sync_file_range,
                     ///< the FileRow id of the path for unlink and a failed open; for a
                     ///< kEventFlush record, flush_note() of flush_rules.h (the call site of
                     ///< the buffer's latest write, and why it was written out); -1 otherwise
  int32_t result;    ///< return value (Linux moves at most 0x7ffff000 bytes per call), or -errno
  uint32_t size;     ///< bytes requested (sum of iovecs / messages; the count asked for by
                     ///< sendfile, splice, tee, copy_file_range; the range's length for
                     ///< sync_file_range and msync; 0 for fsync, fdatasync, open, close, unlink),
                     ///< saturated at UINT32_MAX
  uint32_t duration; ///< ticks inside the real call, saturated at UINT32_MAX
  int32_t fd;        ///< the fd (the fd written to for the copy ops, the new fd for open, -1 for
                     ///< unlink, msync and a failed open); its FileRow is the latest one for
                     ///< this fd with first_ticks <= ticks
  uint32_t site;     ///< call-site id (SiteRow index), or kSiteUnknown
  uint8_t op;        ///< Op
  uint8_t fd_kind;   ///< FdKind
  uint8_t flags;     ///< EventBits
  uint8_t reserved;  ///< for an output call the coalescer (on) let go around its buffer: why, a
                     ///< Straight of flush_rules.h; 0 otherwise
};
static_assert(sizeof(EventRecord) == 48);

/// The program calls an event stands for: 1, or a run's length.
inline uint64_t event_calls(const EventRecord& e) { return e.flags & kEventRun ? e.duration : 1; }
/// When the last of those calls began.
inline uint64_t event_last_ticks(const EventRecord& e) {
  return e.flags & kEventRun ? static_cast<uint64_t>(e.offset) : e.ticks;
}
static_assert(offsetof(EventRecord, ticks) == 8 && offsetof(EventRecord, site) == 40);

/// ShardHeader::state bits.
enum ShardBits : uint32_t {
  kShardReserved = 1u << 0, ///< the shard's body exists in the file
};

/// One thread slot: who owns it and where its event buffer stands. 128 bytes, so two shards
/// never share a cache line.
struct ShardHeader {
  uint32_t tid;         ///< the thread writing this shard now, 0 = free (counts stay)
  uint32_t state;       ///< ShardBits
  uint64_t head;        ///< next event index to reserve
  uint64_t drained;     ///< indices below are in the .vev file, or tombstones, or dropped
  uint64_t dropped;     ///< events not stored: the buffer was full, the event log is off, or
                        ///< a drain could not write them (then they are below `drained`)
  uint64_t torn;        ///< tombstones the drains skipped
  uint32_t drain_tid;   ///< the thread draining this buffer now, 0 = none
  uint32_t held;        ///< 1: `run` is a run record the thread has not committed yet
  uint64_t reserved0[2];
  EventRecord run;      ///< with held = 1: the thread's open run record (kEventRun or a single call)
  uint8_t reserved1[16];
};
static_assert(sizeof(ShardHeader) == 128 && offsetof(ShardHeader, run) == 64);

inline constexpr uint32_t kBlockMagic = 0x4b4c4256; ///< "VBLK"
inline constexpr uint32_t kBlockDirect = 0xFFFFFFFFu; ///< EventBlock::shard of direct appends

/// In a .vev file, ahead of `count` EventRecords. The size of an EventRecord, so a .vev body is
/// a whole number of records.
struct EventBlock {
  uint32_t magic;  ///< kBlockMagic
  uint32_t shard;  ///< the shard the records come from, or kBlockDirect
  uint64_t first;  ///< the shard's index of the first record; the others follow one by one
  uint32_t count;  ///< records in the block
  uint32_t tid;    ///< the thread that wrote them
  uint8_t reserved[24];
};
static_assert(sizeof(EventBlock) == sizeof(EventRecord));

/// At offset 0 of a .vev file; blocks (an EventBlock, then its EventRecords) follow.
struct EventsHeader {
  char magic[8];        ///< kEventsMagic
  uint32_t version;     ///< kFormatVersion
  uint32_t header_size; ///< sizeof(EventsHeader)
  uint32_t record_size; ///< sizeof(EventRecord)
  uint32_t pid;
  uint32_t seq;
  uint32_t reserved;
};
static_assert(sizeof(EventsHeader) == 32);

// Names, for readers and diagnostics.
constexpr const char* op_name(Op op) {
  switch (op) {
#define X(name, value, dir, flags) \
  case Op::name: return #name;
#include "valley/ops.def"
#undef X
  }
  return nullptr;
}

/// Properties of an Op, from ops.def.
enum OpBits : uint32_t {
  kOpOut = 1u << 0,  ///< direction out
  kOpIn = 1u << 1,   ///< direction in
  kOpPos = 1u << 2,  ///< has a file offset
  kOpVec = 1u << 3,  ///< an iovec array
  kOpMsg = 1u << 4,  ///< a msghdr
  kOpMmsg = 1u << 5, ///< several messages: the result counts messages
  kOpKr = 1u << 6,   ///< the kernel counts it in syscr
  kOpKw = 1u << 7,   ///< the kernel counts it in syscw
  kOpSock = 1u << 8, ///< a socket call (send/recv family)
  kOpCoal = 1u << 9, ///< the coalescer may absorb it
};

constexpr uint32_t op_bits(Op op) {
  constexpr uint32_t out = kOpOut, in = kOpIn, none = 0, pos = kOpPos, vec = kOpVec,
                     msg = kOpMsg, mmsg = kOpMmsg, kr = kOpKr, kw = kOpKw, sock = kOpSock,
                     coal = kOpCoal;
  (void)out, (void)in, (void)none, (void)pos, (void)vec, (void)msg, (void)mmsg, (void)kr, (void)kw,
      (void)sock, (void)coal;
  switch (op) {
#define X(name, value, dir, flags) \
  case Op::name: return (dir) | (flags);
#include "valley/ops.def"
#undef X
  }
  return 0;
}

/// True for ops that move data out of the program (write, send, …).
constexpr bool op_is_output(Op op) { return op_bits(op) & kOpOut; }
/// True for ops that move program data in or out through the program's buffers (the read and
/// write families); false for syncs, copies between fds, open, close and unlink.
constexpr bool op_moves_data(Op op) { return op_bits(op) & (kOpOut | kOpIn); }
constexpr bool op_is_positional(Op op) { return op_bits(op) & kOpPos; }
constexpr bool op_is_mmsg(Op op) { return op_bits(op) & kOpMmsg; }
constexpr bool op_is_vector(Op op) { return op_bits(op) & kOpVec; }
constexpr bool op_is_msg(Op op) { return op_bits(op) & kOpMsg; }
constexpr bool op_is_socket(Op op) { return op_bits(op) & kOpSock; }
/// The coalescer may absorb it (write, writev, send); every other op is a flush point.
constexpr bool op_is_coalescible(Op op) { return op_bits(op) & kOpCoal; }
/// A write to a stream fd that names no offset and moves one buffer's worth of bytes: what a
/// run record (kEventRun) may stand for.
constexpr bool op_is_stream_write(Op op) {
  return op_is_output(op) && !op_is_positional(op) && !op_is_mmsg(op);
}
/// Whether /proc/PID/io's syscr (reads) or syscw (writes) counts the call.
constexpr bool op_kernel_reads(Op op) { return op_bits(op) & kOpKr; }
constexpr bool op_kernel_writes(Op op) { return op_bits(op) & kOpKw; }

constexpr const char* fd_kind_name(FdKind k) {
  switch (k) {
#define X(name, value, label) \
  case FdKind::name: return label;
#include "valley/fd_kinds.def"
#undef X
  }
  return nullptr;
}

} // namespace valley
