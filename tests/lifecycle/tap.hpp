// tap.hpp — TAP output and a watchdog for the lifecycle test programs (each owns its
// interpreter's life cycle, so each is its own executable with its own main()).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

namespace lifecycle_test {

inline int g_count = 0, g_failed = 0;

inline void ok(bool condition, const char *name)
{
    ++g_count;
    if (!condition) ++g_failed;
    std::printf("%s %d - %s\n", condition ? "ok" : "not ok", g_count, name);
    std::fflush(stdout);
}

// Fails the whole program (instead of hanging the suite) if it runs longer than `seconds`.
inline void start_watchdog(int seconds)
{
    std::thread([seconds] {
        std::this_thread::sleep_for(std::chrono::seconds(seconds));
        std::printf("not ok - watchdog: still running after %d s (deadlock?)\n", seconds);
        std::fflush(stdout);
        std::_Exit(3);
    }).detach();
}

inline int finish()
{
    std::printf("1..%d\n", g_count);
    std::fflush(stdout);
    return g_failed == 0 ? 0 : 1;
}

}  // namespace lifecycle_test
