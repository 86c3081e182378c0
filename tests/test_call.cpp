// test_call.cpp — call.hpp: 0-3 positional arguments, keywords (static, run-time, mixed),
// methods by C string / interned name / literal, exceptions, refcounts, null arguments.
#include <pyo3cpp/pyo3cpp.hpp>

#include <gtest/gtest.h>

#include <string>

#include "embedded_python.hpp"
#include "expect_raises.hpp"

using namespace pyo3cpp;
using namespace pyo3cpp::literals;
using pyo3cpp_test::eval;
using pyo3cpp_test::expect_raises;
using pyo3cpp_test::refcnt;

namespace {


Bound<PyAny> main_attr(Python py, const char *name) { return import(py, "__main__").getattr(name); }

class Calls : public ::testing::Test {
protected:
    static void SetUpTestSuite()
    {
        auto guard = attach();
        ASSERT_TRUE(pyo3cpp_test::run_python(R"(
def describe(*args, **kwargs):
    return repr(args) + ' ' + repr(sorted(kwargs.items()))

def fail(*args, **kwargs):
    raise ValueError('failed with %r' % (args,))

class Box:
    def __init__(self):
        self.items = []
    def put(self, *args, **kwargs):
        self.items.append((args, sorted(kwargs.items())))
        return len(self.items)
    def explode(self):
        raise KeyError('boom')
)"));
    }
};

TEST_F(Calls, ZeroToThreePositional)
{
    auto guard = attach();
    auto py = guard.py();
    auto describe = main_attr(py, "describe");
    EXPECT_EQ(describe.call().extract<std::string>(), "() []");
    EXPECT_EQ(describe.call(1).extract<std::string>(), "(1,) []");
    EXPECT_EQ(describe.call(1, "two").extract<std::string>(), "(1, 'two') []");
    auto three = new_float(py, 3.0);
    EXPECT_EQ(describe.call(1, "two", three).extract<std::string>(), "(1, 'two', 3.0) []");
    EXPECT_EQ(describe.as_borrowed().call(three.as_borrowed()).extract<std::string>(), "(3.0,) []");
    Py<PyAny> stored = three.unbind();
    EXPECT_EQ(describe.call(stored, py.none()).extract<std::string>(), "(3.0, None) []");
}

TEST_F(Calls, KeywordsStaticRuntimeAndMixed)
{
    auto guard = attach();
    auto py = guard.py();
    auto describe = main_attr(py, "describe");
    EXPECT_EQ(describe.call("sep"_kw = ", ").extract<std::string>(), "() [('sep', ', ')]");
    EXPECT_EQ(describe.call(1, "a"_kw = 2, "b"_kw = "x").extract<std::string>(),
              "(1,) [('a', 2), ('b', 'x')]");
    // The cached kwnames tuple is per set of names: a second call with other values reuses it.
    EXPECT_EQ(describe.call(5, "a"_kw = 3, "b"_kw = "y").extract<std::string>(),
              "(5,) [('a', 3), ('b', 'y')]");
    EXPECT_EQ(describe.call(kw("end") = "\n").extract<std::string>(), "() [('end', '\\n')]");
    EXPECT_EQ(describe.call(1, 2, kw("z") = 1, "y"_kw = 2).extract<std::string>(),
              "(1, 2) [('y', 2), ('z', 1)]");
    auto print = import(py, "builtins").getattr("print");
    auto io = import(py, "io");
    auto buffer = io.getattr("StringIO").call();
    print.call("a", "b", "sep"_kw = "-", "end"_kw = "!", "file"_kw = buffer);
    EXPECT_EQ(buffer.call_method<"getvalue">().extract<std::string>(), "a-b!");
    expect_raises(py, PyExc_TypeError, [&] { print.call("unknown"_kw = 1); }, "bad keyword");
    expect_raises(py, PyExc_TypeError, [&] { describe.call(kw(nullptr) = 1); }, "NULL keyword");
}

TEST_F(Calls, MethodsByCStringInternedAndLiteral)
{
    auto guard = attach();
    auto py = guard.py();
    auto box = main_attr(py, "Box").call();
    EXPECT_EQ(box.call_method("put").extract<int>(), 1);
    EXPECT_EQ(box.call_method<"put">(1, 2).extract<int>(), 2);
    EXPECT_EQ(box.call_method(intern<"put">(py), 1, "k"_kw = 3).extract<int>(), 3);
    EXPECT_EQ(box.call_method<"put">(1, 2, 3, kw("q") = 4).extract<int>(), 4);
    EXPECT_EQ(box.getattr("items").repr().to_string(),
              "[((), []), ((1, 2), []), ((1,), [('k', 3)]), ((1, 2, 3), [('q', 4)])]");
    auto list = new_list(py);
    list.call_method<"append">(7);
    EXPECT_EQ(list.len(), 1u);
    expect_raises(py, PyExc_AttributeError, [&] { box.call_method("missing"); }, "missing method");
    expect_raises(py, PyExc_AttributeError, [&] { box.call_method<"missing">(1); }, "missing method<>");
    expect_raises(py, PyExc_KeyError, [&] { box.call_method("explode"); }, "method raising");
    expect_raises(py, PyExc_TypeError, [&] { box.call_method<"explode">(1); }, "arity");
    auto number = new_int(py, 1);
    expect_raises(py, PyExc_TypeError, [&] { box.call_method(number); }, "non-str method name");
}

TEST_F(Calls, ExceptionsNotCallableAndNullArguments)
{
    auto guard = attach();
    auto py = guard.py();
    auto fail = main_attr(py, "fail");
    try {
        fail.call(1, 2);
        FAIL() << "no exception";
    } catch (const PyErr &err) {
        EXPECT_TRUE(err.matches(py, PyExc_ValueError));
        EXPECT_STREQ(err.what(), "ValueError: failed with (1, 2)");
    }
    EXPECT_FALSE(PyErr_Occurred());
    expect_raises(py, PyExc_TypeError, [&] { new_int(py, 3).call(); }, "int is not callable");
    Bound<PyAny> gone = new_list(py);
    Bound<PyAny> keeper = std::move(gone);
    expect_raises(py, PyExc_TypeError, [&] { fail.call(gone); }, "moved-from Bound");
    expect_raises(py, PyExc_TypeError, [&] { fail.call("k"_kw = Py<PyAny>()); }, "empty Py keyword");
    expect_raises(py, PyExc_UnicodeDecodeError, [&] { fail.call(std::string("\xff")); }, "bad conversion");
}

TEST_F(Calls, ObjectArgumentsCostNoReferencesAndLeakNone)
{
    auto guard = attach();
    auto py = guard.py();
    auto describe = main_attr(py, "describe");
    auto fail = main_attr(py, "fail");
    auto arg = new_list(py);
    const Py_ssize_t start = refcnt(arg.as_ptr());
    const Py_ssize_t describe_start = refcnt(describe.as_ptr());
    for (int i = 0; i < 1000; ++i) {
        describe.call(arg, arg.as_borrowed(), "x"_kw = arg);
        describe.call(arg, kw("y") = arg);
        try {
            fail.call(arg);
        } catch (const PyErr &) {
        }
    }
    // The last exception's traceback may hold frames; everything else is back.
    EXPECT_EQ(refcnt(arg.as_ptr()), start);
    EXPECT_EQ(refcnt(describe.as_ptr()), describe_start);
}

}  // namespace
