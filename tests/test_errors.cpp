// test_errors.cpp — cheap errors: PyResult and the try_ call forms (success and failure, exact
// refcounts over many iterations, nothing ever thrown), and PyErr's representation (3.11: the
// un-normalised triple; 3.12+: one object): matches() without normalising, value() normalising
// once for all copies, restore() handing back type, value and traceback unchanged, copies,
// moves and destruction on a thread that is not attached, drop(py), the empty moved-from state.
#include <pyo3cpp/pyo3cpp.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>
#include <thread>
#include <utility>

#include "embedded_python.hpp"
#include "expect_raises.hpp"
#include "refcount_watch.hpp"

using namespace pyo3cpp;
using pyo3cpp_test::eval;
using pyo3cpp_test::RefcountWatch;

// Every C++ heap allocation in this binary is counted (CPython allocates with malloc, so only
// C++ code shows up): the proof that fetching, matching and dropping an error allocates nothing.
// Not under ThreadSanitizer (its runtime defines operator new statically: a second definition
// does not link) nor AddressSanitizer (its operator new in other modules pairs with this file's
// delete: an alloc-dealloc mismatch report); the allocation test is skipped there.
#if defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define PYO3CPP_TEST_NO_NEW_COUNT 1
#endif
#endif
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define PYO3CPP_TEST_NO_NEW_COUNT 1
#endif
namespace {
std::atomic<long> cxx_allocations{0};
}
#ifndef PYO3CPP_TEST_NO_NEW_COUNT
// (noinline: once inlined, g++ pairs `new` with free() and warns of a mismatch it cannot see.)
[[gnu::noinline]] void *operator new(std::size_t size)
{
    cxx_allocations.fetch_add(1, std::memory_order_relaxed);
    if (void *p = std::malloc(size ? size : 1)) return p;
    throw std::bad_alloc();
}
[[gnu::noinline]] void operator delete(void *p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void *p, std::size_t) noexcept { std::free(p); }
#endif

