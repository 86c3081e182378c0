// pybind11_counter.cpp — the bench's class bound by pybind11 (bench_classes.cpp's `pybind11`
// column; GIL builds), in an extension module of its own, bench_classes_pybind11.
#include <pybind11/pybind11.h>

namespace py = pybind11;

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

PYBIND11_MODULE(bench_classes_pybind11, m)
{
    py::class_<Counter>(m, "Counter")
        .def(py::init<long>())
        .def("get", &Counter::get)
        .def("add", &Counter::add)
        .def_readonly("count", &Counter::count);
}
