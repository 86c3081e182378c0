// nanobind_counter.cpp — the bench's class bound by nanobind (bench_classes.cpp's `nanobind`
// column; both interpreters, free-threaded with NB_FREE_THREADED), in an extension module of its
// own, bench_classes_nanobind, linked with nanobind's runtime built from its sources
// (scripts/fetch-nanobind).
#include <nanobind/nanobind.h>

namespace nb = nanobind;

namespace {
struct Counter {
    long count;
    explicit Counter(long start) : count(start) {}
    long get() const { return count; }
    long add(long n)
    {
        count += n;
        return count;
    }
};
}  // namespace

NB_MODULE(bench_classes_nanobind, m)
{
    // The bench keeps its instances to the end of the process: not leaks worth reporting.
    nb::set_leak_warnings(false);
    nb::class_<Counter>(m, "Counter")
        .def(nb::init<long>())
        .def("get", &Counter::get)
        .def("add", &Counter::add)
        .def_ro("count", &Counter::count);
}
