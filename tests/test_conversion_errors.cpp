// test_conversion_errors.cpp — convert.hpp's failure texts, one table row per failure of every
// conversion: the exception's exact type and exact message, no C++ type name in it, and the
// refcounts of the input (and of its items) unchanged afterwards. Also type_hint.hpp's texts,
// and what a rewritten exception keeps (type, traceback, original as suppressed __context__).
#include <pyo3cpp/pyo3cpp.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include "embedded_python.hpp"
#include "expect_raises.hpp"
#include "refcount_watch.hpp"

using namespace pyo3cpp;
using pyo3cpp_test::eval;

// A user type whose conversion follows the contract and declares its type name.
struct Point {
    long x, y;
};
template <> struct pyo3cpp::FromPython<Point> {
    static constexpr const char *type_name = "Point";
    static Point extract(Borrowed<PyAny> obj)
    {
        if (!PyTuple_Check(obj.as_ptr()) || PyTuple_GET_SIZE(obj.as_ptr()) != 2) {
            PyErr_Format(PyExc_TypeError, "must be Point, not %s", Py_TYPE(obj.as_ptr())->tp_name);
            throw_fetched(obj.py());
        }
        return {pyo3cpp::extract<long>(obj.cast_unchecked<PyTuple>().get_borrowed_item(0)),
                pyo3cpp::extract<long>(obj.cast_unchecked<PyTuple>().get_borrowed_item(1))};
    }
};

// A user type named through the TypeHint specialisation.
struct Colour {};
template <> struct pyo3cpp::TypeHint<Colour> {
    static std::string text() { return "Colour"; }
};

namespace {

const char *const kHelpers = R"(
class Idx:
    def __init__(self, v): self.v = v
    def __index__(self): return self.v
class RaisingIndex:
    def __index__(self): raise ValueError("bad index")
class OwnTypeError(TypeError):
    pass
class RaisingOwn:
    def __index__(self): raise OwnTypeError("mine")
SHARED = ValueError("shared")
class RaisingShared:
    def __index__(self): raise SHARED
class RaisingFloat:
    def __float__(self): raise ValueError("nope")
class BadRepr:
    def __repr__(self): raise RuntimeError("no repr")
    def __hash__(self): return 1
class BadReprStr(str):
    def __repr__(self): raise RuntimeError("no repr")
    __hash__ = str.__hash__
class IterRaises:
    def __iter__(self): raise TypeError("custom iter failure")
def gen_raises():
    yield 1
    raise ValueError("boom")
LONG_KEY = "k" * 60
VICTIMS = {}
class DeletesItsKey:
    def __index__(self):
        del VICTIMS["victim-" + "x" * 20]
        raise ValueError("gone")
)";

// Set once the helpers exist (an exception subclass defined in Python).
PyObject *PyExc_OwnTypeError = nullptr;

struct Case {
    const char *input;  // a Python expression evaluated in __main__
    void (*convert)(Borrowed<PyAny>);
    PyObject **type;  // &PyExc_TypeError, ...
    const char *message;
    const char *cpp;  // the C++ type, for the failure report
};

template <class T> void conv(Borrowed<PyAny> obj) { (void)extract<T>(obj); }

#define ROW(T, input, exc, message) Case{input, &conv<T>, &PyExc_##exc, message, #T}

using i8 = std::int8_t;
using u8 = std::uint8_t;
using i16 = std::int16_t;
using u16 = std::uint16_t;
using i32 = std::int32_t;
using u32 = std::uint32_t;
using i64 = std::int64_t;
using u64 = std::uint64_t;
using StrIntMap = std::map<std::string, int>;
using IntDoubleUMap = std::unordered_map<std::int64_t, double>;
using IntIntMap = std::map<int, int>;
using StrVecMap = std::map<std::string, std::vector<int>>;
using VecOfMaps = std::vector<std::map<std::string, int>>;
using PairIS = std::pair<int, std::string>;
using TupleIDB = std::tuple<int, double, bool>;
using VecOfPairs = std::vector<std::pair<int, int>>;
using OptVec = std::optional<std::vector<int>>;
using OptPoint = std::optional<Point>;
using VecOptInt = std::vector<std::optional<int>>;

