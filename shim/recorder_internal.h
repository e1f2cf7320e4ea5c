// SPDX-License-Identifier: MIT
/// @file recorder_internal.h
/// @brief State shared by the recorder's hot path (recorder.cpp, event_log.cpp) and the image's
/// life (image.cpp): the phase, the options, the segment, one call, and the per-thread steps
/// between them.
#pragma once

#include "options.h"
#include "segment.h"
#include "thread.h"

#include <atomic>

namespace valley::shim {

enum Phase : int {
  kUninit,   // nothing done yet
  kIniting,  // one thread is setting up; others pass through unrecorded
  kActive,   // recording
  kOff,      // disabled (option, error, secure execution): pure pass-through
  kFinished, // the final drain is done: counters still count, events go straight to the file
};

extern constinit Options g_opts;
extern constinit std::atomic<int> g_phase;
extern constinit Segment g_seg;

/// One call as the recorder sees it, from the hook to its counters and event.
struct Call {
  Op op;
  int fd;
  uint64_t requested, transferred;
  int64_t offset;
  ssize_t result;
  int err; // errno when result < 0
  uint64_t t0, t1;
  uint64_t ra;   // return address, or 0 when `site` is given
  uint32_t site; // used when ra == 0
  uint8_t flags;
  uint64_t gen; // the coalescer's buffer, for an absorbed call
  uint8_t note; // EventRecord::reserved: why the coalescer let an output call go around it
};

/// Logs the event of one counted call: into the thread's shard (or the run record it holds,
/// which an identical absorbed write extends), else straight to the .vev file. `nested`: a
/// signal handler's call inside valley, which neither joins nor ends the held run.
void log_event(Segment& seg, Thread& t, int phase, bool nested, const Call& c, uint32_t site,
               FdKind kind);

/// A thread's first call: its tid, its end-of-thread destructor, its shard.
void first_call_of_thread(Thread& t);

/// Commits the run record the thread's shard holds: into its buffer while recording, straight
/// to the .vev file after the final drain.
void commit_held(Thread& t, int phase);

/// False in a child that no fork handler reached (vfork, _Fork, raw fork or clone): it shares
/// or copies this process's memory without being the traced process.
bool traced_process();

/// Fills the coverage's seen_* figures from every counter row.
void summarize_coverage(Segment& seg);

} // namespace valley::shim
