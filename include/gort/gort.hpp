// gort/gort.hpp — umbrella header; includes every public header and nothing else.
#pragma once

#include "gort/chan.hpp"
#include "gort/error.hpp"
#include "gort/go.hpp"
#include "gort/runtime.hpp"
#include "gort/select.hpp"
#include "gort/stats.hpp"
#include "gort/sync.hpp"
#include "gort/time.hpp"
