// Compiled (not run) by the CTest entry headers.umbrella_leaves_out_heavy_std_headers: the public
// headers take <chrono>, <functional> and <iterator> only through gort/detail/std_parts.hpp, so a
// translation unit that includes <gort/gort.hpp> does not pay for the rest of those headers
// (docs/benchmarks.md, "Compile times"). With libstdc++ each full header defines its include
// guard; other standard libraries get the full headers by design and are not checked.
#include <gort/gort.hpp>

#if defined(__GLIBCXX__) && __has_include(<bits/chrono.h>)
#ifdef _GLIBCXX_CHRONO
#error "<gort/gort.hpp> includes the whole of <chrono>: include gort/detail/std_parts.hpp instead"
#endif
#ifdef _GLIBCXX_FUNCTIONAL
#error "<gort/gort.hpp> includes the whole of <functional>: include gort/detail/std_parts.hpp instead"
#endif
#ifdef _GLIBCXX_ITERATOR
#error "<gort/gort.hpp> includes the whole of <iterator>: include gort/detail/std_parts.hpp instead"
#endif
#ifdef _GLIBCXX_SSTREAM
#error "<gort/gort.hpp> includes <sstream> (iostreams and locales)"
#endif
#endif

int main() { return 0; }
