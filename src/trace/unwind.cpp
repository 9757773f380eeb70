// trace/unwind.cpp — see unwind.hpp.
#include "trace/unwind.hpp"

#include <cxxabi.h>
#include <dlfcn.h>
#include <ucontext.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#if GORT_HAVE_LIBUNWIND
#include <libunwind.h>
#endif
#if GORT_HAVE_LIBDW
#include <dwarf.h>
#include <elfutils/libdwfl.h>
#endif

namespace gort::sched {

std::string demangle(const char* name) {
  if (name == nullptr) return "?";
  int status = 0;
  char* d = abi::__cxa_demangle(name, nullptr, nullptr, &status);
  if (status != 0 || d == nullptr) return name;
  std::string r(d);
  std::free(d);
  return r;
}

#if GORT_HAVE_LIBUNWIND

bool can_unwind() noexcept { return true; }

namespace {

std::size_t walk(unw_cursor_t& cur, const void** out, std::size_t max, bool first_is_pc) noexcept {
  std::size_t n = 0;
  if (first_is_pc) {
    unw_word_t ip = 0;
    if (unw_get_reg(&cur, UNW_REG_IP, &ip) != 0 || ip == 0) return 0;
    out[n++] = reinterpret_cast<const void*>(ip);
  }
  while (n < max && unw_step(&cur) > 0) {
    unw_word_t ip = 0;
    if (unw_get_reg(&cur, UNW_REG_IP, &ip) != 0 || ip == 0) break;
    out[n++] = reinterpret_cast<const void*>(ip);
  }
  return n;
}

}  // namespace

std::size_t unwind_parked(const void* fctx, const void** out, std::size_t max) noexcept {
#if defined(__x86_64__)
  if (fctx == nullptr || max == 0) return 0;
  const auto* f = static_cast<const std::uint64_t*>(fctx);
  unw_context_t uc;
  std::memset(&uc, 0, sizeof uc);
  // unw_context_t is a ucontext_t on x86-64 Linux: libunwind reads the registers from it.
  greg_t* r = uc.uc_mcontext.gregs;
  r[REG_R12] = static_cast<greg_t>(f[1]);
  r[REG_R13] = static_cast<greg_t>(f[2]);
  r[REG_R14] = static_cast<greg_t>(f[3]);
  r[REG_R15] = static_cast<greg_t>(f[4]);
  r[REG_RBX] = static_cast<greg_t>(f[5]);
  r[REG_RBP] = static_cast<greg_t>(f[6]);
  r[REG_RIP] = static_cast<greg_t>(f[7]);  // return address of the jump_fcontext call
  r[REG_RSP] = static_cast<greg_t>(reinterpret_cast<std::uintptr_t>(f + 8));
  unw_cursor_t cur;
  if (unw_init_local(&cur, &uc) != 0) return 0;
  return walk(cur, out, max, true);
#else
  (void)fctx;
  (void)out;
  (void)max;
  return 0;
#endif
}

[[gnu::noinline]] std::size_t unwind_here(const void** out, std::size_t max) noexcept {
  // libc's getcontext rather than unw_getcontext, which only the local-only libunwind has (see
  // CMakeLists.txt: that library would also take over the C++ runtime's _Unwind_* functions).
  unw_context_t uc;
  if (::getcontext(&uc) != 0) return 0;
  unw_cursor_t cur;
  if (unw_init_local(&cur, &uc) != 0) return 0;
  return walk(cur, out, max, false);  // skips this function's own frame
}

std::size_t unwind_signal(void* ucontext, const void** out, std::size_t max) noexcept {
  if (ucontext == nullptr || max == 0) return 0;
  unw_cursor_t cur;
  if (unw_init_local2(&cur, static_cast<unw_context_t*>(ucontext), UNW_INIT_SIGNAL_FRAME) != 0) {
    return 0;
  }
  return walk(cur, out, max, true);
}

bool signal_safe_symbol(const void* pc, bool is_return, char* buf, std::size_t size) noexcept {
  // libunwind names the instruction before a cursor's ip (it takes every ip of a context it did
  // not get from a signal for a return address): give it pc + 1 for an instruction itself.
  unw_context_t uc;
  std::memset(&uc, 0, sizeof uc);
#if defined(__x86_64__)
  uc.uc_mcontext.gregs[REG_RIP] =
      static_cast<greg_t>(reinterpret_cast<std::uintptr_t>(pc) + (is_return ? 0 : 1));
#else
  (void)is_return;
  return false;
#endif
  unw_cursor_t cur;
  if (unw_init_local(&cur, &uc) != 0) return false;
  unw_word_t off = 0;
  if (unw_get_proc_name(&cur, buf, size, &off) != 0) return false;
  std::size_t n = std::strlen(buf);
  char tmp[24];
  int i = 0;
  std::uintptr_t v = off - (is_return ? 0 : 1);  // the offset of pc itself
  do {
    tmp[i++] = "0123456789abcdef"[v & 15];
    v >>= 4;
  } while (v != 0 && i < 20);
  const char* pre = "+0x";
  for (const char* p = pre; *p != '\0' && n + 1 < size; ++p) buf[n++] = *p;
  while (i > 0 && n + 1 < size) buf[n++] = tmp[--i];
  buf[n] = '\0';
  return true;
}

#else  // no libunwind

bool can_unwind() noexcept { return false; }
std::size_t unwind_parked(const void*, const void**, std::size_t) noexcept { return 0; }
std::size_t unwind_here(const void**, std::size_t) noexcept { return 0; }
std::size_t unwind_signal(void*, const void**, std::size_t) noexcept { return 0; }
bool signal_safe_symbol(const void*, bool, char*, std::size_t) noexcept { return false; }

#endif

// ---- symbolizer ----

#if GORT_HAVE_LIBDW

struct symbolizer::impl {
  Dwfl_Callbacks callbacks{};
  Dwfl* dwfl = nullptr;
  char* debuginfo_path = nullptr;

