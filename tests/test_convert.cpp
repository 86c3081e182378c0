// test_convert.cpp — convert.hpp: every standard conversion both ways, overflow at every
// integer width boundary, strictness (bool, str), containers, passthrough and a user type.
#include <pyo3cpp/pyo3cpp.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <unordered_map>

#include "embedded_python.hpp"
#include "expect_raises.hpp"

using namespace pyo3cpp;
using pyo3cpp_test::eval;
using pyo3cpp_test::expect_raises;
using pyo3cpp_test::refcnt;

namespace {



// min, max round-trip; min-1 and max+1 are OverflowError (computed in Python, so they exist
// even for 64-bit types).
template <class T> void check_width(Python py)
{
    SCOPED_TRACE(detail::integer_name<T>());
    constexpr T lo = std::numeric_limits<T>::min(), hi = std::numeric_limits<T>::max();
    EXPECT_EQ(extract<T>(into_py(py, lo)), lo);
    EXPECT_EQ(extract<T>(into_py(py, hi)), hi);
    EXPECT_EQ(extract<T>(into_py(py, T{0})), T{0});
    auto one = into_py(py, 1);
    auto below = into_py(py, lo).template call_method<"__sub__">(one);
    auto above = into_py(py, hi).template call_method<"__add__">(one);
    expect_raises(py, PyExc_OverflowError, [&] { extract<T>(below); }, "min - 1");
    expect_raises(py, PyExc_OverflowError, [&] { extract<T>(above); }, "max + 1");
    expect_raises(py, PyExc_OverflowError, [&] { extract<T>(eval(py, "2**200")); }, "huge");
    expect_raises(py, PyExc_OverflowError, [&] { extract<T>(eval(py, "-2**200")); }, "-huge");
    expect_raises(py, PyExc_TypeError, [&] { extract<T>(eval(py, "1.0")); }, "float");
    expect_raises(py, PyExc_TypeError, [&] { extract<T>(eval(py, "'1'")); }, "str");
    EXPECT_EQ(extract<T>(eval(py, "True")), T{1}) << "bool is an int";
    ASSERT_TRUE(pyo3cpp_test::run_python(
        "class Indexable:\n    def __index__(self):\n        return 7\n"));
    auto main_dict = import(py, "__main__").dict();
    auto indexable = main_dict.get_item("Indexable").value().call();
    EXPECT_EQ(extract<T>(indexable), T{7}) << "__index__";
}

TEST(Convert, IntegersOfEveryWidthOverflowAtEachBoundary)
{
    auto guard = attach();
    auto py = guard.py();
    check_width<std::int8_t>(py);
    check_width<std::uint8_t>(py);
    check_width<std::int16_t>(py);
    check_width<std::uint16_t>(py);
    check_width<std::int32_t>(py);
    check_width<std::uint32_t>(py);
    check_width<std::int64_t>(py);
    check_width<std::uint64_t>(py);
    check_width<long>(py);
    check_width<unsigned long>(py);
    check_width<long long>(py);
    check_width<unsigned long long>(py);
    check_width<short>(py);
    check_width<char>(py);
    check_width<unsigned>(py);
}

TEST(Convert, FloatsBoolAndStrictness)
{
    auto guard = attach();
    auto py = guard.py();
    EXPECT_EQ(extract<double>(into_py(py, 1.5)), 1.5);
    EXPECT_EQ(extract<double>(into_py(py, 3)), 3.0) << "int into double, as PyO3";
    EXPECT_EQ(extract<float>(into_py(py, 0.25f)), 0.25f);
    expect_raises(py, PyExc_TypeError, [&] { extract<double>(into_py(py, "x")); }, "str to double");
    EXPECT_TRUE(extract<bool>(into_py(py, true)));
    EXPECT_FALSE(extract<bool>(into_py(py, false)));
    expect_raises(py, PyExc_TypeError, [&] { extract<bool>(into_py(py, 1)); }, "int to bool");
    expect_raises(py, PyExc_TypeError, [&] { extract<bool>(py.none()); }, "None to bool");
    EXPECT_TRUE(into_py(py, true).is(Bound<PyAny>::from_borrowed_ptr(py, Py_True)));
}

TEST(Convert, StringsAreUtf8BothWays)
{
    auto guard = attach();
    auto py = guard.py();
    const std::string text = "gr\xc3\xbc\xc3\x9f \xf0\x9f\x90\x8d";
    EXPECT_EQ(extract<std::string>(into_py(py, text)), text);
    auto obj = into_py(py, std::string_view(text));
    EXPECT_EQ(extract<std::string_view>(obj), text);
    EXPECT_EQ(extract<std::string>(into_py(py, "literal")), "literal");
    const char *c_string = "c string";
    EXPECT_EQ(extract<std::string>(into_py(py, c_string)), "c string");
    expect_raises(py, PyExc_UnicodeDecodeError, [&] { into_py(py, std::string("\xc3")); }, "bad utf8");
    expect_raises(py, PyExc_ValueError, [&] { into_py(py, static_cast<const char *>(nullptr)); },
                  "NULL C string");
    expect_raises(py, PyExc_TypeError, [&] { extract<std::string>(into_py(py, 5)); }, "int to str");
    expect_raises(py, PyExc_TypeError, [&] { extract<std::string>(eval(py, "b'x'")); }, "bytes to str");
    expect_raises(py, PyExc_UnicodeEncodeError, [&] { extract<std::string>(eval(py, "'\\udc80'")); },
                  "lone surrogate");
    std::string embedded("a\0b", 3);
    EXPECT_EQ(extract<std::string>(into_py(py, embedded)), embedded);
}

TEST(Convert, OptionalVectorPairTupleMaps)
{
    auto guard = attach();
    auto py = guard.py();
    EXPECT_EQ(extract<std::optional<int>>(py.none()), std::nullopt);
    EXPECT_EQ(extract<std::optional<int>>(into_py(py, 4)), 4);
    EXPECT_TRUE(into_py(py, std::optional<int>()).is_none());
    EXPECT_EQ(into_py(py, std::optional<int>(3)).extract<int>(), 3);
    expect_raises(py, PyExc_TypeError, [&] { extract<std::optional<int>>(into_py(py, "x")); }, "opt");

    const std::vector<int> numbers{1, 2, 3};
    auto list = into_py(py, numbers);
    EXPECT_TRUE(list.is_instance_of<PyList>());
    EXPECT_EQ(extract<std::vector<int>>(list), numbers);
    EXPECT_EQ(extract<std::vector<int>>(eval(py, "(1, 2, 3)")), numbers);
    EXPECT_EQ(extract<std::vector<int>>(eval(py, "iter(range(1, 4))")), numbers);
    expect_raises(py, PyExc_TypeError, [&] { extract<std::vector<std::string>>(into_py(py, "abc")); },
                  "str to vector");
    expect_raises(py, PyExc_TypeError, [&] { extract<std::vector<int>>(into_py(py, 5)); }, "int to vector");
    expect_raises(py, PyExc_OverflowError, [&] { extract<std::vector<std::uint8_t>>(eval(py, "[1, 256]")); },
                  "element overflow");

    auto pair = into_py(py, std::pair<int, std::string>(1, "one"));
    EXPECT_TRUE(pair.is_instance_of<PyTuple>());
    EXPECT_EQ((extract<std::pair<int, std::string>>(pair)), (std::pair<int, std::string>(1, "one")));
    auto triple = into_py(py, std::tuple<int, double, std::string>(1, 2.5, "x"));
    EXPECT_EQ((extract<std::tuple<int, double, std::string>>(triple)),
              (std::tuple<int, double, std::string>(1, 2.5, "x")));
    expect_raises(py, PyExc_ValueError, [&] { extract<std::pair<int, int>>(triple); }, "length");
    expect_raises(py, PyExc_TypeError, [&] { extract<std::pair<int, int>>(into_py(py, numbers)); },
                  "list is not a tuple");
    expect_raises(py, PyExc_TypeError, [&] { extract<std::tuple<int, int, int>>(triple); }, "element type");

    const std::map<std::string, int> ordered{{"a", 1}, {"b", 2}};
    auto dict = into_py(py, ordered);
    EXPECT_TRUE(dict.is_instance_of<PyDict>());
    EXPECT_EQ((extract<std::map<std::string, int>>(dict)), ordered);
    const std::unordered_map<int, std::vector<int>> nested{{1, {1}}, {2, {2, 2}}};
    EXPECT_EQ((extract<std::unordered_map<int, std::vector<int>>>(into_py(py, nested))), nested);
    expect_raises(py, PyExc_TypeError, [&] { extract<std::map<int, int>>(into_py(py, numbers)); }, "not dict");
    expect_raises(py, PyExc_TypeError, [&] { extract<std::map<int, int>>(dict); }, "key type");
}

TEST(Convert, PythonObjectsPassThroughWithExactRefcounts)
{
    auto guard = attach();
    auto py = guard.py();
    auto list = new_list(py);
    const Py_ssize_t start = refcnt(list.as_ptr());
    {
        auto as_bound = extract<Bound<PyList>>(list);
        auto as_py = extract<Py<PyList>>(list);
        auto as_view = extract<Borrowed<PyList>>(list);
        EXPECT_TRUE(as_view.is(list));
        EXPECT_EQ(refcnt(list.as_ptr()), start + 2);
        auto back = into_py(py, as_py);
        EXPECT_TRUE(back.is(list));
        EXPECT_EQ(refcnt(list.as_ptr()), start + 3);
    }
    EXPECT_EQ(refcnt(list.as_ptr()), start);
    expect_raises(py, PyExc_TypeError, [&] { extract<Bound<PyDict>>(list); }, "wrong tag");
    Py<PyAny> empty;
    expect_raises(py, PyExc_TypeError, [&] { into_py(py, empty); }, "null Py");
}

}  // namespace

