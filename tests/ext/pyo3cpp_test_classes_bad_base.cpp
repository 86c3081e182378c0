// pyo3cpp_test_classes_bad_base — a bound class extending a base that was not declared
// subclassable(). Importing it must fail with a TypeError naming both classes, not crash or
// make a type CPython would refuse later. Driven by tests/python/test_classes.py.
#include <pyo3cpp/pyo3cpp.hpp>

using namespace pyo3cpp;

namespace {
struct Base {
    long v = 0;
};
struct Derived : Base {
    long w = 0;
};
}  // namespace
PYO3CPP_CLASS(Base);
PYO3CPP_CLASS(Derived);

PYO3CPP_MODULE(pyo3cpp_test_classes_bad_base, m)
{
    m.add_class<Base>("Base").def_init<>();
    m.add_class<Derived>("Derived").extends<Base>().def_init<>();
}