const char *const kSurrogate =
    "'utf-8' codec can't encode character '\\ud800' in position 0: surrogates not allowed";

const Case kCases[] = {
    // ---- integers: wrong type, then above the maximum, then below the minimum, per width
    ROW(i8, "1.5", TypeError, "must be int, not float"),
    ROW(i8, "'7'", TypeError, "must be int, not str"),
    ROW(i8, "None", TypeError, "must be int, not None"),
    ROW(i8, "128", OverflowError, "must be in range(-128, 128), not 128"),
    ROW(i8, "-129", OverflowError, "must be in range(-128, 128), not -129"),
    ROW(u8, "[1]", TypeError, "must be int, not list"),
    ROW(u8, "256", OverflowError, "must be in range(0, 256), not 256"),
    ROW(u8, "-1", OverflowError, "must be in range(0, 256), not -1"),
    ROW(u8, "Idx(300)", OverflowError, "must be in range(0, 256), not 300"),
    ROW(i16, "1.0", TypeError, "must be int, not float"),
    ROW(i16, "32768", OverflowError, "must be in range(-32768, 32768), not 32768"),
    ROW(i16, "-32769", OverflowError, "must be in range(-32768, 32768), not -32769"),
    ROW(u16, "b'1'", TypeError, "must be int, not bytes"),
    ROW(u16, "65536", OverflowError, "must be in range(0, 65536), not 65536"),
    ROW(u16, "-5", OverflowError, "must be in range(0, 65536), not -5"),
    ROW(i32, "'x'", TypeError, "must be int, not str"),
    ROW(i32, "2**31", OverflowError, "must be in range(-2147483648, 2147483648), not 2147483648"),
    ROW(i32, "-2**31-1", OverflowError,
        "must be in range(-2147483648, 2147483648), not -2147483649"),
    ROW(u32, "None", TypeError, "must be int, not None"),
    ROW(u32, "2**32", OverflowError, "must be in range(0, 4294967296), not 4294967296"),
    ROW(u32, "-1", OverflowError, "must be in range(0, 4294967296), not -1"),
    ROW(i64, "2.5", TypeError, "must be int, not float"),
    ROW(i64, "2**63", OverflowError,
        "must be in range(-9223372036854775808, 9223372036854775808), not 9223372036854775808"),
    ROW(i64, "-2**63-1", OverflowError,
        "must be in range(-9223372036854775808, 9223372036854775808), not -9223372036854775809"),
    ROW(i64, "2**200", OverflowError,
        "must be in range(-9223372036854775808, 9223372036854775808), not a 201-bit int"),
    ROW(i64, "-2**200", OverflowError,
        "must be in range(-9223372036854775808, 9223372036854775808), not a negative 201-bit int"),
    ROW(u64, "'1'", TypeError, "must be int, not str"),
    ROW(u64, "2**64", OverflowError,
        "must be in range(0, 18446744073709551616), not 18446744073709551616"),
    ROW(u64, "-1", OverflowError, "must be in range(0, 18446744073709551616), not -1"),
    ROW(u64, "-2**100", OverflowError,
        "must be in range(0, 18446744073709551616), not -1267650600228229401496703205376"),
    ROW(u64, "2**129", OverflowError, "must be in range(0, 18446744073709551616), not a 130-bit int"),
    ROW(long, "1j", TypeError, "must be int, not complex"),
    ROW(unsigned long, "-1", OverflowError, "must be in range(0, 18446744073709551616), not -1"),
    ROW(long long, "2**63", OverflowError,
        "must be in range(-9223372036854775808, 9223372036854775808), not 9223372036854775808"),
    ROW(short, "40000", OverflowError, "must be in range(-32768, 32768), not 40000"),
    ROW(unsigned, "-1", OverflowError, "must be in range(0, 4294967296), not -1"),
    ROW(std::size_t, "-1", OverflowError, "must be in range(0, 18446744073709551616), not -1"),
    // __index__ raising: its own error, as it is.
    ROW(int, "RaisingIndex()", ValueError, "bad index"),

    // ---- floating point
    ROW(double, "'1.5'", TypeError, "must be float, not str"),
    ROW(double, "None", TypeError, "must be float, not None"),
    ROW(double, "10**400", OverflowError, "int too large to convert to float"),
    ROW(double, "RaisingFloat()", ValueError, "nope"),
    ROW(float, "[]", TypeError, "must be float, not list"),

    // ---- bool
    ROW(bool, "1", TypeError, "must be bool, not int"),
    ROW(bool, "None", TypeError, "must be bool, not None"),
    ROW(bool, "'True'", TypeError, "must be bool, not str"),

    // ---- text
    ROW(std::string, "1", TypeError, "must be str, not int"),
    ROW(std::string, "b'x'", TypeError, "must be str, not bytes"),
    ROW(std::string, "'\\ud800'", UnicodeEncodeError, kSurrogate),
    ROW(std::string_view, "None", TypeError, "must be str, not None"),
    ROW(std::string_view, "bytearray(b'x')", TypeError, "must be str, not bytearray"),
    ROW(std::string_view, "'a\\ud800'", UnicodeEncodeError,
        "'utf-8' codec can't encode character '\\ud800' in position 1: surrogates not allowed"),

    // ---- optional
    ROW(std::optional<int>, "'x'", TypeError, "must be int or None, not str"),
    ROW(std::optional<u8>, "300", OverflowError, "must be in range(0, 256), not 300"),
    ROW(std::optional<std::string>, "1.0", TypeError, "must be str or None, not float"),
    ROW(OptVec, "'abc'", TypeError, "must be list[int] or None, not str"),
    ROW(OptVec, "[1, 'a']", TypeError, "item 1 must be int, not str"),
    ROW(OptPoint, "3", TypeError, "must be Point or None, not int"),

    // ---- vector: not iterable, str, a bad item (list, tuple, iterator), nested
    ROW(std::vector<int>, "5", TypeError, "must be list[int], not int"),
    ROW(std::vector<int>, "None", TypeError, "must be list[int], not None"),
    ROW(std::vector<int>, "'abc'", TypeError, "must be list[int], not str"),
    ROW(std::vector<std::string>, "'abc'", TypeError, "must be list[str], not str"),
    ROW(std::vector<int>, "[1, 2, 'x']", TypeError, "item 2 must be int, not str"),
    ROW(std::vector<int>, "[None]", TypeError, "item 0 must be int, not None"),
    ROW(std::vector<int>, "(1, 'x')", TypeError, "item 1 must be int, not str"),
    ROW(std::vector<int>, "iter([1, None])", TypeError, "item 1 must be int, not None"),
    ROW(std::vector<u8>, "[1, 300]", OverflowError, "item 1 must be in range(0, 256), not 300"),
    ROW(std::vector<i64>, "(x for x in [1, 2**70])", OverflowError,
        "item 1 must be in range(-9223372036854775808, 9223372036854775808), "
        "not 1180591620717411303424"),
    ROW(std::vector<std::string>, "['a', b'b']", TypeError, "item 1 must be str, not bytes"),
    ROW(std::vector<std::string>, "['a', '\\ud800']", UnicodeEncodeError, kSurrogate),
    ROW(std::vector<std::vector<int>>, "[[1], [2, 'x']]", TypeError,
        "item 1: item 1 must be int, not str"),
    ROW(std::vector<std::vector<int>>, "[[1], 5]", TypeError, "item 1 must be list[int], not int"),
    ROW(VecOptInt, "[1, None, 'x']", TypeError, "item 2 must be int or None, not str"),
    ROW(VecOfPairs, "[(1, 2), (3,)]", ValueError,
        "item 1 must be a tuple of length 2, not length 1"),
    ROW(VecOfPairs, "[(1, 2), (3, 'x')]", TypeError, "item 1: item 1 must be int, not str"),
    ROW(std::vector<Point>, "[(1, 2), 7]", TypeError, "item 1 must be Point, not int"),
    ROW(std::vector<int>, "[RaisingIndex()]", ValueError, "item 0: bad index"),
    ROW(std::vector<int>, "[RaisingOwn()]", OwnTypeError, "mine"),
    // Iteration's own errors are not about an item: as they are.
    ROW(std::vector<int>, "gen_raises()", ValueError, "boom"),
    ROW(std::vector<int>, "IterRaises()", TypeError, "custom iter failure"),

    // ---- maps: not a dict, bad key, bad value, nested
    ROW(StrIntMap, "[1]", TypeError, "must be dict[str, int], not list"),
    ROW(StrIntMap, "None", TypeError, "must be dict[str, int], not None"),
    ROW(StrIntMap, "{1: 2}", TypeError, "key must be str, not int"),
    ROW(StrIntMap, "{'a': 'x'}", TypeError, "value for key 'a' must be int, not str"),
    ROW(StrIntMap, "{'a': 1, 'b': 2**40}", OverflowError,
        "value for key 'b' must be in range(-2147483648, 2147483648), not 1099511627776"),
    ROW(StrIntMap, "{LONG_KEY: None}", TypeError,
        "value for key 'kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk... must be int, not None"),
    ROW(StrIntMap, "{'\\u00e9' * 30: None}", TypeError,
        "value for key '\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9"
        "\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9... must be int, not None"),
    ROW(StrIntMap, "{BadReprStr('a'): 'x'}", TypeError,
        "value for a key of type BadReprStr must be int, not str"),
    ROW(IntIntMap, "{'a': 1}", TypeError, "key must be int, not str"),
    ROW(IntIntMap, "{BadRepr(): 'x'}", TypeError, "key must be int, not BadRepr"),
    ROW(IntDoubleUMap, "{1: 'x'}", TypeError, "value for key 1 must be float, not str"),
    ROW(IntDoubleUMap, "{2**70: 1.0}", OverflowError,
        "key must be in range(-9223372036854775808, 9223372036854775808), "
        "not 1180591620717411303424"),
    ROW(IntDoubleUMap, "(1, 2)", TypeError, "must be dict[int, float], not tuple"),
    ROW(StrVecMap, "{'a': [1, 'x']}", TypeError, "value for key 'a': item 1 must be int, not str"),
    ROW(StrVecMap, "{'a': 3}", TypeError, "value for key 'a' must be list[int], not int"),
    ROW(VecOfMaps, "[{}, {1: 2}]", TypeError, "item 1: key must be str, not int"),
    ROW(VecOfMaps, "[{'z': 'q'}]", TypeError, "item 0: value for key 'z' must be int, not str"),

    // ---- pair / tuple: wrong type, wrong length, bad element
    ROW(PairIS, "[1, 'a']", TypeError, "must be tuple[int, str], not list"),
    ROW(PairIS, "(1,)", ValueError, "must be a tuple of length 2, not length 1"),
    ROW(PairIS, "(1, 'a', 2)", ValueError, "must be a tuple of length 2, not length 3"),
    ROW(PairIS, "(1, 2)", TypeError, "item 1 must be str, not int"),
    ROW(PairIS, "('a', 'b')", TypeError, "item 0 must be int, not str"),
    ROW(TupleIDB, "None", TypeError, "must be tuple[int, float, bool], not None"),
    ROW(TupleIDB, "(1, 2.0)", ValueError, "must be a tuple of length 3, not length 2"),
    ROW(TupleIDB, "(1, 2.0, 1)", TypeError, "item 2 must be bool, not int"),
    ROW(TupleIDB, "(1, 'x', True)", TypeError, "item 1 must be float, not str"),
    ROW(std::tuple<>, "(1,)", ValueError, "must be a tuple of length 0, not length 1"),
    ROW(std::tuple<u8>, "(256,)", OverflowError, "item 0 must be in range(0, 256), not 256"),

    // ---- Python objects: checked casts
    ROW(Borrowed<PyDict>, "[]", TypeError, "must be dict, not list"),
    ROW(Bound<PyList>, "{}", TypeError, "must be list, not dict"),
    ROW(Py<PyString>, "1", TypeError, "must be str, not int"),
    ROW(Bound<PyTuple>, "[1]", TypeError, "must be tuple, not list"),
    ROW(Borrowed<PyInt>, "1.0", TypeError, "must be int, not float"),
    ROW(Py<PyFloat>, "1", TypeError, "must be float, not int"),
    ROW(Bound<PyBool>, "0", TypeError, "must be bool, not int"),
    ROW(Bound<PyBytes>, "'s'", TypeError, "must be bytes, not str"),
    ROW(Borrowed<PyNone>, "0", TypeError, "must be None, not int"),
    ROW(Bound<PyType>, "1", TypeError, "must be type, not int"),
    ROW(Bound<PySequence>, "1", TypeError, "must be collections.abc.Sequence, not int"),
    ROW(Py<PyMapping>, "1", TypeError, "must be collections.abc.Mapping, not int"),
    ROW(std::vector<Bound<PyString>>, "['a', 1]", TypeError, "item 1 must be str, not int"),
};

