// pyo3cpp_stubs_probe — every shape the stub generator (python/pyo3cpp/stubgen.py) writes:
// container, optional, enum and tuple type hints, defaults, positional-only, keyword-only,
// *args/**kwargs, enum.Enum and enum.IntEnum classes, exception classes deriving from a
// built-in and from each other, constants of each built-in type, and a submodule with its own
// submodule that names the parent's enum. tests/stubs checks its stubs with mypy's stubtest,
// tests/python/test_stubgen.py their exact text.
#include <pyo3cpp/pyo3cpp.hpp>

#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

using namespace pyo3cpp;

namespace {

enum class Color { Red = 1, Green = 2, Blue = 4 };
enum class Level : int { Low = 0, High = 10 };

struct ParseError : std::runtime_error {
    using std::runtime_error::runtime_error;
};
struct SyntaxProblem : ParseError {
    using ParseError::ParseError;
};
struct Unrelated {};

}  // namespace

PYO3CPP_MODULE(pyo3cpp_stubs_probe, m)
{
    m.doc("Shapes for the stub generator.");
    m.enum_<Color>("Color", {{"RED", Color::Red}, {"GREEN", Color::Green}, {"BLUE", Color::Blue}},
                   EnumKind::Enum, "Primary colours.");
    m.enum_<Level>("Level", {{"LOW", Level::Low}, {"HIGH", Level::High}}, EnumKind::IntEnum);
    m.exception<ParseError>("ParseError", PyExc_ValueError, "Input could not be parsed.");
    m.exception<SyntaxProblem, ParseError>("SyntaxProblem");
    m.exception<Unrelated>("Unrelated");

    m.def("join", [](const std::vector<std::string> &words, const std::string &sep) {
              std::string out;
              for (const auto &w : words) out += (out.empty() ? "" : sep) + w;
              return out;
          },
          arg("words"), arg("sep") = " ");
    m.def("counts",
          [](const std::map<std::string, long> &c) { return static_cast<long>(c.size()); },
          arg("counts"));
    m.def("swap", [](std::pair<long, std::string> p) { return std::make_pair(p.second, p.first); },
          arg("pair"));
    m.def("triple", [](std::tuple<long, double, bool> t) { return t; }, arg("t"));
    m.def("first", [](const std::vector<std::optional<long>> &v) {
              return v.empty() ? std::optional<long>{} : v.front();
          },
          arg("values"));
    m.def("mix", [](Color a, Color b) { return a == b ? a : Color::Blue; }, arg("a"),
          arg("b") = Color::Red);
    m.def("level_of", [](long x) { return x > 5 ? Level::High : Level::Low; }, arg("x"));
    m.def("find", [](const std::string &hay, const std::string &needle, long start) {
              auto at = hay.find(needle, static_cast<std::size_t>(start));
              return at == std::string::npos ? -1L : static_cast<long>(at);
          },
          arg("haystack"), arg("needle"), kw_only(), arg("start") = 0);
    m.def("norm", [](double x, double y) { return x * x + y * y; }, arg("x"), arg("y"),
          pos_only());
    m.def("log", [](const std::string &fmt, Args args, Kwargs kwargs) {
              return static_cast<long>(fmt.size() + PyTuple_GET_SIZE(args.as_ptr()) +
                                       PyDict_GET_SIZE(kwargs.as_ptr()));
          },
          arg("fmt"));
    m.def("payload", [](Bound<PyBytes> b) { return b; }, arg("data"));
    m.def("module_name", [](Bound<PyModule> mod) {
              return std::string(PyModule_GetName(mod.as_ptr()));
          },
          arg("module"));
    m.def("seq_len", [](Bound<PySequence> s) {
              const Py_ssize_t size = PySequence_Size(s.as_ptr());
              if (size < 0) throw_fetched(s.py());  // __len__ raised
              return size;
          },
          arg("items"));
    m.def("configure", [](const std::string &name, long retries, double timeout, bool verbose,
                          std::optional<std::string> log_file) {
              return name.size() + retries + static_cast<long>(timeout) + verbose +
                     (log_file ? 1 : 0);
          },
          arg("name"), arg("retries") = 3, arg("timeout") = 1.5, arg("verbose") = false,
          arg("log_file") = std::nullopt);
    m.def("fail", [](const std::string &kind) {
              if (kind == "syntax") throw SyntaxProblem("bad syntax");
              throw ParseError("bad input");
          },
          arg("kind"));

    m.add("VERSION", 3);
    m.add("RATIO", 0.5);
    m.add("TITLE", std::string("probe"));
    m.add("ENABLED", true);
    m.add("MAGIC",
          [](Python py) { return Bound<PyAny>::from_owned_ptr(py, PyBytes_FromString("pk")); });
    m.add("NAMES", [](Python py) { return Bound<PyAny>::from_owned_ptr(py, PyList_New(0)); });
    m.add("TABLE", [](Python py) { return Bound<PyAny>::from_owned_ptr(py, PyDict_New()); });
    m.submodule("shapes", [](ModuleDef &sub) {
        sub.def("area", [](double w, double h) { return w * h; }, arg("w"), arg("h") = 1.0);
        sub.add("SIDES", 4);
        sub.submodule("deep", [](ModuleDef &deep) {
            deep.def("paint", [](Color c) { return c; }, arg("color"));
        });
    });
}
