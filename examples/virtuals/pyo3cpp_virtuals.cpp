// Python subclasses overriding C++ virtual methods, called by C++ from its own thread. Shown in
// docs/virtuals.md; tested by tests/python/test_virtuals.py.
#include <pyo3cpp/pyo3cpp.hpp>
#include <pyo3cpp/trampoline.hpp>
#include <exception>
#include <string>
#include <thread>
#include <vector>
using namespace pyo3cpp;

// The C++ library: a task with a virtual that has a default, a pure virtual, and a method that
// calls the virtual itself.
struct Task {
    virtual ~Task() = default;
    virtual long run(long x) { return x + 1; }
    virtual std::string name() const = 0;
    long runs = 0;
    long execute(long x) { ++runs; return run(x); }
};
PYO3CPP_CLASS(Task);  // locked: execute() holds the instance while run() calls into Python

// What instances of Python subclasses hold: each virtual asks the Python class first.
struct PyTask : Trampoline<Task> {
    using Trampoline::Trampoline;
    long run(long x) override { PYO3CPP_OVERRIDE(run, x); }
    std::string name() const override { PYO3CPP_OVERRIDE_PURE(name); }
};
PYO3CPP_TRAMPOLINE(Task, PyTask);

// C++ that keeps tasks (Retained: the Python object and the pointer) and runs them later on a
// thread of its own, which is not attached to the interpreter.
struct Scheduler {
    std::vector<Retained<Task>> tasks;

    std::vector<std::string> run_all(long x)
    {
        std::vector<std::string> lines;
        std::exception_ptr failure;
        std::thread worker([&] {
            try {
                for (auto &task : tasks) lines.push_back(task->name() + ": " + std::to_string(task->run(x)));
            } catch (...) {
                failure = std::current_exception();  // a PyErr: the Python exception inside
            }
        });
        worker.join();
        if (failure) std::rethrow_exception(failure);  // back in Python as the original exception
        return lines;
    }
};
PYO3CPP_CLASS(Scheduler);

PYO3CPP_MODULE(pyo3cpp_virtuals, m)
{
    m.add_class<Task>("Task", "Subclass it and override run() and name().")
        .subclassable()
        .def_init<>()
        .def("run", &Task::run, arg("x"))
        .def("name", &Task::name)
        .def("execute", &Task::execute, arg("x"))
        .def_readonly("runs", &Task::runs);
    m.add_class<Scheduler>("Scheduler", "Runs tasks on a C++ thread.")
        .def_init<>()
        .def("add", [](Scheduler &s, const Bound<Task> &task) { s.tasks.emplace_back(task); }, arg("task"))
        .def("run_all", [](Scheduler &s, long x) {
            // Waiting for the worker detaches: the worker attaches for each Python override.
            return detach(Python::assume_attached(), [&] { return s.run_all(x); });
        }, arg("x"))
        .def("clear", [](Scheduler &s) { s.tasks.clear(); });
}