#undef ROW

std::string str_of(Python py, const Bound<PyAny> &obj)
{
    auto text = Bound<PyAny>::from_owned_ptr(py, PyObject_Str(obj.as_ptr()));
    return std::string(text.extract<std::string_view>());
}

// The input and, for a list, tuple or dict, its items (keys and values). None, True and False
// are left out: the error machinery hands them around (tracebacks, __cause__) on its own.
// Each object once (a second watch would count the first one's reference as a change).
void watch_input(pyo3cpp_test::RefcountWatch &watch, PyObject *input)
{
    std::vector<PyObject *> seen;
    auto add = [&](PyObject *o) {
        if (o == Py_None || o == Py_True || o == Py_False) return;
        for (PyObject *s : seen)
            if (s == o) return;
        seen.push_back(o);
        watch.add(o);
    };
    add(input);
    if (PyList_Check(input)) {
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(input); ++i) add(PyList_GET_ITEM(input, i));
    } else if (PyTuple_Check(input)) {
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(input); ++i) add(PyTuple_GET_ITEM(input, i));
    } else if (PyDict_Check(input)) {
        Py_ssize_t pos = 0;
        PyObject *key, *value;
        while (PyDict_Next(input, &pos, &key, &value)) {
            add(key);
            add(value);
        }
    }
}

