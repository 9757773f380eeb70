// gort/source_location.hpp — where a goroutine was created, on every supported compiler.
//
//   void spawn_here(gort::source_location where = gort::source_location::current());
//
// std::source_location needs compiler support that g++ 11 and clang 14 with libstdc++ lack, and
// its layout is the standard library's business. gort's own type is the same on every compiler,
// so a library built with one compiler and an application built with another agree on it. The
// accessors are std::source_location's; the strings have static storage duration. The function
// name is the compiler's short name (g++ and clang: the unqualified function name), and column()
// is 0 where the compiler does not report columns (g++ before 13).
#pragma once

#include <cstdint>

namespace gort {

class source_location {
 public:
  constexpr source_location() noexcept = default;

  /// The caller's location when used as a default argument (like std::source_location::current).
  static constexpr source_location current(const char* file = __builtin_FILE(),
                                           const char* function = __builtin_FUNCTION(),
                                           std::uint_least32_t line = __builtin_LINE(),
#if defined(__has_builtin)
#if __has_builtin(__builtin_COLUMN)
                                           std::uint_least32_t column = __builtin_COLUMN()
#else
                                           std::uint_least32_t column = 0
#endif
#else
                                           std::uint_least32_t column = 0
#endif
                                               ) noexcept {
    source_location l;
    l.file_ = file;
    l.function_ = function;
    l.line_ = line;
    l.column_ = column;
    return l;
  }

  constexpr const char* file_name() const noexcept { return file_; }
  constexpr const char* function_name() const noexcept { return function_; }
  constexpr std::uint_least32_t line() const noexcept { return line_; }
  constexpr std::uint_least32_t column() const noexcept { return column_; }

 private:
  const char* file_ = "";
  const char* function_ = "";
  std::uint_least32_t line_ = 0;
  std::uint_least32_t column_ = 0;
};

}  // namespace gort
