// The Counter of issue 13 with pyo3cpp: state, __init__, methods, a getter, __len__, a Py<>
// callback member (GC support) and subclassing. Tested by tests/python/test_classes.py.
#include <pyo3cpp/pyo3cpp.hpp>
using namespace pyo3cpp;

struct Counter {
    long count = 0, step = 1;
    Py<PyAny> on_change;  // called with the new count; may close a cycle back to the Counter

    Counter(long start, long step_) : count(start), step(step_) {}
    long add(Python py, std::optional<long> n)
    {
        // C++ signed overflow is undefined: a sum past a C long is Python's OverflowError.
        long sum;
        if (__builtin_add_overflow(count, n.value_or(step), &sum))
            throw std::overflow_error("Counter.add() result does not fit in a C long");
        count = sum;
        if (on_change.as_ptr() != nullptr) on_change.bind(py).call(count);
        return count;
    }
    long value() const { return count; }
};
PYO3CPP_CLASS(Counter);

PYO3CPP_MODULE(pyo3cpp_counter, m)
{
    m.add_class<Counter>("Counter", "Counts up by a step.")
        .def_init<long, long>(arg("start") = 0, arg("step") = 1)
        .def("add", &Counter::add, "Add n (default: step).", arg("n") = std::nullopt)
        .def_property("value", &Counter::value)
        .def_readwrite("on_change", &Counter::on_change)
        .def("__len__", &Counter::value)
        .traverse<&Counter::on_change>()
        .subclassable();
}
