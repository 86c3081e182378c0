// pyo3cpp_test_class_inherit — special methods through extends<>: for every special method D
// ClassDef binds, a family of classes generated from templates:
//
//   Base_D                      defines D ("B")
//   Sub_D_<case>   : Base_D     one level:  <case> below
//   Mid_D          : Base_D     defines nothing
//   Leaf_D_<case>  : Mid_D      two levels: <case> below
//
//   case base:    the subclass defines nothing
//   case sibling: the subclass defines another method of D's slot group (or a neighbour) ("S")
//   case same:    the subclass defines D itself ("S")
//
// Every implementation says who ran: repr/str/call/getitem/next/comparisons return "B" or "S",
// len and hash return 1 or 2, bool True or False, contains tests the key against the tag,
// setitem/delitem record "set:B"... in last(). Driven by tests/python/test_class_inherit.py.
#include <pyo3cpp/pyo3cpp.hpp>

#include <deque>
#include <string>
#include <utility>

using namespace pyo3cpp;

namespace {

enum Dunder : int {
    dRepr, dStr, dLen, dBool, dIter, dNext, dGetItem, dContains, dSetItem, dDelItem,
    dEq, dNe, dLt, dLe, dGt, dGe, dHash, dCall, kDunders
};
constexpr const char *kNames[kDunders] = {
    "__repr__", "__str__", "__len__", "__bool__", "__iter__", "__next__", "__getitem__",
    "__contains__", "__setitem__", "__delitem__", "__eq__", "__ne__", "__lt__", "__le__",
    "__gt__", "__ge__", "__hash__", "__call__"};
// The sibling a subclass defines in case "sibling": the same slot where CPython groups several
// methods in one slot (comparisons; __setitem__/__delitem__; __eq__ for __hash__, which Python
// couples), a neighbouring one otherwise.
constexpr int kSibling[kDunders] = {
    dStr, dRepr, dBool, dLen, dNext, dIter, dContains, dGetItem, dDelItem, dSetItem,
    dHash, dEq, dEq, dGt, dGe, dLe, dEq, dRepr};
enum Case : int { cBase, cSibling, cSame, kCases };
const char *const kCaseNames[kCases] = {"base", "sibling", "same"};

struct Root {
    std::string last;
};
template <int D> struct Base : Root {};
template <int D, int C> struct Sub : Base<D> {};
template <int D> struct Mid : Base<D> {};
template <int D, int C> struct Leaf : Mid<D> {};

std::deque<std::string> g_names;  // class names are kept as pointers
const char *keep(std::string s) { return g_names.emplace_back(std::move(s)).c_str(); }

// D's implementation tagged t ("B" or "S"); D is a template parameter so that each class
// instantiates the one method it defines (the table stays cheap to compile).
template <int D, class T> void define(ClassDef<T> &c, const std::string &t)
{
    const int n = t == "B" ? 1 : 2;
    if constexpr (D == dRepr) c.def("__repr__", [t](const Root &) { return t; });
    if constexpr (D == dStr) c.def("__str__", [t](const Root &) { return t; });
    if constexpr (D == dLen) c.def("__len__", [n](const Root &) { return n; });
    if constexpr (D == dBool) c.def("__bool__", [n](const Root &) { return n == 1; });
    if constexpr (D == dIter)
        c.def("__iter__", [t](const Root &) {
            Python py = Python::assume_attached();
            auto items = Bound<PyAny>::from_owned_ptr(py, Py_BuildValue("(s)", t.c_str()));
            return Bound<PyAny>::from_owned_ptr(py, PyObject_GetIter(items.as_ptr()));
        });
    if constexpr (D == dNext) c.def("__next__", [t](const Root &) { return t; });
    if constexpr (D == dGetItem) c.def("__getitem__", [t](const Root &, Py<PyAny>) { return t; });
    if constexpr (D == dContains) c.def("__contains__", [t](const Root &, const std::string &k) { return k == t; });
    if constexpr (D == dSetItem) c.def("__setitem__", [t](Root &r, Py<PyAny>, Py<PyAny>) { r.last = "set:" + t; });
    if constexpr (D == dDelItem) c.def("__delitem__", [t](Root &r, Py<PyAny>) { r.last = "del:" + t; });
    if constexpr (D >= dEq && D <= dGe) c.def(kNames[D], [t](const Root &, Py<PyAny>) { return t; });
    if constexpr (D == dHash) c.def("__hash__", [n](const Root &) { return n; });
    if constexpr (D == dCall) c.def("__call__", [t](const Root &) { return t; });
}

template <int D, int C, class T> void apply_case(ClassDef<T> &c)
{
    if constexpr (C == cSibling) define<kSibling[D]>(c, "S");
    if constexpr (C == cSame) define<D>(c, "S");
}

template <int D, int C> void add_case(ModuleDef &m)
{
    const std::string suffix = std::string(kNames[D]) + "_" + kCaseNames[C];
    auto &sub = m.add_class<Sub<D, C>>(keep("Sub" + suffix)).template extends<Base<D>>().construct_in_new().subclassable();
    apply_case<D, C>(sub);
    auto &leaf = m.add_class<Leaf<D, C>>(keep("Leaf" + suffix)).template extends<Mid<D>>().construct_in_new().subclassable();
    apply_case<D, C>(leaf);
}

template <int D> void add_family(ModuleDef &m)
{
    auto &base = m.add_class<Base<D>>(keep(std::string("Base") + kNames[D])).construct_in_new().subclassable();
    define<D>(base, "B");
    base.def("last", [](const Root &r) { return r.last; });
    m.add_class<Mid<D>>(keep(std::string("Mid") + kNames[D])).template extends<Base<D>>().construct_in_new().subclassable();
    add_case<D, cBase>(m);
    add_case<D, cSibling>(m);
    add_case<D, cSame>(m);
}

template <int... D> void add_families(ModuleDef &m, std::integer_sequence<int, D...>)
{
    (add_family<D>(m), ...);
}

}  // namespace

namespace pyo3cpp {
template <int D> struct class_policy<Base<D>> { using type = locked; };
template <int D, int C> struct class_policy<Sub<D, C>> { using type = locked; };
template <int D> struct class_policy<Mid<D>> { using type = locked; };
template <int D, int C> struct class_policy<Leaf<D, C>> { using type = locked; };
}  // namespace pyo3cpp

PYO3CPP_MODULE(pyo3cpp_test_class_inherit, m)
{
    add_families(m, std::make_integer_sequence<int, kDunders>{});
    m.add("DUNDERS", std::vector<std::string>(kNames, kNames + kDunders));
    m.add("SIBLING", std::vector<int>(kSibling, kSibling + kDunders));
}
