// The binding layer as a fuzz target (tests/fuzz/fuzz_bindings.py): one function per supported
// parameter type, each returning what it converted (so the fuzzer can compare with a model),
// keyword layouts of every kind, and a raw vectorcall entry for kwnames no Python call can make.
// Functions taking views in containers also take `then`, a callback run before the body reads
// the views (the fuzzer passes one that empties the argument's containers and collects).
#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include <pyo3cpp/pyo3cpp.hpp>

using namespace pyo3cpp;

namespace {

enum class Color { Red = 1, Green = 2, Blue = 4 };
enum class Level : unsigned char { Low = 0, High = 10 };

struct Box {
    long value = 0;
    explicit Box(long v) : value(v) {}
};
struct Other {
    long value = 7;
};

void run(const std::optional<Bound<PyAny>> &then)
{
    if (then) then->call();
}

std::vector<std::string> copies(const std::vector<std::string_view> &views)
{
    return {views.begin(), views.end()};
}

// f(*args[:n], **dict(zip(kwnames, args[n:]))) through PyObject_Vectorcall, with any tuple as
// kwnames (non-str names, duplicates): what C callers can pass.
Bound<PyAny> vectorcall(Python py, Borrowed<PyAny> function, Borrowed<PyTuple> args,
                        std::optional<Borrowed<PyAny>> given_names)
{
    const Borrowed<PyAny> kwnames = given_names ? *given_names : Borrowed<PyAny>::from_ptr(py, Py_None);
    const Py_ssize_t total = PyTuple_GET_SIZE(args.as_ptr());
    Py_ssize_t keywords = 0;
    PyObject *names = nullptr;
    if (kwnames.as_ptr() != Py_None) {
        if (!PyTuple_Check(kwnames.as_ptr())) PyErr::raise(py, PyExc_TypeError, "kwnames must be a tuple or None");
        keywords = PyTuple_GET_SIZE(kwnames.as_ptr());
        if (keywords > total) PyErr::raise(py, PyExc_ValueError, "more kwnames than arguments");
        if (keywords > 0) names = kwnames.as_ptr();
    }
    // One slot before the arguments: PY_VECTORCALL_ARGUMENTS_OFFSET lets the callee use it.
    std::vector<PyObject *> slots(static_cast<std::size_t>(total) + 1, nullptr);
    for (Py_ssize_t i = 0; i < total; ++i) slots[static_cast<std::size_t>(i) + 1] = PyTuple_GET_ITEM(args.as_ptr(), i);
    PyObject *result = PyObject_Vectorcall(function.as_ptr(), slots.data() + 1,
                                           static_cast<size_t>(total - keywords) | PY_VECTORCALL_ARGUMENTS_OFFSET,
                                           names);
    return Bound<PyAny>::from_owned_ptr(py, result);
}

}  // namespace

PYO3CPP_CLASS(Box);
PYO3CPP_CLASS(Other);

