// SPDX-License-Identifier: MIT
/// @file hot.h
/// @brief Where the per-call path lives. Every traced call runs the same few functions and
/// reads the same few variables right after a syscall, which may have evicted them from the
/// caches and the TLB. Packed onto few pages (GCC puts `hot` functions in .text.hot, which the
/// linker groups; the variables share one section), they cost fewer misses per call.
#pragma once

/// A function every data call runs.
#define VALLEY_HOT __attribute__((hot))
/// A slow path split off a hot function, so it does not spread the hot code over more pages.
#define VALLEY_COLD __attribute__((cold, noinline))
/// A variable every data call reads.
#define VALLEY_HOT_DATA __attribute__((section("valley_hot")))
