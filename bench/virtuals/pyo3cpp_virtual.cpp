// pyo3cpp_virtual.cpp — bench/virtuals.sh's pyo3cpp side: a C++ virtual with a trampoline, and a
// C++ loop calling it through Task& (the instance held, as a Task& parameter holds it).
#include <pyo3cpp/pyo3cpp.hpp>
#include <pyo3cpp/trampoline.hpp>

using namespace pyo3cpp;

struct Task {
    virtual ~Task() = default;
    virtual long run(long x) { return x; }
};
PYO3CPP_CLASS(Task);
struct PyTask : Trampoline<Task> {
    using Trampoline::Trampoline;
    long run(long x) override { PYO3CPP_OVERRIDE(run, x); }
};
PYO3CPP_TRAMPOLINE(Task, PyTask);

PYO3CPP_MODULE(bench_virtuals_pyo3cpp, m)
{
    m.add_class<Task>("Task").subclassable().def_init<>().def("run", &Task::run, arg("x"));
    m.def("loop", [](Task &task, long n) {
        long sum = 0;
        for (long i = 0; i < n; ++i) sum += task.run(i);
        return sum;
    });
}
