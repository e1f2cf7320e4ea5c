// SPDX-License-Identifier: MIT
#include "real.h"

#include "diag.h"
#include "hot.h"
#include "modules.h"

#include <dlfcn.h>

namespace valley::shim::real {

#define X(name, type) VALLEY_HOT_DATA std::add_pointer_t<type> name = nullptr;
#include "real_funcs.h"
#undef X

VALLEY_HOT_DATA bool g_resolved = false;

namespace {
constinit thread_local bool t_resolving __attribute__((tls_model("initial-exec"))) = false;
}

bool resolve_all() {
  if (t_resolving) return false;
  t_resolving = true;
  // RTLD_NEXT: the definition after libvalley in the search order (libc, or another preload).
  // A missing symbol (an older libc without pwritev2, say) leaves its pointer null and that
  // wrapper falls back to the raw system call.
#define X(name, type) \
  if (!name) name = reinterpret_cast<std::add_pointer_t<type>>(dlsym(RTLD_NEXT, #name));
#include "real_funcs.h"
#undef X
  // A pointer must never lead back into valley itself (valley dlopen'ed, or RTLD_NEXT
  // confused by another interposer): that would loop forever. Such a function falls back to
  // the raw system call.
  find_self_range();
#define X(name, type) \
  if (in_self(reinterpret_cast<uint64_t>(name))) name = nullptr;
#include "real_funcs.h"
#undef X
  if (!write || !read || !close) diag("warning: libc's write/read/close not found; using raw system calls");
  g_resolved = true;
  t_resolving = false;
  return true;
}

} // namespace valley::shim::real