class ConversionErrors : public ::testing::Test {
protected:
    static void SetUpTestSuite()
    {
        auto guard = attach();
        ASSERT_TRUE(pyo3cpp_test::run_python(kHelpers));
    }
};

TEST_F(ConversionErrors, EveryConversionFailureText)
{
    auto guard = attach();
    auto py = guard.py();
    PyExc_OwnTypeError = eval(py, "OwnTypeError").into_ptr();
    for (const Case &row : kCases) {
        SCOPED_TRACE(std::string(row.cpp) + " from " + row.input);
        auto input = eval(py, row.input);
        PyObject *expected_type = *row.type;
        {
            pyo3cpp_test::RefcountWatch watch{};
            watch_input(watch, input.as_ptr());
            try {
                row.convert(input.as_borrowed());
                ADD_FAILURE() << "no exception";
            } catch (const PyErr &err) {
                EXPECT_EQ(err.type(py).as_ptr(), expected_type)
                    << "got " << err.type(py).getattr("__name__").extract<std::string>();
                const std::string message = str_of(py, err.value(py));
                EXPECT_EQ(message, row.message);
                for (const char *cpp_word : {"std::", "C long", "long long", "unsigned", "C++",
                                             "vector", "size_t", "int64", "uint"})
                    EXPECT_EQ(message.find(cpp_word), std::string::npos)
                        << "C++ word '" << cpp_word << "' in: " << message;
            }
            EXPECT_FALSE(PyErr_Occurred());
        }
    }
    Py_CLEAR(PyExc_OwnTypeError);
}

