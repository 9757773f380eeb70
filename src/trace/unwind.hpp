// trace/unwind.hpp — stacks of goroutines: unwinding (libunwind) and symbolizing (libdw).
//
// Both libraries are optional (CMake finds them; GORT_HAVE_LIBUNWIND, GORT_HAVE_LIBDW). Without
// libunwind no frames are unwound and dumps show headers and creation sites only; without libdw
// function names come from the ELF symbol tables (libunwind's, or dladdr for creation sites) and
// no file:line is shown.
//
// A parked goroutine's registers are in the Boost.Context frame its last jump_fcontext pushed
// (x86-64 System V layout: mxcsr/x87 control word, r12, r13, r14, r15, rbx, rbp at offsets 0x00-0x30,
// the return address at 0x38, the stack pointer after the return at 0x40). unwind_parked turns that
// frame into a libunwind context; the caller must keep the goroutine from resuming meanwhile (the
// scan bit, goroutine.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace gort::sched {

inline constexpr std::size_t k_max_frames = 64;

/// True when this build can unwind goroutine stacks.
bool can_unwind() noexcept;

/// Return addresses of a parked goroutine whose saved fcontext is `fctx`, innermost first. The
/// goroutine must not run meanwhile. Any thread.
std::size_t unwind_parked(const void* fctx, const void** out, std::size_t max) noexcept;

/// Return addresses of the calling thread's stack from the caller of this function. Any thread.
std::size_t unwind_here(const void** out, std::size_t max) noexcept;

/// From a signal handler's ucontext: out[0] is the interrupted instruction, the rest return
/// addresses. Uses only libunwind's local unwinding (no allocation). Signal handlers.
std::size_t unwind_signal(void* ucontext, const void** out, std::size_t max) noexcept;

/// Writes `name+0xoff` of `pc` into buf (NUL-terminated, possibly cut) from the ELF symbol table,
/// without allocating; false when unknown. Signal handlers (libunwind's get_proc_name).
bool signal_safe_symbol(const void* pc, bool is_return, char* buf, std::size_t size) noexcept;

/// One source-level frame: a return address may expand to several (inlined calls).
struct source_frame {
  std::string function;  // demangled; "?" when unknown
  std::string file;      // empty when unknown
  int line = 0;
  std::uintptr_t offset = 0;  // pc - start of the enclosing ELF symbol (the outermost frame only)
  bool inlined = false;  // a frame inlined into the next one
};

/// Symbolizes addresses of this process. Reads the process's module list once, at construction:
/// make one per report. Not thread-safe. Any thread, not in signal handlers.
class symbolizer {
 public:
  symbolizer();
  ~symbolizer();
  symbolizer(const symbolizer&) = delete;
  symbolizer& operator=(const symbolizer&) = delete;

  /// The frames of `pc`, innermost (inlined) first. `is_return`: pc is a return address (the call
  /// instruction before it is looked up).
  const std::vector<source_frame>& resolve(const void* pc, bool is_return);

 private:
  // The backend's lookup (libdw, or dladdr without it); resolve caches its answers.
  void lookup(const void* pc, bool is_return, std::vector<source_frame>& out);

  struct impl;
  std::unique_ptr<impl> impl_;
  std::map<std::pair<const void*, bool>, std::vector<source_frame>> cache_;
};

/// Demangles a C++ symbol name (returns it unchanged when it is not one). Not in signal handlers.
std::string demangle(const char* name);

}  // namespace gort::sched