// ---- a user type, converted both ways through the extension points
struct Point {
    double x, y;
    bool operator==(const Point &) const = default;
};

template <> struct pyo3cpp::FromPython<Point> {
    static Point extract(Borrowed<PyAny> obj)
    {
        auto [x, y] = pyo3cpp::extract<std::pair<double, double>>(obj);
        return Point{x, y};
    }
};
template <> struct pyo3cpp::IntoPython<Point> {
    static Bound<PyAny> convert(Python py, const Point &p)
    {
        return Bound<PyAny>(make_tuple(py, p.x, p.y));
    }
};

namespace {

TEST(Convert, UserTypeThroughTheTraitsAndInContainersAndCalls)
{
    auto guard = attach();
    auto py = guard.py();
    static_assert(Extractable<Point> && IntoPy<Point>);
    const Point p{1.5, -2.0};
    auto obj = into_py(py, p);
    EXPECT_EQ(extract<Point>(obj), p);
    const std::vector<Point> points{{1, 2}, {3, 4}};
    EXPECT_EQ(extract<std::vector<Point>>(into_py(py, points)), points);
    auto repr = import(py, "builtins").getattr("repr").call(p);
    EXPECT_EQ(repr.extract<std::string>(), "(1.5, -2.0)");
    expect_raises(py, PyExc_ValueError, [&] { extract<Point>(into_py(py, std::tuple<int>(1))); }, "bad point");
}

}  // namespace
