// bench_main.cpp — main() for every benchmark binary: starts one interpreter, detaches the main
// thread, and runs the registered bodies in one of three modes (see bench_support.hpp).
#include "bench_support.hpp"

#include <valgrind/callgrind.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>

#include <unistd.h>

namespace pyo3cpp_bench {

std::vector<Entry> &registry()
{
    static std::vector<Entry> entries;
    return entries;
}

HandDeferredStack hand_pool;

namespace {
bool g_smoke = false;

// Discards every report: in callgrind mode only the instruction counters matter, and printing
// timings would add work that differs between the N and 2N runs.
class SilentReporter : public benchmark::BenchmarkReporter {
public:
    bool ReportContext(const Context &) override { return true; }
    void ReportRuns(const std::vector<Run> &) override {}
};

long status_field_kib(const char *field)
{
    std::ifstream status("/proc/self/status");
    std::string line;
    const size_t length = std::strlen(field);
    while (std::getline(status, line)) {
        if (line.compare(0, length, field) == 0 && line.size() > length && line[length] == ':')
            return std::atol(line.c_str() + length + 1);
    }
    return 0;
}

void run_one(const Entry &entry, benchmark::IterationCount iterations,
             benchmark::BenchmarkReporter *reporter)
{
    benchmark::ClearRegisteredBenchmarks();
    benchmark::RegisterBenchmark(entry.name.c_str(), entry.body)->Iterations(iterations);
    benchmark::RunSpecifiedBenchmarks(reporter);
}

int run_callgrind(const std::string &pattern, long iterations)
{
    const std::regex selected(pattern);
    SilentReporter silent;
    int matched = 0;
    for (const Entry &entry : registry()) {
        if (!std::regex_search(entry.name, selected)) continue;
        ++matched;
        // Warm-up: first-call costs (lazy binding, caches filling, interning) stay out.
        run_one(entry, iterations, &silent);
        for (long n : {iterations, 2 * iterations}) {
            CALLGRIND_TOGGLE_COLLECT;
            run_one(entry, n, &silent);
            CALLGRIND_TOGGLE_COLLECT;
            const std::string label = entry.name + "@" + std::to_string(n);
            CALLGRIND_DUMP_STATS_AT(label.c_str());
        }
    }
    if (matched == 0) std::fprintf(stderr, "no benchmark matches '%s'\n", pattern.c_str());
    return matched == 0 ? 1 : 0;
}

void register_all(bool smoke)
{
    for (const Entry &entry : registry()) {
        auto *bench = benchmark::RegisterBenchmark(entry.name.c_str(), entry.body);
        if (entry.configure) entry.configure(bench);
        if (smoke) bench->Iterations(2);
    }
}
}  // namespace

bool smoke_mode() { return g_smoke; }

void run_python_or_die(const char *source)
{
    if (PyRun_SimpleString(source) != 0) {
        std::fprintf(stderr, "benchmark fixture failed:\n%s\n", source);
        std::abort();
    }
}

PyObject *main_global(const char *name)
{
    PyObject *main_module = PyImport_AddModule("__main__");  // borrowed
    PyObject *value = main_module ? PyObject_GetAttrString(main_module, name) : nullptr;
    if (value == nullptr) {
        PyErr_Print();
        std::fprintf(stderr, "benchmark fixture: __main__.%s is missing\n", name);
        std::abort();
    }
    return value;
}

long peak_resident_bytes() { return status_field_kib("VmHWM") * 1024; }
long resident_bytes() { return status_field_kib("VmRSS") * 1024; }
void reset_peak_resident()
{
    // Writing 5 to clear_refs resets VmHWM to the current RSS (Linux >= 4.0).
    if (FILE *f = std::fopen("/proc/self/clear_refs", "w")) {
        std::fputs("5", f);
        std::fclose(f);
    }
}

}  // namespace pyo3cpp_bench

int main(int argc, char **argv)
{
    using namespace pyo3cpp_bench;
    std::string callgrind_pattern;
    long callgrind_iterations = 1000;
    bool list_only = false;
    // Take our own flags out of argv; the rest goes to Google Benchmark.
    int kept = 1;
    for (int i = 1; i < argc; ++i) {
        const char *arg = argv[i];
        if (std::strcmp(arg, "--smoke") == 0)
            g_smoke = true;
        else if (std::strncmp(arg, "--callgrind=", 12) == 0)
            callgrind_pattern = arg + 12;
        else if (std::strncmp(arg, "--iterations=", 13) == 0)
            callgrind_iterations = std::atol(arg + 13);
        else if (std::strcmp(arg, "--list") == 0)
            list_only = true;
        else
            argv[kept++] = argv[i];
    }
    argc = kept;
    if (list_only) {
        for (const Entry &entry : registry()) std::printf("%s\n", entry.name.c_str());
        return 0;
    }
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;

    Py_InitializeEx(0);
#ifdef Py_GIL_DISABLED
    // A thread's first attach on 3.13t may grow the interpreter's QSBR thread array, which
    // stops the world; a benchmark thread waiting attached at Google Benchmark's start barrier
    // would then deadlock it. Grow the array now: later threads reuse the freed slots.
    run_python_or_die(
        "import threading\n"
        "_warm = [threading.Thread(target=lambda: None) for _ in range(8)]\n"
        "for _t in _warm: _t.start()\n"
        "for _t in _warm: _t.join()\n"
        "del _warm, _t\n");
#endif
    PyThreadState *main_state = PyEval_SaveThread();
    int result = 0;
    if (!callgrind_pattern.empty()) {
        result = run_callgrind(callgrind_pattern, callgrind_iterations);
    } else {
        register_all(g_smoke);
        benchmark::RunSpecifiedBenchmarks();
    }
    benchmark::Shutdown();
    PyEval_RestoreThread(main_state);
    if (Py_FinalizeEx() != 0) return 1;
    return result;
}