namespace {

constexpr bool kUnnormalisedFetch = PY_VERSION_HEX < 0x030C0000;

class Errors : public ::testing::Test {
protected:
    static void SetUpTestSuite()
    {
        auto guard = attach();
        ASSERT_TRUE(pyo3cpp_test::run_python(R"(
err_dict = {'present': 1}
err_getitem = err_dict.__getitem__
err_missing = ''.join(['no', 'such'])

class InitCounted(Exception):
    inits = 0
    def __init__(self, *args):
        type(self).inits += 1
        super().__init__(*args)

def err_raise_key(d, k):
    return d[k]            # a KeyError raised by Python code: it has a traceback

def err_raise_instance(d, k):
    raise KeyError(k)      # an instance raised by Python code

def err_echo(x):
    return x

class ErrBox:
    def get(self, k):
        return err_dict[k]
)"));
    }

    // Fetches the KeyError that err_getitem (a C method) raises for a missing key: on 3.11 the
    // thread holds (KeyError, ('nosuch',), NULL), never normalised by CPython.
    static PyErr c_keyerror(Python py)
    {
        PyObject *r = PyObject_CallOneArg(eval(py, "err_getitem").as_ptr(),
                                          eval(py, "err_missing").as_ptr());
        EXPECT_EQ(r, nullptr);
        return PyErr::fetch(py);
    }
    static long inits(Python py) { return eval(py, "InitCounted.inits").extract<long>(); }
};

// ---------------------------------------------------------------- PyResult and try_ forms

TEST_F(Errors, TryCallSuccessGivesTheValueAndKeepsRefcounts)
{
    auto guard = attach();
    auto py = guard.py();
    auto echo = eval(py, "err_echo");
    auto arg = eval(py, "object()");
    {
        RefcountWatch watch{echo.as_ptr(), arg.as_ptr()};
        for (int i = 0; i < 1000; ++i) {
            PyResult<Bound<PyAny>> r = echo.try_call(arg);
            ASSERT_TRUE(r.has_value());
            ASSERT_TRUE(static_cast<bool>(r));
            ASSERT_TRUE(r->is(arg));
            ASSERT_TRUE((*r).is(arg));
            Bound<PyAny> v = std::move(r).value();
            ASSERT_TRUE(v.is(arg));
        }
    }
    EXPECT_FALSE(PyErr_Occurred());
}

TEST_F(Errors, TryCallFailureIsReturnedNotThrownAndKeepsRefcounts)
{
    auto guard = attach();
    auto py = guard.py();
    auto getitem = eval(py, "err_getitem");
    auto dict = eval(py, "err_dict");
    auto missing = eval(py, "err_missing");
    auto raise_key = eval(py, "err_raise_key");
    {
        RefcountWatch watch{getitem.as_ptr(), dict.as_ptr(), missing.as_ptr(), raise_key.as_ptr()};
        for (int i = 0; i < 2000; ++i) {
            auto r = getitem.try_call(missing);  // from C
            ASSERT_FALSE(r.has_value());
            ASSERT_TRUE(r.error().matches(py, PyExc_KeyError));
            ASSERT_FALSE(PyErr_Occurred()) << "the error was left on the thread";
            auto q = raise_key.try_call(dict, missing);  // from Python code, with a traceback
            ASSERT_FALSE(q);
            ASSERT_TRUE(q.error().matches(py, PyExc_LookupError));
            ASSERT_FALSE(q.error().matches(py, PyExc_ValueError));
        }
    }
    EXPECT_FALSE(PyErr_Occurred());
}

TEST_F(Errors, TryCallMethodAllNameFormsBothOutcomes)
{
    auto guard = attach();
    auto py = guard.py();
    auto box = eval(py, "ErrBox()");
    auto present = eval(py, "'present'");
    auto missing = eval(py, "err_missing");
    auto name = eval(py, "'get'");
    {
        // (not `name`: "get" is a string CPython and intern<"get"> keep references to)
        RefcountWatch watch{box.as_ptr(), present.as_ptr(), missing.as_ptr()};
        for (int i = 0; i < 300; ++i) {
            ASSERT_EQ(box.try_call_method("get", present).value().extract<long>(), 1);
            ASSERT_EQ(box.try_call_method(name, present).value().extract<long>(), 1);
            ASSERT_EQ(box.try_call_method<"get">(present).value().extract<long>(), 1);
            ASSERT_TRUE(box.try_call_method("get", missing).error().matches(py, PyExc_KeyError));
            ASSERT_TRUE(box.try_call_method(name, missing).error().matches(py, PyExc_KeyError));
            ASSERT_TRUE(box.try_call_method<"get">(missing).error().matches(py, PyExc_KeyError));
            ASSERT_TRUE(box.try_call_method("no_such_method").error().matches(py, PyExc_AttributeError));
        }
    }
    EXPECT_FALSE(PyErr_Occurred());
}

TEST_F(Errors, TryFormsNeverThrowPyErrEvenForArgumentFailures)
{
    auto guard = attach();
    auto py = guard.py();
    auto echo = eval(py, "err_echo");
    Py<PyAny> null_arg;  // a null owner: a TypeError while preparing the arguments
    PyResult<Bound<PyAny>> r = echo.try_call(1);
    EXPECT_NO_THROW(r = echo.try_call(null_arg));
    ASSERT_FALSE(r.has_value());
    EXPECT_TRUE(r.error().matches(py, PyExc_TypeError));
    Py<PyString> null_name;
    EXPECT_NO_THROW(r = echo.try_call_method(null_name));
    EXPECT_TRUE(r.error().matches(py, PyExc_TypeError));
    EXPECT_NO_THROW(r = echo.try_call(std::string("\xff")));  // a failed conversion
    EXPECT_TRUE(r.error().matches(py, PyExc_UnicodeDecodeError));
    EXPECT_NO_THROW(r = echo.try_call(kw(nullptr) = 1));  // a bad keyword name
    EXPECT_TRUE(r.error().matches(py, PyExc_TypeError));
    EXPECT_FALSE(PyErr_Occurred());
}

TEST_F(Errors, ValueThrowsTheHeldPyErrAndValueOrFallsBack)
{
    auto guard = attach();
    auto py = guard.py();
    auto getitem = eval(py, "err_getitem");
    auto missing = eval(py, "err_missing");
    pyo3cpp_test::expect_raises(py, PyExc_KeyError, [&] { (void)getitem.try_call(missing).value(); },
                                "rvalue value()");
    auto r = getitem.try_call(missing);
    pyo3cpp_test::expect_raises(py, PyExc_KeyError, [&] { (void)r.value(); }, "lvalue value()");
    EXPECT_TRUE(r.error().matches(py, PyExc_KeyError)) << "lvalue value() consumed the error";
    auto fallback = eval(py, "'fallback'");
    EXPECT_TRUE(r.value_or(fallback).is(fallback));
    PyResult<long> n = PyErr::new_err(py, PyExc_ValueError, "no number");
    EXPECT_EQ(n.value_or(7L), 7L);
    PyResult<long> m = 5L;
    EXPECT_EQ(m.value_or(7L), 5L);
    PyResult<long> copy = n;
    EXPECT_STREQ(copy.error().what(), "ValueError: no number");
    copy = m;
    EXPECT_EQ(*copy, 5L);
}

TEST_F(Errors, DictTryGetItemPresentAbsentAndUnhashable)
{
    auto guard = attach();
    auto py = guard.py();
    auto d = eval(py, "{'k': object()}").cast<PyDict>();
    auto k = eval(py, "''.join(['k'])");
    auto absent = eval(py, "err_missing");
    auto unhashable = eval(py, "[]");
    auto value = d.get_item(k).value();
    {
        RefcountWatch watch{d.as_ptr(), k.as_ptr(), absent.as_ptr(), unhashable.as_ptr(), value.as_ptr()};
        for (int i = 0; i < 500; ++i) {
            auto hit = d.try_get_item(k);
            ASSERT_TRUE(hit && *hit && (*hit)->is(value));
            auto miss = d.try_get_item(absent);
            ASSERT_TRUE(miss && !*miss);
            auto bad = d.try_get_item(unhashable);
            ASSERT_FALSE(bad);
            ASSERT_TRUE(bad.error().matches(py, PyExc_TypeError));
            auto bad_key = d.try_get_item(std::string("\xff"));  // conversion fails
            ASSERT_FALSE(bad_key);
            ASSERT_TRUE(bad_key.error().matches(py, PyExc_UnicodeDecodeError));
        }
    }
    EXPECT_FALSE(PyErr_Occurred());
}

// ---------------------------------------------------------------- PyErr representation

TEST_F(Errors, FetchMatchDropAllocatesNothingAndOnlyTheFirstCopyDoes)
{
#ifdef PYO3CPP_TEST_NO_NEW_COUNT
    GTEST_SKIP() << "allocations are not counted under ThreadSanitizer or AddressSanitizer";
#endif
    auto guard = attach();
    auto py = guard.py();
    auto getitem = eval(py, "err_getitem");
    auto missing = eval(py, "err_missing");
    (void)getitem.try_call(missing);  // warm-up
    const long before = cxx_allocations.load();
    for (int i = 0; i < 1000; ++i) {
        auto r = getitem.try_call(missing);
        if (r || !r.error().matches(py, PyExc_KeyError)) ADD_FAILURE() << "no KeyError";
        PyErr_SetString(PyExc_ValueError, "v");
        PyErr err = PyErr::fetch(py);
        PyErr moved = std::move(err);
        if (!moved.matches(py, PyExc_ValueError)) ADD_FAILURE() << "no ValueError";
        PyErr dropped = getitem.try_call(missing).error();
        std::move(dropped).drop(py);
    }
    EXPECT_EQ(cxx_allocations.load() - before, 0) << "allocations per error";
    PyErr err = PyErr::new_err(py, PyExc_ValueError, "shared");
    const long first = cxx_allocations.load();
    PyErr copy = err;
    EXPECT_EQ(cxx_allocations.load() - first, 1) << "the first copy allocates the shared block";
    PyErr second = err, third = copy;
    EXPECT_EQ(cxx_allocations.load() - first, 1) << "later copies share it";
}

TEST_F(Errors, MatchesWorksOnTheUnnormalisedError)
{
    auto guard = attach();
    auto py = guard.py();
    PyErr err = c_keyerror(py);
    EXPECT_TRUE(err.matches(py, PyExc_KeyError));
    EXPECT_TRUE(err.matches(py, PyExc_LookupError));
    EXPECT_TRUE(err.matches(py, PyExc_Exception));
    EXPECT_FALSE(err.matches(py, PyExc_ValueError));
    auto types = eval(py, "(ValueError, KeyError)");
    EXPECT_TRUE(err.matches(py, types));
    EXPECT_TRUE(err.type(py).is(Borrowed<PyAny>::from_ptr(py, PyExc_KeyError)));
    // The instance is made when asked for, and it is a real KeyError carrying the key.
    auto value = err.value(py);
    EXPECT_TRUE(PyObject_TypeCheck(value.as_ptr(), reinterpret_cast<PyTypeObject *>(PyExc_KeyError)));
    EXPECT_EQ(value.getattr("args").getattr("__getitem__").call(0).extract<std::string>(), "nosuch");
    EXPECT_TRUE(err.value(py).is(value)) << "normalised twice";
    EXPECT_STREQ(err.what(), "KeyError: 'nosuch'");
}

// An exception raised from C with PyErr_SetObject(type, args): 3.11 leaves it un-normalised and
// PyErr keeps it so (no __init__ runs to fetch, match or drop it); 3.12+ normalises at the raise.
// Either way value() runs __init__ at most once however many copies ask.
TEST_F(Errors, FetchMatchDropNeverNormalises)
{
    auto guard = attach();
    auto py = guard.py();
    auto type = eval(py, "InitCounted");
    auto arg = eval(py, "'payload'");
    {
        RefcountWatch watch{type.as_ptr(), arg.as_ptr()};
        for (int i = 0; i < 500; ++i) {
            const long before = inits(py);
            PyErr_SetObject(type.as_ptr(), arg.as_ptr());
            PyErr err = PyErr::fetch(py);  // before inits(): it runs Python code
            const long raised = inits(py);
            ASSERT_EQ(raised - before, kUnnormalisedFetch ? 0 : 1);
            ASSERT_TRUE(err.matches(py, type));
            ASSERT_TRUE(err.matches(py, PyExc_Exception));
            PyErr moved = std::move(err);
            ASSERT_TRUE(moved.matches(py, type));
            std::move(moved).drop(py);
            ASSERT_EQ(inits(py), raised) << "fetch/match/move/drop ran __init__";
        }
    }
    const long before = inits(py);
    PyErr_SetObject(type.as_ptr(), arg.as_ptr());
    PyErr err = PyErr::fetch(py);
    PyErr copy = err;
    const long fetched = inits(py);
    auto a = copy.value(py);
    auto b = err.value(py);
    EXPECT_TRUE(a.is(b)) << "copies normalised separately";
    EXPECT_EQ(inits(py) - before, 1);
    EXPECT_EQ(inits(py) - fetched, kUnnormalisedFetch ? 1 : 0);
    EXPECT_STREQ(err.what(), "InitCounted: payload");
}

// Take the raw state CPython holds, let PyErr fetch and restore it, and compare the raw state
// again: the same objects, pointer for pointer.
struct RawState {
    PyObject *type = nullptr, *value = nullptr, *traceback = nullptr;
    static RawState take()
    {
        RawState s;
        PyErr_Fetch(&s.type, &s.value, &s.traceback);
        return s;
    }
    void put_back_copy() const
    {
        Py_XINCREF(type);
        Py_XINCREF(value);
        Py_XINCREF(traceback);
        PyErr_Restore(type, value, traceback);
    }
    void release()
    {
        Py_XDECREF(type);
        Py_XDECREF(value);
        Py_XDECREF(traceback);
    }
};

// Both shapes Python code raises: d[k] (on 3.11 the value may still be the bare key tuple, not
// normalised, when no handler caught it) and `raise KeyError(k)` (an instance).
TEST_F(Errors, KeyErrorFromPythonCodeSurvivesFetchAndRestoreUnchanged)
{
    auto guard = attach();
    auto py = guard.py();
    auto dict = eval(py, "err_dict");
    auto missing = eval(py, "err_missing");
    for (const char *function : {"err_raise_key", "err_raise_instance"}) {
        SCOPED_TRACE(function);
        auto raiser = eval(py, function);
        PyObject *r = PyObject_CallFunctionObjArgs(raiser.as_ptr(), dict.as_ptr(), missing.as_ptr(), nullptr);
        ASSERT_EQ(r, nullptr);
        RawState original = RawState::take();
        ASSERT_EQ(original.type, PyExc_KeyError);
        ASSERT_NE(original.traceback, nullptr) << "raised by Python code: a traceback is expected";
        {
            RefcountWatch watch{original.value, original.traceback};
            original.put_back_copy();
            PyErr err = PyErr::fetch(py);
            EXPECT_FALSE(PyErr_Occurred());
            EXPECT_TRUE(err.traceback(py).is(Borrowed<PyAny>::from_ptr(py, original.traceback)));
            EXPECT_TRUE(err.type(py).is(Borrowed<PyAny>::from_ptr(py, PyExc_KeyError)));
            EXPECT_TRUE(err.matches(py, PyExc_KeyError));
            err.restore(py);  // const: err stays valid
            RawState again = RawState::take();
            EXPECT_EQ(again.type, original.type);
            EXPECT_EQ(again.value, original.value);
            EXPECT_EQ(again.traceback, original.traceback);
            again.put_back_copy();
            again.release();
            PyErr second = PyErr::fetch(py);
            std::move(second).restore(py);  // by move: the references go back as they are
            EXPECT_TRUE(second.empty());
            RawState third = RawState::take();
            EXPECT_EQ(third.type, original.type);
            EXPECT_EQ(third.value, original.value);
            EXPECT_EQ(third.traceback, original.traceback);
            third.release();
        }
        // Outside the watch: making the instance attaches the traceback to it (a reference the
        // instance keeps, as CPython's own normalisation does).
        {
            original.put_back_copy();
            PyErr err = PyErr::fetch(py);
            // The instance: the raised one when Python raised an instance; otherwise made now,
            // a KeyError carrying the key, with the traceback attached.
            auto value = err.value(py);
            if (PyExceptionInstance_Check(original.value)) {
                EXPECT_EQ(value.as_ptr(), original.value);
            }
            EXPECT_TRUE(PyObject_TypeCheck(value.as_ptr(), reinterpret_cast<PyTypeObject *>(PyExc_KeyError)));
            EXPECT_TRUE(value.getattr("__traceback__").is(Borrowed<PyAny>::from_ptr(py, original.traceback)));
            EXPECT_STREQ(err.what(), "KeyError: 'nosuch'");
            // The traceback still names the Python function that raised.
            std::string code;
            for (auto frame = err.traceback(py); !frame.is_none(); frame = frame.getattr("tb_next"))
                code = frame.getattr("tb_frame").getattr("f_code").getattr("co_name").extract<std::string>();
            EXPECT_EQ(code, function);
        }
        original.release();
        EXPECT_FALSE(PyErr_Occurred());
    }
}

TEST_F(Errors, UnnormalisedCErrorRestoresAsItCame)
{
    auto guard = attach();
    auto py = guard.py();
    auto getitem = eval(py, "err_getitem");
    auto missing = eval(py, "err_missing");
    ASSERT_EQ(PyObject_CallOneArg(getitem.as_ptr(), missing.as_ptr()), nullptr);
    RawState original = RawState::take();
    original.put_back_copy();
    PyErr err = PyErr::fetch(py);
    err.restore(py);
    RawState again = RawState::take();
    EXPECT_EQ(again.type, original.type);
    EXPECT_EQ(again.value, original.value) << "restore() normalised (or replaced) the value";
    EXPECT_EQ(again.traceback, original.traceback);
    again.release();
    // Once the instance exists, restore() hands back that instance (the one value() gave).
    auto value = err.value(py);
    err.restore(py);
    RawState normalised = RawState::take();
    EXPECT_EQ(normalised.type, PyExc_KeyError);
    EXPECT_EQ(normalised.value, value.as_ptr());
    normalised.release();
    original.release();
}

// Copies, moves and the last release on a thread that never attached: no crash, no attach, and
// every reference comes back (the deferred decrefs drain when the main thread re-attaches).
TEST_F(Errors, CopiesMovesAndDropsOnAThreadThatIsNotAttached)
{
    auto guard = attach();
    auto py = guard.py();
    auto instance = eval(py, "KeyError('off-thread')");
    RefcountWatch watch{instance.as_ptr()};
    for (int round = 0; round < 50; ++round) {
        PyErr shared = PyErr::from_value(py, Bound<PyAny>(instance));   // copied off-thread
        PyErr lonely = PyErr::from_value(py, Bound<PyAny>(instance));   // never copied
        bool attached = true;
        detach(py, [&] {
            std::thread([&, round] {
                PyErr copy = shared;
                PyErr second(copy);
                PyErr moved = std::move(second);
                copy = moved;
                PyErr last = std::move(lonely);
                attached = Python::is_attached();
                if (round % 2 == 0) {
                    PyErr gone = std::move(shared);  // the original's holder dies here too
                }
            }).join();
        });
        EXPECT_FALSE(attached);
        EXPECT_TRUE(lonely.empty());
        if (round % 2 == 1) {
            EXPECT_TRUE(shared.matches(py, PyExc_KeyError));
        }
    }
    pyo3cpp_pool_drain();
    EXPECT_EQ(watch.changes(), "") << "references lost or leaked off-thread";
}

TEST_F(Errors, EmptyAndMissingErrorsAreSafe)
{
    auto guard = attach();
    auto py = guard.py();
    PyErr err = PyErr::new_err(py, PyExc_ValueError, "v");
    PyErr moved = std::move(err);
    EXPECT_TRUE(err.empty());
    EXPECT_FALSE(err.matches(py, PyExc_ValueError));
    EXPECT_NE(std::string(err.what()).find("moved"), std::string::npos);
    err.restore(py);
    PyErr complaint = PyErr::fetch(py);
    EXPECT_TRUE(complaint.matches(py, PyExc_SystemError));
    err = moved;  // assignable again
    EXPECT_TRUE(err.matches(py, PyExc_ValueError));
    ASSERT_FALSE(PyErr_Occurred());
    PyErr nothing = PyErr::fetch(py);  // nothing was set
    EXPECT_TRUE(nothing.matches(py, PyExc_SystemError));
    PyErr not_exception = PyErr::from_value(py, eval(py, "42"));
    EXPECT_TRUE(not_exception.matches(py, PyExc_TypeError));
    EXPECT_FALSE(PyErr_Occurred());
}

// The throwing forms still throw the same PyErr, which catch handlers match as before.
TEST_F(Errors, CallStillThrows)
{
    auto guard = attach();
    auto py = guard.py();
    auto getitem = eval(py, "err_getitem");
    auto missing = eval(py, "err_missing");
    RefcountWatch watch{getitem.as_ptr(), missing.as_ptr()};
    for (int i = 0; i < 200; ++i)
        pyo3cpp_test::expect_raises(py, PyExc_KeyError, [&] { getitem.call(missing); }, "call()");
}

}  // namespace
