// quickstart.cpp — the README's C++ extension, compiled and tested exactly as shown there.
#include <pyo3cpp/pyo3cpp.hpp>

#include <chrono>
#include <string_view>
#include <thread>

using namespace pyo3cpp;

// Counts the words of at least `min_len` characters. One critical section covers the loop, so
// on free-threaded Python no other thread can resize the list half-way through.
long count_long_words(Python py, Bound<PyList> words, std::size_t min_len)
{
    long count = 0;
    locked_for_each(py, words, [&](const Bound<PyAny> &word) {
        if (word.extract<std::string_view>().size() >= min_len) ++count;
    });
    return count;
}

// A frozenset built once per process, however many threads race to it first.
Py<PyAny> stopwords(Python py)
{
    static OnceLock<Py<PyAny>> cell("stopwords");
    return cell.get_or_init(py, [&] {
        auto words = make_tuple(py, "a", "an", "the");
        return Py<PyAny>::from_owned_ptr(py, PyFrozenSet_New(words.as_ptr()));
    }).clone_ref(py);
}

// Sleeps without holding up other threads (or the garbage collector): detached. The argument is
// checked first, while still attached (raising needs the interpreter): std::chrono turns nan and
// inf into garbage (inf returned at once), and a sleep of centuries cannot be interrupted. A day
// is longer than any nap should be; the comparison is written so that nan fails it too.
void nap(Python py, double seconds)
{
    constexpr double longest = 24 * 60 * 60;
    if (!(seconds >= 0 && seconds <= longest))
        PyErr::raise(py, PyExc_ValueError, "nap() argument 'seconds' must be from 0 to 86400");
    detach(py, [&] { std::this_thread::sleep_for(std::chrono::duration<double>(seconds)); });
}

PYO3CPP_MODULE(quickstart, m)
{
    m.doc("The README's example extension.");
    m.def("count_long_words", count_long_words, "Count words with at least min_len characters.",
          arg("words"), arg("min_len") = 5);
    m.def("stopwords", stopwords, "The stop words, as a frozenset made once.");
    m.def("nap", nap, "Sleep, detached from the interpreter.", arg("seconds"));
}
