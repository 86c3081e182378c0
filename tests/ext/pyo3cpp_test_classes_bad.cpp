// pyo3cpp_test_classes_bad — a class definition the binding layer refuses: a special method it
// cannot reach through a slot yet (__getattr__). Importing it must fail with a clear error
// instead of giving a class whose attribute lookup silently ignores the method. Driven by
// tests/python/test_classes.py.
#include <pyo3cpp/pyo3cpp.hpp>

#include <string>

using namespace pyo3cpp;

namespace {
struct Number {
    long v = 0;
};
}  // namespace
PYO3CPP_CLASS(Number);

PYO3CPP_MODULE(pyo3cpp_test_classes_bad, m)
{
    m.add_class<Number>("Number").def_init<>().def("__getattr__", [](const Number &a, std::string) {
        return a.v;
    });
}
