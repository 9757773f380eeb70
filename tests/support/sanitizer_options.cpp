// The test executables' sanitizer defaults (an environment's TSAN_OPTIONS still overrides them).
//
// atexit_sleep_ms=0: ThreadSanitizer otherwise sleeps a second in exit() so that other threads'
// late races get reported; every test here joins what it started (the watchdog and the leak check
// see to it), and a second per test process was most of the TSan pass's time (1,432 processes).
extern "C" const char* __tsan_default_options() { return "atexit_sleep_ms=0"; }
