// test_call.cpp — call.hpp: 0-3 positional arguments, keywords (static, run-time, mixed),
// methods by C string / interned name / literal, exceptions, refcounts, null arguments, and the
// PyErr those exceptions arrive in (its message is formatted lazily, once, on any thread).
#include <pyo3cpp/pyo3cpp.hpp>

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <thread>
#include <vector>

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

// PyErr::what() formats "Type: str(value)" only when first asked, exactly once for all copies,
// and from any thread: one that is not attached attaches for it. Fetching never runs __str__.
class PyErrWhat : public ::testing::Test {
protected:
    static void SetUpTestSuite()
    {
        auto guard = attach();
        ASSERT_TRUE(pyo3cpp_test::run_python(R"(
class CountedError(Exception):
    str_calls = 0
    def __str__(self):
        type(self).str_calls += 1
        return 'counted %s' % self.args[0]

class BadStrError(Exception):
    def __str__(self):
        raise RuntimeError('no text for you')

def raise_counted(n):
    raise CountedError(n)

def raise_bad_str():
    raise BadStrError()
)"));
    }

    static long str_calls(Python py) { return eval(py, "CountedError.str_calls").extract<long>(); }
    static void reset() { ASSERT_TRUE(pyo3cpp_test::run_python("CountedError.str_calls = 0")); }

    static PyErr caught(Python py, const char *function, long n)
    {
        try {
            if (n < 0)
                main_attr(py, function).call();
            else
                main_attr(py, function).call(n);
        } catch (const PyErr &err) {
            return err;
        }
        throw std::runtime_error("no exception");
    }
};

TEST_F(PyErrWhat, FormatsOnFirstUseOnlyAndOnceForAllCopies)
{
    auto guard = attach();
    auto py = guard.py();
    reset();
    PyErr err = caught(py, "raise_counted", 7);
    PyErr copy = err;
    EXPECT_TRUE(err.matches(py, eval(py, "CountedError").as_ptr()));
    EXPECT_EQ(str_calls(py), 0) << "fetching ran __str__";

    const char *text = copy.what();
    EXPECT_STREQ(text, "CountedError: counted 7");
    EXPECT_EQ(str_calls(py), 1);
    EXPECT_EQ(err.what(), text) << "copies share one message";
    EXPECT_STREQ(copy.what(), "CountedError: counted 7");
    EXPECT_EQ(str_calls(py), 1) << "formatted twice";
    EXPECT_FALSE(PyErr_Occurred());
}

TEST_F(PyErrWhat, LeavesThePendingErrorAlone)
{
    auto guard = attach();
    auto py = guard.py();
    PyErr err = caught(py, "raise_counted", 8);
    PyErr bad = caught(py, "raise_bad_str", -1);
    PyErr_SetString(PyExc_LookupError, "pending");
    EXPECT_STREQ(err.what(), "CountedError: counted 8");
    EXPECT_STREQ(bad.what(), "BadStrError") << "__str__ raised: the type name alone";
    ASSERT_TRUE(PyErr_Occurred());
    PyErr pending = PyErr::fetch(py);
    EXPECT_TRUE(pending.matches(py, PyExc_LookupError));
    EXPECT_STREQ(pending.what(), "LookupError: pending");
    EXPECT_FALSE(PyErr_Occurred());
}

TEST_F(PyErrWhat, CopyOnAThreadThatIsNotAttached)
{
    auto guard = attach();
    auto py = guard.py();
    reset();
    PyErr err = caught(py, "raise_counted", 9);
    ASSERT_EQ(str_calls(py), 0);
    std::string text;
    bool attached_before = true, attached_after = true;
    // The GIL build needs this thread detached for the other one to attach.
    detach(py, [&] {
        std::thread([copy = err, &text, &attached_before, &attached_after] {
            attached_before = Python::is_attached();
            text = copy.what();
            attached_after = Python::is_attached();
        }).join();
    });
    EXPECT_FALSE(attached_before);
    EXPECT_FALSE(attached_after) << "what() left the foreign thread attached";
    EXPECT_EQ(text, "CountedError: counted 9");
    EXPECT_EQ(str_calls(py), 1);
    EXPECT_STREQ(err.what(), "CountedError: counted 9");
    EXPECT_EQ(str_calls(py), 1);
}

// Non-blocking, like OnceCell: racing threads may each run __str__, but one text is published
// and every copy returns that same text (same pointer) from then on.
TEST_F(PyErrWhat, CopiesRacingForTheMessageAllGetThePublishedText)
{
    auto guard = attach();
    auto py = guard.py();
    for (int round = 0; round < 20; ++round) {
        reset();
        PyErr err = caught(py, "raise_counted", round);
        ASSERT_EQ(str_calls(py), 0);
        std::vector<const char *> texts(4, nullptr);
        detach(py, [&] {
            pyo3cpp_test::Barrier start(4);
            std::vector<std::thread> threads;
            for (int i = 0; i < 4; ++i)
                threads.emplace_back([copy = err, &texts, &start, i] {
                    start.arrive_and_wait();
                    texts[i] = copy.what();
                });
            for (auto &t : threads) t.join();
        });
        const std::string expected = "CountedError: counted " + std::to_string(round);
        EXPECT_EQ(err.what(), expected);
        for (const char *text : texts) EXPECT_EQ(text, err.what()) << "round " << round;
        const long calls = str_calls(py);
        EXPECT_GE(calls, 1);
        EXPECT_LE(calls, 4);
        EXPECT_STREQ(PyErr(err).what(), expected.c_str());
        EXPECT_EQ(str_calls(py), calls) << "published text not reused";
    }
}

}  // namespace
