// Container conversions under Python code that runs while they convert (issue 26): views inside
// containers, dicts that change size, lying length hints. Tested by
// tests/python/test_container_safety.py; every function reads what it was given only after the
// conversion (and after a callback that may drop the argument's items), so a dangling view is
// read by the function body, where ASan sees it.
#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
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

std::string joined(const std::vector<std::string_view> &views)
{
    std::string out;
    for (std::string_view view : views) out.append(view).push_back('|');
    return out;
}

// Runs `callback` (which may empty the argument's containers) and then reads the views.
void maybe_call(std::optional<Bound<PyAny>> &callback)
{
    if (callback) callback->call();
}

// A locked class whose method takes views: the sources are released after the instance lock,
// so a source's __del__ may call the instance again.
struct Joiner {
    long calls = 0;
    std::string join(std::vector<std::string_view> views)
    {
        ++calls;
        return joined(views);
    }
    long count() const { return calls; }
};

}  // namespace

PYO3CPP_CLASS(Joiner);

PYO3CPP_MODULE(pyo3cpp_test_conversions, m)
{
    // ---- views inside containers: kept alive for the call
    m.def("join_views", [](std::vector<std::string_view> views, std::optional<Bound<PyAny>> then) {
        maybe_call(then);
        return joined(views);
    }, arg("views"), arg("then") = std::nullopt);
    m.def("join_optional_views", [](std::vector<std::optional<std::string_view>> views) {
        std::string out;
        for (const auto &view : views) out.append(view ? *view : "-").push_back('|');
        return out;
    }, arg("views"));
    m.def("join_pair_views", [](std::vector<std::pair<std::string_view, long>> items) {
        std::string out;
        for (const auto &[text, n] : items) out.append(text).append(std::to_string(n)).push_back('|');
        return out;
    }, arg("items"));
    m.def("join_tuple_views", [](std::vector<std::tuple<long, std::string_view>> items) {
        std::string out;
        for (const auto &[n, text] : items) out.append(std::to_string(n)).append(text).push_back('|');
        return out;
    }, arg("items"));
    m.def("nested_views", [](std::map<long, std::vector<std::string_view>> groups,
                             std::optional<Bound<PyAny>> then) {
        maybe_call(then);
        std::string out;
        for (const auto &[key, views] : groups) out.append(std::to_string(key)).append(":").append(joined(views));
        return out;
    }, arg("groups"), arg("then") = std::nullopt);
    m.def("map_views", [](std::map<std::string_view, long> counts, std::optional<Bound<PyAny>> then) {
        maybe_call(then);
        std::vector<std::pair<std::string, long>> out;
        for (const auto &[key, value] : counts) out.emplace_back(std::string(key), value);
        return out;
    }, arg("counts"), arg("then") = std::nullopt);
    m.def("unordered_map_views", [](std::unordered_map<std::string_view, std::string_view> counts) {
        std::map<std::string, std::string> out;
        for (const auto &[key, value] : counts) out.emplace(std::string(key), std::string(value));
        return out;
    }, arg("counts"));
    m.def("object_views", [](std::vector<Borrowed<PyAny>> objects, std::optional<Bound<PyAny>> then) {
        maybe_call(then);
        std::vector<std::string> out;
        for (Borrowed<PyAny> object : objects) out.push_back(object.repr().to_string());
        return out;
    }, arg("objects"), arg("then") = std::nullopt);
    // Outside a bound call's frame: extract itself, with and without a ViewScope.
    m.def("extract_views_unscoped", [](Borrowed<PyAny> obj) {
        return joined(extract<std::vector<std::string_view>>(obj));
    }, arg("obj"));
    m.def("extract_views_scoped", [](Python py, Borrowed<PyAny> obj) {
        ViewScope scope(py);
        auto views = extract<std::vector<std::string_view>>(obj);
        return joined(views);
    }, arg("obj"));
    // A top-level view: the argument itself is alive for the call, no scope needed.
    m.def("plain_view", [](std::string_view text) { return std::string(text); }, arg("text"));

    m.add_class<Joiner>("Joiner").def_init<>().def("join", &Joiner::join, arg("views"))
        .def("count", &Joiner::count);

    // ---- dicts that change while they convert
    m.def("map_size", [](std::map<std::string, long> counts) { return counts.size(); }, arg("counts"));
    m.def("unordered_map_size", [](std::unordered_map<long, long> counts) { return counts.size(); },
          arg("counts"));

    // ---- length hints
    m.def("vector_size", [](std::vector<long> values) { return values.size(); }, arg("values"));
}
