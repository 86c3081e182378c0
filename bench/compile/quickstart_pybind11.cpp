// quickstart_pybind11.cpp — examples/quickstart/quickstart.cpp written with pybind11, the same
// three functions with the same behaviour, for the compile-time and .so-size comparison of
// scripts/bench-compile. (pybind11 has no critical sections or once-cells: the list is iterated
// as pybind11 users do, and the frozenset is made under the GIL-protected static init.)
#include <pybind11/pybind11.h>

#include <chrono>
#include <string_view>
#include <thread>

namespace py = pybind11;
using namespace pybind11::literals;

long count_long_words(py::list words, std::size_t min_len)
{
    long count = 0;
    for (py::handle word : words)
        if (word.cast<std::string_view>().size() >= min_len) ++count;
    return count;
}

py::object stopwords()
{
    static py::object cached = py::reinterpret_steal<py::object>(
        PyFrozenSet_New(py::make_tuple("a", "an", "the").ptr()));
    return cached;
}

void nap(double seconds)
{
    constexpr double longest = 24 * 60 * 60;
    if (!(seconds >= 0 && seconds <= longest))
        throw py::value_error("nap() argument 'seconds' must be from 0 to 86400");
    py::gil_scoped_release release;
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
}

PYBIND11_MODULE(quickstart_pybind11, m)
{
    m.doc() = "The README's example extension.";
    m.def("count_long_words", &count_long_words, "Count words with at least min_len characters.",
          "words"_a, "min_len"_a = 5);
    m.def("stopwords", &stopwords, "The stop words, as a frozenset made once.");
    m.def("nap", &nap, "Sleep, detached from the interpreter.", "seconds"_a);
}
