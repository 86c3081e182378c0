// bench_memory.cpp — peak resident growth while iterating a 10,000,000-item dict and list with
// owned references (every item is held by a strong reference while it is looked at, as the
// free-threading-safe iteration does). The goal is flat: under 1 MiB of growth, whatever the
// size — an iteration that parked references in a pool (PyO3's old GIL pool) would grow by
// 80 MB here.
//
// Counter `peak_growth_KiB`: VmHWM after the loop minus VmRSS before it, with the peak reset
// just before (Linux /proc/self/clear_refs). `--smoke` shrinks the containers to 100,000 items.
#include "bench_support.hpp"

#if __has_include("pyo3cpp/dict.hpp")
#include "pyo3cpp/dict.hpp"
#endif
#if __has_include("pyo3cpp/list.hpp")
#include "pyo3cpp/list.hpp"
#endif

using namespace pyo3cpp;

namespace {

// Builds __main__.big_list (N distinct ints) and __main__.big_dict (the same ints as keys,
// None as values) once per process. Attached caller.
void ensure_fixture()
{
    static bool built = false;
    if (built) return;
    const long items = pyo3cpp_bench::smoke_mode() ? 100000 : 10000000;
    const std::string source = "big_list = list(range(" + std::to_string(items) +
                               "))\nbig_dict = dict.fromkeys(big_list)\n";
    pyo3cpp_bench::run_python_or_die(source.c_str());
    built = true;
}

template <class Loop> void measure(benchmark::State &state, const char *fixture, Loop loop)
{
    auto guard = pyo3cpp::attach();
    auto py = guard.py();
    ensure_fixture();
    auto container = Bound<PyAny>::from_owned_ptr(py, pyo3cpp_bench::main_global(fixture));
    long growth = 0, items = 0;
    for (auto _ : state) {
        pyo3cpp_bench::reset_peak_resident();
        const long before = pyo3cpp_bench::resident_bytes();
        items = loop(py, container.as_ptr());
        growth = std::max(growth, pyo3cpp_bench::peak_resident_bytes() - before);
    }
    state.counters["peak_growth_KiB"] = static_cast<double>(growth) / 1024.0;
    state.counters["items"] = static_cast<double>(items);
}

void one_shot(benchmark::internal::Benchmark *b) { b->Iterations(1)->Unit(benchmark::kMillisecond); }

}  // namespace

PYO3CPP_BENCH_CONFIGURED(memory_dict_iter, capi, one_shot)
{
    measure(state, "big_dict", [](Python, PyObject *dict) {
        long count = 0;
        Py_ssize_t pos = 0;
        PyObject *key, *value;
        for (;;) {
            int more;
#ifdef Py_GIL_DISABLED
            Py_BEGIN_CRITICAL_SECTION(dict);
#endif
            more = PyDict_Next(dict, &pos, &key, &value);
            if (more) {
                Py_INCREF(key);
                Py_INCREF(value);
            }
#ifdef Py_GIL_DISABLED
            Py_END_CRITICAL_SECTION();
#endif
            if (!more) break;
            benchmark::DoNotOptimize(key);
            Py_DECREF(key);
            Py_DECREF(value);
            ++count;
        }
        return count;
    });
}

PYO3CPP_BENCH_CONFIGURED(memory_dict_iter, pyo3cpp, one_shot)
{
    measure(state, "big_dict", [](Python py, PyObject *object) {
        long count = 0;
        auto dict = Borrowed<PyAny>::from_ptr(py, object).cast<PyDict>();
#if __has_include("pyo3cpp/dict.hpp")
        for (auto [key, value] : dict) {
            benchmark::DoNotOptimize(key.as_ptr());
            ++count;
        }
#else
        (void)dict;
#endif
        return count;
    });
}

PYO3CPP_BENCH_CONFIGURED(memory_list_iter, capi, one_shot)
{
    measure(state, "big_list", [](Python, PyObject *list) {
        long count = 0;
        for (Py_ssize_t i = 0;; ++i) {
            PyObject *item;
#if PY_VERSION_HEX >= 0x030D0000
            item = PyList_GetItemRef(list, i);
            if (item == nullptr) {
                PyErr_Clear();  // IndexError: the end (the list may have shrunk meanwhile)
                break;
            }
#else
            if (i >= PyList_GET_SIZE(list)) break;
            item = PyList_GET_ITEM(list, i);
            Py_INCREF(item);
#endif
            benchmark::DoNotOptimize(item);
            Py_DECREF(item);
            ++count;
        }
        return count;
    });
}

PYO3CPP_BENCH_CONFIGURED(memory_list_iter, pyo3cpp, one_shot)
{
    measure(state, "big_list", [](Python py, PyObject *object) {
        long count = 0;
        auto list = Borrowed<PyAny>::from_ptr(py, object).cast<PyList>();
#if __has_include("pyo3cpp/list.hpp")
        for (auto item : list) {
            benchmark::DoNotOptimize(item.as_ptr());
            ++count;
        }
#else
        (void)list;
#endif
        return count;
    });
}
