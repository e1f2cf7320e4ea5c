// SPDX-License-Identifier: MIT
// Stands in for libvalley.so in `valley run` tests: preloading it changes nothing.
void valley_test_empty_preload(void) {}
