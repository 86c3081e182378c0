// embedded_main.cpp — main() for the GoogleTest suites: one interpreter for the whole binary,
// started before the tests and finalised after them, with the main thread detached in between.
#include "embedded_python.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

namespace pyo3cpp_test {

bool run_python(const char *source)
{
    if (PyRun_SimpleString(source) != 0) {
        ADD_FAILURE() << "Python code failed:\n" << source;
        return false;
    }
    return true;
}

void with_watchdog(int seconds, const char *what, const std::function<void()> &body)
{
    std::atomic<bool> done{false};
    std::thread dog([&] {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
        while (!done.load()) {
            if (std::chrono::steady_clock::now() > deadline) {
                std::fprintf(stderr, "WATCHDOG: '%s' did not finish in %d s (deadlock?)\n", what,
                             seconds);
                std::fflush(stderr);
                std::_Exit(3);
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    });
    body();
    done.store(true);
    dog.join();
}

long resident_bytes()
{
    long pages_total = 0, pages_resident = 0;
    if (FILE *f = std::fopen("/proc/self/statm", "r")) {
        if (std::fscanf(f, "%ld %ld", &pages_total, &pages_resident) != 2) pages_resident = 0;
        std::fclose(f);
    }
    return pages_resident * sysconf(_SC_PAGESIZE);
}

}  // namespace pyo3cpp_test

int main(int argc, char **argv)
{
    testing::InitGoogleTest(&argc, argv);
    Py_InitializeEx(0);
    PyThreadState *main_state = PyEval_SaveThread();
    const int result = RUN_ALL_TESTS();
    PyEval_RestoreThread(main_state);
    if (Py_FinalizeEx() != 0) return 1;
    return result;
}
