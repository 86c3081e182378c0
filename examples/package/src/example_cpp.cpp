// example_cpp.cpp — the example wheel's C++ extension, pyo3cpp_example._example_cpp, built with
// the header-only C++20 API against the runtime installed by `pip install pyo3cpp`.
#include <pyo3cpp/pyo3cpp.hpp>

#include <string_view>

using namespace pyo3cpp;

// Words of at least `min_len` characters, counted under one critical section.
long count_long_words(Python py, Bound<PyList> words, std::size_t min_len)
{
    long count = 0;
    locked_for_each(py, words, [&](const Bound<PyAny> &word) {
        if (word.extract<std::string_view>().size() >= min_len) ++count;
    });
    return count;
}

// counts[word] += 1 for every word: each read-modify-write inside one exclusive section, so
// threads sharing `counts` never lose an update, on free-threaded Python too.
void tally(Python py, Bound<PyDict> counts, Bound<PyList> words)
{
    for (std::size_t i = 0; i < words.len(); ++i) {
        auto word = words.get_item(static_cast<Py_ssize_t>(i));
        exclusive_section(py, counts, [&] {
            auto old = counts.get_item(word);
            long value = old ? old->extract<long>() : 0;
            counts.set_item(word, value + 1);
        });
    }
}

PYO3CPP_MODULE(_example_cpp, m)
{
    m.def("count_long_words", count_long_words, "Count words with at least min_len characters.",
          arg("words"), arg("min_len") = 5);
    m.def("tally", tally, "counts[word] += 1 for each word, safe across threads.",
          arg("counts"), arg("words"));
}
