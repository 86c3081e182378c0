// test_view_scope.cpp — view_scope.hpp: which types hold views, the compile-time choice of which
// calls open a scope, ViewScope's references (taken per element, released at its end, nested
// scopes), and the RuntimeError of a container of views converted with no scope open.
#include <pyo3cpp/pyo3cpp.hpp>

#include <gtest/gtest.h>

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

using namespace pyo3cpp;
using pyo3cpp_test::eval;
using pyo3cpp_test::expect_raises;
using pyo3cpp_test::refcnt;

namespace {

struct Span {  // a user's view type
    const char *data;
};
}  // namespace
template <> struct pyo3cpp::FromPython<Span> {
    static constexpr bool is_view = true;
    static Span extract(Borrowed<PyAny> obj) { return Span{PyUnicode_AsUTF8(obj.as_ptr())}; }
};

namespace {

// Decided at compile time: the calls that pay for a scope are exactly these.
static_assert(is_view<std::string_view>::value && is_view<Borrowed<PyAny>>::value && is_view<Span>::value);
static_assert(!is_view<std::string>::value && !is_view<Bound<PyAny>>::value && !is_view<Py<PyAny>>::value &&
              !is_view<long>::value);
static_assert(needs_view_scope<std::vector<std::string_view>>::value);
static_assert(needs_view_scope<std::vector<std::pair<long, std::optional<std::string_view>>>>::value);
static_assert(needs_view_scope<std::map<std::string_view, long>>::value);
static_assert(needs_view_scope<std::unordered_map<long, Borrowed<PyAny>>>::value);
static_assert(needs_view_scope<std::optional<std::vector<Span>>>::value);
static_assert(needs_view_scope<std::tuple<long, std::map<long, std::vector<std::string_view>>>>::value);
static_assert(!needs_view_scope<std::string_view>::value);  // the argument holds it
static_assert(!needs_view_scope<std::optional<std::string_view>>::value);
static_assert(!needs_view_scope<std::pair<std::string_view, long>>::value);  // the tuple holds it
static_assert(!needs_view_scope<std::vector<std::string>>::value);
static_assert(!needs_view_scope<std::map<std::string, std::vector<long>>>::value);
static_assert(std::is_empty_v<detail::CallViewScope<false>>);

TEST(ViewScope, ContainersOfViewsNeedAScopeOutsideABoundCall)
{
    auto guard = attach();
    auto py = guard.py();
    auto list = eval(py, "['a' * 30, 'b' * 30]");
    expect_raises(py, PyExc_RuntimeError, [&] { (void)extract<std::vector<std::string_view>>(list); },
                  "vector of views");
    expect_raises(py, PyExc_RuntimeError,
                  [&] { (void)extract<std::map<std::string_view, long>>(eval(py, "{'k': 1}")); }, "map keys");
    // No views inside: no scope needed.
    EXPECT_EQ(extract<std::vector<std::string>>(list).size(), 2u);
    EXPECT_EQ(extract<std::string_view>(eval(py, "'top'")), "top");  // a top-level view
}

TEST(ViewScope, HoldsEachSourceUntilItEnds)
{
    auto guard = attach();
    auto py = guard.py();
    auto list = eval(py, "[c * 40 for c in 'xyz']");  // made at run time: never immortal
    PyObject *first = PyList_GET_ITEM(list.as_ptr(), 0);
    const Py_ssize_t before = refcnt(first);
    Py_ssize_t inside = 0;
    {
        ViewScope scope(py);
        auto views = extract<std::vector<std::string_view>>(list);
        EXPECT_EQ(scope.size(), 3u);
        EXPECT_EQ(refcnt(first), before + 1);
        PyList_SetSlice(list.as_ptr(), 0, 3, nullptr);  // the list lets go: the scope still holds
        EXPECT_EQ(views[0], std::string(40, 'x'));
        EXPECT_EQ(views[2], std::string(40, 'z'));
        Py_INCREF(first);  // to watch it after the scope, below
        inside = refcnt(first);
    }
    EXPECT_EQ(refcnt(first), inside - 1);  // the scope released its reference
    Py_DECREF(first);
}

TEST(ViewScope, GeneratorsMapsAndNesting)
{
    auto guard = attach();
    auto py = guard.py();
    ViewScope outer(py);
    auto words = extract<std::vector<std::string_view>>(eval(py, "(str(i) * 50 for i in range(10))"));
    EXPECT_EQ(outer.size(), 10u);
    {
        ViewScope inner(py);  // the innermost scope holds what converts while it is open
        auto counts = extract<std::map<std::string_view, std::vector<std::string_view>>>(
            eval(py, "{'k' * 20: ['v' * 20, 'w' * 20]}"));
        EXPECT_EQ(inner.size(), 4u);  // the key, the list (its C++ value holds views), its two items
        EXPECT_EQ(counts.begin()->first, std::string(20, 'k'));
        EXPECT_EQ(counts.begin()->second[1], std::string(20, 'w'));
    }
    EXPECT_EQ(outer.size(), 10u);
    PyRun_SimpleString("import gc; gc.collect()");
    for (int i = 0; i < 10; ++i) EXPECT_EQ(words[static_cast<std::size_t>(i)], std::string(50, static_cast<char>('0' + i)));
}

}  // namespace
