// pyo3cpp_callbacks: callbacks both ways (docs/callbacks.md shows it verbatim).
#include <pyo3cpp/pyo3cpp.hpp>

#include <exception>
#include <functional>
#include <string>
#include <thread>
#include <vector>

using namespace pyo3cpp;

// A typed callable parameter: callable() is checked where it enters, the call converts.
long apply_twice(Callable<long(long)> f, long x)
{
    return f(f(x));
}

// std::function parameters take any Python callable too.
std::vector<std::string> transform(const std::vector<std::string> &words,
                                   const std::function<std::string(std::string)> &f)
{
    std::vector<std::string> out;
    for (const auto &w : words) out.push_back(f(w));
    return out;
}

// A C++ function out to Python: a built-in with a signature.
std::function<double(double)> scaler(double k)
{
    return [k](double x) { return x * k; };
}

// Called on a C++ thread that never attached, while this one waits detached: the call attaches.
// A Python exception raised there reaches the caller as the same exception.
long on_thread(Python py, Callable<long(long)> f, long x)
{
    long result = 0;
    std::exception_ptr failure;
    detach(py, [&] {
        std::thread([&] {
            try {
                result = f(x);
            } catch (...) {
                failure = std::current_exception();
            }
        }).join();
    });
    if (failure) std::rethrow_exception(failure);
    return result;
}

PYO3CPP_MODULE(pyo3cpp_callbacks, m)
{
    m.def("apply_twice", apply_twice, "f(f(x)).", arg("f"), arg("x"));
    m.def("transform", transform, "f applied to every word.", arg("words"), arg("f"));
    m.def("scaler", scaler, "A function that multiplies by k.", arg("k"));
    m.def("on_thread", on_thread, "f(x), called on a C++ thread.", arg("f"), arg("x"));
}
