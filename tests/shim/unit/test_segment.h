// SPDX-License-Identifier: MIT
/// @file test_segment.h
/// @brief A segment in a fresh temporary run directory, and its .vev records read back.
#pragma once

#include "segment.h"
#include "sys.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <string>
#include <vector>

namespace valley::shim::testing {

struct TempSegment {
  std::filesystem::path dir;
  Segment seg{};

  explicit TempSegment(uint32_t ring_events = 1024) {
    char tmpl[] = "/tmp/valley-unit-XXXXXX";
    dir = mkdtemp(tmpl);
    Options o{};
    str_copy(o.dir, dir.c_str(), sizeof o.dir);
    o.ring_events = ring_events;
    o.events = true;
    o.max_frames = 62;
    EXPECT_TRUE(segment_create(o, Origin::start, nullptr, &seg));
  }
  ~TempSegment() {
    segment_unmap(&seg);
    std::filesystem::remove_all(dir);
  }

  /// The records of the .vev file, block by block; a malformed block fails the test.
  std::vector<EventRecord> drained() const {
    std::ifstream in(seg.ev_path, std::ios::binary);
    EventsHeader h{};
    in.read(reinterpret_cast<char*>(&h), sizeof h);
    std::vector<EventRecord> out;
    EventBlock b;
    while (in.read(reinterpret_cast<char*>(&b), sizeof b)) {
      EXPECT_EQ(b.magic, kBlockMagic);
      if (b.magic != kBlockMagic) break;
      for (uint32_t i = 0; i < b.count; ++i) {
        EventRecord r;
        if (!in.read(reinterpret_cast<char*>(&r), sizeof r)) {
          ADD_FAILURE() << "block cut short";
          return out;
        }
        out.push_back(r);
      }
    }
    return out;
  }
};

} // namespace valley::shim::testing
