// gort/version.hpp — the version of gort these headers belong to.
//
//   #if GORT_VERSION >= 100  // 0.1.0 or later
//   std::puts("gort " GORT_VERSION_STRING);
//
// The three numbers below are the version's only source: CMakeLists.txt reads them for
// project(VERSION), which the CMake package's version file and pkg-config's Version come from.
// Only bare decimal numbers may follow them.
#pragma once

#define GORT_VERSION_MAJOR 0
#define GORT_VERSION_MINOR 1
#define GORT_VERSION_PATCH 0

/// MAJOR * 10000 + MINOR * 100 + PATCH, for #if comparisons.
#define GORT_VERSION (GORT_VERSION_MAJOR * 10000 + GORT_VERSION_MINOR * 100 + GORT_VERSION_PATCH)

#define GORT_VERSION_STRINGIFY_(x) #x
#define GORT_VERSION_STRINGIFY(x) GORT_VERSION_STRINGIFY_(x)

/// "MAJOR.MINOR.PATCH", a string literal.
#define GORT_VERSION_STRING                    \
  GORT_VERSION_STRINGIFY(GORT_VERSION_MAJOR) "." \
  GORT_VERSION_STRINGIFY(GORT_VERSION_MINOR) "." \
  GORT_VERSION_STRINGIFY(GORT_VERSION_PATCH)