PYO3CPP_MODULE(pyo3cpp_fuzz_target, m)
{
    m.enum_<Color>("Color", {{"RED", Color::Red}, {"GREEN", Color::Green}, {"BLUE", Color::Blue}});
    m.enum_<Level>("Level", {{"LOW", Level::Low}, {"HIGH", Level::High}}, EnumKind::IntEnum);
    m.add_class<Box>("Box").def_init<long>(arg("value")).def_readwrite("value", &Box::value).subclassable();
    m.add_class<Other>("Other").def_init<>().subclassable();

    // ---- scalars (echoed)
    m.def("i8", [](std::int8_t x) { return x; }, arg("x"));
    m.def("u8", [](std::uint8_t x) { return x; }, arg("x"));
    m.def("i16", [](std::int16_t x) { return x; }, arg("x"));
    m.def("u16", [](std::uint16_t x) { return x; }, arg("x"));
    m.def("i32", [](std::int32_t x) { return x; }, arg("x"));
    m.def("u32", [](std::uint32_t x) { return x; }, arg("x"));
    m.def("i64", [](std::int64_t x) { return x; }, arg("x"));
    m.def("u64", [](std::uint64_t x) { return x; }, arg("x"));
    m.def("boolean", [](bool x) { return x; }, arg("x"));
    m.def("f64", [](double x) { return x; }, arg("x"));
    m.def("f32", [](float x) { return static_cast<double>(x); }, arg("x"));
    m.def("text", [](const std::string &x) { return x; }, arg("x"));
    m.def("view", [](std::string_view x) { return std::string(x); }, arg("x"));
    m.def("color", [](Color c) { return c; }, arg("c"));
    m.def("level", [](Level l) { return l; }, arg("l"));

    // ---- optionals, tuples
    m.def("opt_long", [](std::optional<long> x) { return x; }, arg("x") = std::nullopt);
    m.def("opt_view", [](std::optional<std::string_view> x) {
        return x ? std::optional<std::string>(std::string(*x)) : std::nullopt;
    }, arg("x") = std::nullopt);
    m.def("pair_long_view", [](std::pair<long, std::string_view> p) { return std::make_pair(p.first, std::string(p.second)); },
          arg("p"));
    m.def("triple", [](std::tuple<std::int32_t, double, std::string> t) { return t; }, arg("t"));
    m.def("empty_tuple", [](std::tuple<> t) { return t; }, arg("t"));

    // ---- containers
    m.def("vec_long", [](std::vector<long> v) { return v; }, arg("v"));
    m.def("vec_u8", [](std::vector<std::uint8_t> v) { return v; }, arg("v"));
    m.def("vec_text", [](std::vector<std::string> v) { return v; }, arg("v"));
    m.def("vec_vec", [](std::vector<std::vector<long>> v) { return v; }, arg("v"));
    m.def("vec_view", [](std::vector<std::string_view> v, std::optional<Bound<PyAny>> then) {
        run(then);
        return copies(v);
    }, arg("v"), arg("then") = std::nullopt);
    m.def("vec_opt_view", [](std::vector<std::optional<std::string_view>> v, std::optional<Bound<PyAny>> then) {
        run(then);
        std::vector<std::optional<std::string>> out;
        for (const auto &x : v) out.push_back(x ? std::optional<std::string>(std::string(*x)) : std::nullopt);
        return out;
    }, arg("v"), arg("then") = std::nullopt);
    m.def("vec_pair_view", [](std::vector<std::pair<std::string_view, long>> v, std::optional<Bound<PyAny>> then) {
        run(then);
        std::vector<std::pair<std::string, long>> out;
        for (const auto &[s, n] : v) out.emplace_back(std::string(s), n);
        return out;
    }, arg("v"), arg("then") = std::nullopt);
    m.def("vec_object", [](std::vector<Borrowed<PyAny>> v, std::optional<Bound<PyAny>> then) {
        run(then);
        return v;
    }, arg("v"), arg("then") = std::nullopt);
    m.def("vec_color", [](std::vector<Color> v) { return v; }, arg("v"));
    m.def("vec_box", [](std::vector<Box> v) {
        std::vector<long> out;
        for (const Box &b : v) out.push_back(b.value);
        return out;
    }, arg("v"));
    m.def("map_text_long", [](std::map<std::string, long> d) { return d; }, arg("d"));
    m.def("map_view_long", [](std::map<std::string_view, long> d, std::optional<Bound<PyAny>> then) {
        run(then);
        std::map<std::string, long> out;
        for (const auto &[k, v] : d) out.emplace(std::string(k), v);
        return out;
    }, arg("d"), arg("then") = std::nullopt);
    m.def("umap_long_view", [](std::unordered_map<long, std::string_view> d, std::optional<Bound<PyAny>> then) {
        run(then);
        std::map<long, std::string> out;
        for (const auto &[k, v] : d) out.emplace(k, std::string(v));
        return out;
    }, arg("d"), arg("then") = std::nullopt);
    m.def("map_text_vec", [](std::map<std::string, std::vector<long>> d) { return d; }, arg("d"));
    m.def("map_long_object", [](std::map<long, Borrowed<PyAny>> d, std::optional<Bound<PyAny>> then) {
        run(then);
        return d;
    }, arg("d"), arg("then") = std::nullopt);
    m.def("opt_vec_view", [](std::optional<std::vector<std::string_view>> v, std::optional<Bound<PyAny>> then) {
        run(then);
        return v ? std::optional<std::vector<std::string>>(copies(*v)) : std::nullopt;
    }, arg("v") = std::nullopt, arg("then") = std::nullopt);

    // ---- class instances
    m.def("box_value", [](const Box &b) { return b.value; }, arg("b"));
    m.def("box_copy", [](Box b) { return b.value; }, arg("b"));
    m.def("box_set", [](Box &b, long v) { b.value = v; return b.value; }, arg("b"), arg("v"));
    m.def("box_borrowed", [](Borrowed<Box> b) { return b.as_any().repr().to_string().size() > 0; }, arg("b"));
    m.def("box_pair", [](Box &a, const Box &b) { return a.value == b.value; }, arg("a"), arg("b"));

    // ---- keyword layouts
    // (Results are the arguments as bound: no arithmetic that could overflow.)
    m.def("kw_fast", [](long a, long b, long c) { return std::make_tuple(a, b, c); }, arg("a"), arg("b"), arg("c"));
    m.def("kw_mixed", [](long a, long b, long c) { return std::make_tuple(a, b, c); }, arg("a"), pos_only(),
          arg("b"), kw_only(), arg("c") = 3);
    m.def("kw_defaults", [](std::string a, std::optional<long> b, double c) {
        return std::make_tuple(a, b, c);
    }, arg("a") = "x", arg("b") = std::nullopt, arg("c") = 1.5);
    m.def("kw_var", [](long a, Args args, bool flag, Kwargs kwargs) {
        return std::make_tuple(a, static_cast<long>(PyTuple_GET_SIZE(args.as_ptr())), flag,
                               static_cast<long>(PyDict_Size(kwargs.as_ptr())));
    }, arg("a"), arg("flag") = false);
    m.def("positional", [](long a, long b) { return std::make_pair(a, b); });
    m.def("vectorcall", vectorcall, arg("function"), arg("args"), arg("kwnames") = std::nullopt);
}
