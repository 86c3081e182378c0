// pyo3cpp_test_many_entries — more functions, methods, static methods and classmethods than the
// runtime's shared C entries hold (1,024 function entries, 4,096 method entries per process):
// the rest fall back to entries without a limit, in this extension and in any imported after
// it. Defined in loops (one callable type each), so the module compiles like a small one.
// Driven by tests/python/test_many_entries.py.
#include <pyo3cpp/pyo3cpp.hpp>

#include <deque>
#include <string>
#include <utility>
#include <vector>

using namespace pyo3cpp;

namespace {

struct Many {
    long base = 0;
};

std::deque<std::string> g_names;
const char *keep(std::string s) { return g_names.emplace_back(std::move(s)).c_str(); }

constexpr long kFunctions = 5000, kMethods = 5000, kStatics = 2000, kClassMethods = 500;

}  // namespace

PYO3CPP_CLASS(Many);

PYO3CPP_MODULE(pyo3cpp_test_many_entries, m)
{
    for (long i = 0; i < kFunctions; ++i)
        m.def(keep("f_" + std::to_string(i)), [i](long x) { return x + i; }, arg("x"));
    auto &cls = m.add_class<Many>("Many").def_init<>().def_readwrite("base", &Many::base).subclassable();
    for (long i = 0; i < kMethods; ++i)
        cls.def(keep("m_" + std::to_string(i)), [i](Many &self, long x) { return self.base += x + i; }, arg("x"));
    for (long i = 0; i < kStatics; ++i)
        cls.def_static(keep("s_" + std::to_string(i)), [i](long x) { return x * 2 + i; }, nullptr, arg("x"));
    for (long i = 0; i < kClassMethods; ++i)
        cls.def_classmethod(keep("c_" + std::to_string(i)), [i](Bound<PyType> c, long x) {
            return std::make_pair(c, x + i);
        }, nullptr, arg("x"));
    m.add("COUNTS", std::vector<long>{kFunctions, kMethods, kStatics, kClassMethods});
}