  impl() {
    callbacks.find_elf = dwfl_linux_proc_find_elf;
    callbacks.find_debuginfo = dwfl_standard_find_debuginfo;
    callbacks.debuginfo_path = &debuginfo_path;
    dwfl = dwfl_begin(&callbacks);
    if (dwfl == nullptr) return;
    if (dwfl_linux_proc_report(dwfl, ::getpid()) != 0 || dwfl_report_end(dwfl, nullptr, nullptr) != 0) {
      dwfl_end(dwfl);
      dwfl = nullptr;
    }
  }
  ~impl() {
    if (dwfl != nullptr) dwfl_end(dwfl);
  }
};

namespace {

// The C++ name of a subprogram or inlined-subroutine DIE: its linkage name demangled (found
// through abstract_origin/specification), else its plain name.
std::string die_name(Dwarf_Die* die) {
  Dwarf_Attribute attr;
  if (dwarf_attr_integrate(die, DW_AT_linkage_name, &attr) != nullptr ||
      dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &attr) != nullptr) {
    if (const char* s = dwarf_formstring(&attr)) return demangle(s);
  }
  if (dwarf_attr_integrate(die, DW_AT_name, &attr) != nullptr) {
    if (const char* s = dwarf_formstring(&attr)) return s;
  }
  return "?";
}

}  // namespace

symbolizer::symbolizer() : impl_(std::make_unique<impl>()) {}
symbolizer::~symbolizer() = default;

void symbolizer::lookup(const void* pc, bool is_return, std::vector<source_frame>& out) {
  const Dwarf_Addr addr = reinterpret_cast<Dwarf_Addr>(pc) - (is_return ? 1 : 0);
  Dwfl_Module* mod = impl_->dwfl != nullptr ? dwfl_addrmodule(impl_->dwfl, addr) : nullptr;
  source_frame outer;
  outer.function = "?";
  if (mod != nullptr) {
    GElf_Off off = 0;
    GElf_Sym sym;
    if (const char* name = dwfl_module_addrinfo(mod, addr, &off, &sym, nullptr, nullptr, nullptr)) {
      outer.function = demangle(name);
      outer.offset = static_cast<std::uintptr_t>(off) + (is_return ? 1 : 0);
    }
  }
  std::string file;
  int line = 0;
  if (mod != nullptr) {
    if (Dwfl_Line* l = dwfl_module_getsrc(mod, addr)) {
      int ln = 0;
      if (const char* f = dwfl_lineinfo(l, nullptr, &ln, nullptr, nullptr, nullptr)) {
        file = f;
        line = ln;
      }
    }
    // Inlined calls at addr (eu-addr2line -i): each inlined subroutine is a frame whose
    // location is the current one; the call site becomes the location of the frame outside it.
    Dwarf_Addr bias = 0;
    Dwarf_Die* cudie = dwfl_module_addrdie(mod, addr, &bias);
    Dwarf_Die* scopes = nullptr;
    const int n = cudie != nullptr ? dwarf_getscopes(cudie, addr - bias, &scopes) : 0;
    Dwarf_Files* files = nullptr;
    if (n > 0 && dwarf_getsrcfiles(cudie, &files, nullptr) != 0) files = nullptr;
    for (int i = 0; i < n; ++i) {
      const int tag = dwarf_tag(&scopes[i]);
      if (tag == DW_TAG_subprogram) break;
      if (tag != DW_TAG_inlined_subroutine) continue;
      source_frame f;
      f.function = die_name(&scopes[i]);
      f.file = file;
      f.line = line;
      f.inlined = true;
      out.push_back(std::move(f));
      Dwarf_Attribute a;
      Dwarf_Word cf = 0;
      Dwarf_Word cl = 0;
      if (dwarf_formudata(dwarf_attr(&scopes[i], DW_AT_call_file, &a), &cf) == 0 && files != nullptr) {
        const char* name = dwarf_filesrc(files, cf, nullptr, nullptr);
        file = name != nullptr ? name : "";
      }
      if (dwarf_formudata(dwarf_attr(&scopes[i], DW_AT_call_line, &a), &cl) == 0) {
        line = static_cast<int>(cl);
      }
    }
    std::free(scopes);
  }
  outer.file = file;
  outer.line = line;
  out.push_back(std::move(outer));
}

#else  // no libdw: ELF symbols only

struct symbolizer::impl {};

symbolizer::symbolizer() = default;
symbolizer::~symbolizer() = default;

void symbolizer::lookup(const void* pc, bool is_return, std::vector<source_frame>& out) {
  source_frame f;
  f.function = "?";
  Dl_info info;
  const auto* a = static_cast<const char*>(pc) - (is_return ? 1 : 0);
  if (::dladdr(a, &info) != 0 && info.dli_sname != nullptr) {
    f.function = demangle(info.dli_sname);
    f.offset = static_cast<std::uintptr_t>(static_cast<const char*>(pc) -
                                           static_cast<const char*>(info.dli_saddr));
  }
  out.push_back(std::move(f));
}

#endif

const std::vector<source_frame>& symbolizer::resolve(const void* pc, bool is_return) {
  const auto key = std::make_pair(pc, is_return);
  auto found = cache_.find(key);
  if (found != cache_.end()) return found->second;
  std::vector<source_frame>& out = cache_[key];
  lookup(pc, is_return, out);
  return out;
}

}  // namespace gort::sched