// Each row must fail on the input as given: the same conversions succeed on good input (so a
// row cannot pass because the conversion rejects everything).
TEST_F(ConversionErrors, TheSameConversionsAcceptGoodInput)
{
    auto guard = attach();
    auto py = guard.py();
    EXPECT_EQ(extract<u8>(eval(py, "255")), 255);
    EXPECT_EQ(extract<i8>(eval(py, "-128")), -128);
    EXPECT_EQ(extract<u8>(eval(py, "Idx(7)")), 7);
    EXPECT_EQ(extract<u64>(eval(py, "2**64-1")), UINT64_MAX);
    EXPECT_EQ(extract<i64>(eval(py, "-2**63")), INT64_MIN);
    EXPECT_EQ(extract<double>(eval(py, "3")), 3.0);
    EXPECT_EQ((extract<std::optional<int>>(eval(py, "None"))), std::nullopt);
    EXPECT_EQ((extract<std::vector<int>>(eval(py, "(x for x in [1, 2])"))), (std::vector<int>{1, 2}));
    EXPECT_EQ((extract<StrVecMap>(eval(py, "{'a': [1, 2]}"))), (StrVecMap{{"a", {1, 2}}}));
    EXPECT_EQ((extract<PairIS>(eval(py, "(1, 'a')"))), (PairIS{1, "a"}));
    EXPECT_EQ((extract<VecOfMaps>(eval(py, "[{}, {'b': 2}]"))).at(1).at("b"), 2);
    EXPECT_EQ((extract<std::vector<Point>>(eval(py, "[(1, 2)]"))).at(0).y, 2);
}

