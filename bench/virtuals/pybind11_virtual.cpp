// pybind11_virtual.cpp — bench/virtuals.sh's pybind11 side (Debian's 2.10, GIL builds): the same
// virtual with pybind11's override macro, and the same C++ loop.
#include <pybind11/pybind11.h>

namespace py = pybind11;

namespace {
struct Task {
    virtual ~Task() = default;
    virtual long run(long x) { return x; }
};
struct PyTask : Task {
    using Task::Task;
    long run(long x) override { PYBIND11_OVERRIDE(long, Task, run, x); }
};
}  // namespace

PYBIND11_MODULE(bench_virtuals_pybind11, m)
{
    py::class_<Task, PyTask>(m, "Task").def(py::init<>()).def("run", &Task::run);
    m.def("loop", [](Task &task, long n) {
        long sum = 0;
        for (long i = 0; i < n; ++i) sum += task.run(i);
        return sum;
    });
}
