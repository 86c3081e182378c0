// foreign_attach.cpp — the cost of attach + release on a thread Python did not create, against
// the raw C API's PyGILState_Ensure/Release, which makes and destroys a thread state each time
// (pyo3cpp keeps one per thread: attach.cpp, "foreign thread states").
//   foreign_attach raw|pyo3cpp N     N attach+release rounds on one std::thread
//   foreign_attach pyo3cpp-main N  the same on the main thread (created by Python): the reference
// Instructions per round: scripts/bench-foreign-attach runs it under callgrind with N and 2N
// and divides the difference by N (setup cancels).
#include <pyo3cpp/pyo3cpp.hpp>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

int main(int argc, char **argv)
{
    if (argc != 3 || (std::strcmp(argv[1], "raw") != 0 && std::strcmp(argv[1], "pyo3cpp") != 0 &&
                      std::strcmp(argv[1], "pyo3cpp-main") != 0)) {
        std::fprintf(stderr, "usage: foreign_attach raw|pyo3cpp|pyo3cpp-main N\n");
        return 2;
    }
    const long rounds = std::atol(argv[2]);
    const bool raw = std::strcmp(argv[1], "raw") == 0;
    const bool on_main = std::strcmp(argv[1], "pyo3cpp-main") == 0;
    Py_InitializeEx(0);
    { auto guard = pyo3cpp::attach(); }  // arm the runtime, as any extension import does
    PyThreadState *main_state = PyEval_SaveThread();
    if (on_main) {  // the same loop on the main thread, which Python created: the reference
        for (long i = 0; i < rounds; ++i) {
            auto guard = pyo3cpp::attach();
        }
        PyEval_RestoreThread(main_state);
        std::_Exit(0);
    }
    std::thread([&] {
        for (long i = 0; i < rounds; ++i) {
            if (raw) {
                PyGILState_STATE state = PyGILState_Ensure();
                PyGILState_Release(state);
            } else {
                auto guard = pyo3cpp::attach();
            }
        }
    }).join();
    PyEval_RestoreThread(main_state);
    std::_Exit(0);  // the measurement ends here; finalisation is not part of it
}