// A rewritten exception is a new instance of the same type, with the original traceback and
// the original as its suppressed __context__; a shared exception instance is never modified.
TEST_F(ConversionErrors, ContextKeepsTracebackAndOriginal)
{
    auto guard = attach();
    auto py = guard.py();
    auto input = eval(py, "[RaisingIndex()]");
    try {
        (void)extract<std::vector<int>>(input);
        FAIL() << "no exception";
    } catch (const PyErr &err) {
        auto value = err.value(py);
        EXPECT_EQ(str_of(py, value), "item 0: bad index");
        EXPECT_NE(err.traceback(py).as_ptr(), Py_None) << "the __index__ frame is kept";
        EXPECT_TRUE(value.getattr("__suppress_context__").is_truthy());
        auto context = value.getattr("__context__");
        ASSERT_TRUE(PyExceptionInstance_Check(context.as_ptr()));
        EXPECT_EQ(str_of(py, context), "bad index");
        EXPECT_EQ(Py_TYPE(context.as_ptr()), reinterpret_cast<PyTypeObject *>(PyExc_ValueError));
    }
    for (int round = 0; round < 3; ++round) {
        pyo3cpp_test::expect_raises(py, PyExc_ValueError, [&] {
            (void)extract<std::vector<int>>(eval(py, "[RaisingShared()]"));
        });
    }
    EXPECT_EQ(str_of(py, eval(py, "SHARED")), "shared") << "the shared instance was modified";
    try {
        (void)extract<std::vector<std::vector<int>>>(eval(py, "[[RaisingShared()]]"));
        FAIL() << "no exception";
    } catch (const PyErr &err) {
        EXPECT_EQ(str_of(py, err.value(py)), "item 0: item 0: shared");
    }
}

// The failing item's key is shown even when converting its value removed it from the dict (the
// conversion holds it), and its refcount is back where it was afterwards.
TEST_F(ConversionErrors, KeyShownAfterTheValueRemovedIt)
{
    auto guard = attach();
    auto py = guard.py();
    auto key = eval(py, "'victim-' + 'x' * 20");  // a fresh str, not shared with the code
    auto victims = eval(py, "VICTIMS");
    ASSERT_EQ(PyDict_SetItem(victims.as_ptr(), key.as_ptr(), eval(py, "DeletesItsKey()").as_ptr()), 0);
    const Py_ssize_t before = Py_REFCNT(key.as_ptr()) - 1;  // minus the dict's reference
    try {
        (void)extract<std::map<std::string, int>>(victims);
        FAIL() << "no exception";
    } catch (const PyErr &err) {
        EXPECT_TRUE(err.matches(py, PyExc_ValueError));
        EXPECT_EQ(str_of(py, err.value(py)), "value for key 'victim-xxxxxxxxxxxxxxxxxxxx': gone");
    }
    EXPECT_EQ(PyDict_Size(victims.as_ptr()), 0);
    EXPECT_EQ(Py_REFCNT(key.as_ptr()), before);
}

