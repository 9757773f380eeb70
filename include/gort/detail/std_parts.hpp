// gort/detail/std_parts.hpp — the parts of <chrono>, <functional> and <iterator> that gort's
// public headers use, without the rest of those headers.
//
// Why: every translation unit that includes <gort/gort.hpp> pays for what the headers include.
// gort's API needs std::chrono::duration/time_point and the clocks, std::function, and the
// iterator tags and std::default_sentinel_t. In libstdc++ (C++20) the full headers bring much
// more: <chrono> adds the calendar and time-zone types and <sstream> (iostreams and locales),
// <functional> adds the searchers (<unordered_map>, <vector>, the algorithms), and <iterator>
// adds the stream iterators (<streambuf>, <ios>, locales). Together they were about a third of
// the umbrella header's compile time with g++ 12 (docs/benchmarks.md, "Compile times").
//
// With libstdc++ the declarations come from the library's own component headers, which it
// ships for exactly this split; any other standard library gets the full standard headers.
// Either way the names used are the standard ones (std::chrono::duration, std::function,
// std::default_sentinel_t, std::input_iterator_tag): only the cost differs. Code that uses other
// parts of these headers includes them itself (gort's headers never promised them).
//
// Invariant: gort's public headers include <chrono>, <functional> and <iterator> only through
// this file.
#pragma once

#if defined(__GLIBCXX__) && __has_include(<bits/chrono.h>)  // libstdc++ 12 (not 11)
#include <bits/chrono.h>  // duration, time_point, system_clock, steady_clock, chrono_literals
#else
#include <chrono>
#endif

#if defined(__GLIBCXX__) && __has_include(<bits/std_function.h>)
#include <bits/std_function.h>  // function
#else
#include <functional>
#endif

#if defined(__GLIBCXX__) && __has_include(<bits/iterator_concepts.h>) && \
    __has_include(<bits/stl_iterator_base_types.h>)
#include <bits/iterator_concepts.h>        // default_sentinel_t
#include <bits/stl_iterator_base_types.h>  // input_iterator_tag
#else
#include <iterator>
#endif
