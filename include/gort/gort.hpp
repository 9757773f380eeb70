// gort/gort.hpp — umbrella header; includes every public header and nothing else.
#pragma once

#include "gort/chan.hpp"
#include "gort/context.hpp"
#include "gort/errc.hpp"
#include "gort/error.hpp"
#include "gort/errgroup.hpp"
#include "gort/future.hpp"
#include "gort/go.hpp"
#include "gort/mutex.hpp"
#include "gort/pool.hpp"
#include "gort/runtime.hpp"
#include "gort/select.hpp"
#include "gort/semaphore.hpp"
#include "gort/singleflight.hpp"
#include "gort/stats.hpp"
#include "gort/sync.hpp"
#include "gort/time.hpp"