// Failures inside a critical section and on many items leak nothing over many rounds (the
// table checks one round per input; this checks a list whose every item fails, repeatedly).
TEST_F(ConversionErrors, RepeatedFailuresLeakNothing)
{
    auto guard = attach();
    auto py = guard.py();
    auto bad = eval(py, "[object() for _ in range(3)] + ['x' * 100]");
    auto key = eval(py, "'a key that is rather long, longer than forty bytes'");
    auto dict = Bound<PyAny>::from_owned_ptr(py, PyDict_New());
    ASSERT_EQ(PyDict_SetItem(dict.as_ptr(), key.as_ptr(), bad.as_ptr()), 0);
    auto nested = eval(py, "([RaisingIndex()], {'k' * 50: [2**70]})");
    auto rounds = [&](int count) {
        for (int round = 0; round < count; ++round) {
            pyo3cpp_test::expect_raises(py, PyExc_TypeError,
                                        [&] { (void)extract<std::vector<int>>(bad); });
            pyo3cpp_test::expect_raises(
                py, PyExc_TypeError, [&] { (void)extract<std::map<std::string, std::vector<int>>>(dict); });
            pyo3cpp_test::expect_raises(
                py, PyExc_TypeError, [&] { (void)extract<std::optional<std::vector<int>>>(key); });
            pyo3cpp_test::expect_raises(py, PyExc_ValueError, [&] {
                (void)extract<std::pair<std::vector<int>, std::map<std::string, std::vector<u8>>>>(nested);
            });
            pyo3cpp_test::expect_raises(py, PyExc_OverflowError, [&] {
                (void)extract<std::pair<std::vector<double>, std::map<std::string, std::vector<u8>>>>(
                    eval(py, "([1.0], {'k' * 50: [2**70]})"));
            });
        }
    };
    rounds(200);  // warm-up: caches, free lists, interned names
    auto blocks = [&] {
        import(py, "gc").call_method<"collect">();
        return extract<long>(import(py, "sys").call_method<"getallocatedblocks">());
    };
    const long before = blocks();  // after a collection: the inputs' code objects are gone
    pyo3cpp_test::RefcountWatch watch{bad.as_ptr(), key.as_ptr(), dict.as_ptr(), nested.as_ptr()};
    rounds(400);
    const long after = blocks();
    // Leaking anything per failure (an exception, its args, a message str) grows by 2,000 or
    // more (5 failures a round); what remains after the warm-up is allocator noise (~400 seen).
    if (before > 0) {
        EXPECT_LT(after - before, 1000) << "blocks " << before << " -> " << after;
    }
}

TEST(TypeHint, BuiltInTable)
{
    EXPECT_EQ(type_hint<int>(), "int");
    EXPECT_EQ(type_hint<const unsigned char &>(), "int");
    EXPECT_EQ(type_hint<char>(), "int");
    EXPECT_EQ(type_hint<std::uint64_t>(), "int");
    EXPECT_EQ(type_hint<double>(), "float");
    EXPECT_EQ(type_hint<float>(), "float");
    EXPECT_EQ(type_hint<bool>(), "bool");
    EXPECT_EQ(type_hint<std::string>(), "str");
    EXPECT_EQ(type_hint<const std::string &>(), "str");
    EXPECT_EQ(type_hint<std::string_view>(), "str");
    EXPECT_EQ(type_hint<const char *>(), "str");
    EXPECT_EQ(type_hint<char[6]>(), "str");
    EXPECT_EQ(type_hint<void>(), "None");
    EXPECT_EQ(type_hint<std::nullopt_t>(), "None");
    EXPECT_EQ(type_hint<std::vector<long>>(), "list[int]");
    EXPECT_EQ(type_hint<std::vector<std::vector<std::string>>>(), "list[list[str]]");
    EXPECT_EQ((type_hint<std::map<std::string, double>>()), "dict[str, float]");
    EXPECT_EQ((type_hint<std::unordered_map<int, std::vector<bool>>>()), "dict[int, list[bool]]");
    EXPECT_EQ((type_hint<std::pair<int, std::string>>()), "tuple[int, str]");
    EXPECT_EQ((type_hint<std::tuple<int, double, bool>>()), "tuple[int, float, bool]");
    EXPECT_EQ(type_hint<std::tuple<>>(), "tuple[()]");
    EXPECT_EQ(type_hint<std::optional<int>>(), "int | None");
    EXPECT_EQ(type_hint<std::vector<std::optional<int>>>(), "list[int | None]");
    EXPECT_EQ((type_hint<std::optional<std::pair<int, bool>>>()), "tuple[int, bool] | None");
    EXPECT_EQ(type_hint<Borrowed<PyAny>>(), "object");
    EXPECT_EQ(type_hint<Bound<PyAny>>(), "object");
    EXPECT_EQ(type_hint<Py<PyAny>>(), "object");
    EXPECT_EQ(type_hint<Bound<PyList>>(), "list");
    EXPECT_EQ(type_hint<Py<PyDict>>(), "dict");
    EXPECT_EQ(type_hint<Borrowed<PyTuple>>(), "tuple");
    EXPECT_EQ(type_hint<Bound<PyString>>(), "str");
    EXPECT_EQ(type_hint<Bound<PyBytes>>(), "bytes");
    EXPECT_EQ(type_hint<Bound<PyInt>>(), "int");
    EXPECT_EQ(type_hint<Bound<PyFloat>>(), "float");
    EXPECT_EQ(type_hint<Bound<PyBool>>(), "bool");
    EXPECT_EQ(type_hint<Bound<PyNone>>(), "None");
    EXPECT_EQ(type_hint<Bound<PyType>>(), "type");
    EXPECT_EQ(type_hint<Bound<PyModule>>(), "types.ModuleType");
    EXPECT_EQ(type_hint<Bound<PyIterator>>(), "collections.abc.Iterator");
    EXPECT_EQ(type_hint<Bound<PySequence>>(), "collections.abc.Sequence");
    EXPECT_EQ(type_hint<Bound<PyMapping>>(), "collections.abc.Mapping");
    EXPECT_EQ(type_hint<std::vector<Bound<PyAny>>>(), "list[object]");
}

struct Unknown {};
struct Named {};

}  // namespace

template <> struct pyo3cpp::IntoPython<Named> {
    static constexpr const char *type_name = "Named";
    static Bound<PyAny> convert(Python py, const Named &) { return py.none(); }
};

namespace {

TEST(TypeHint, ExtensionPoints)
{
    EXPECT_EQ(type_hint<Unknown>(), "object");
    EXPECT_EQ(type_hint<Point>(), "Point") << "FromPython<T>::type_name";
    EXPECT_EQ(type_hint<Named>(), "Named") << "IntoPython<T>::type_name";
    EXPECT_EQ(type_hint<Colour>(), "Colour") << "TypeHint<T> specialisation";
    EXPECT_EQ((type_hint<std::map<std::string, std::vector<Point>>>()), "dict[str, list[Point]]");
    EXPECT_EQ(type_hint<std::optional<Colour>>(), "Colour | None");
    EXPECT_STREQ(type_hint_c_str<std::vector<Point>>(), "list[Point]");
    EXPECT_EQ(type_hint_c_str<std::vector<Point>>(), type_hint_c_str<const std::vector<Point> &>())
        << "one stored text per type, whatever the qualifiers";
}

}  // namespace
