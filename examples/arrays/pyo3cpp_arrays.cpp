// pyo3cpp_arrays: arrays across the boundary without copies (docs/arrays.md shows it verbatim).
#include <pyo3cpp/pyo3cpp.hpp>

#include <vector>

using namespace pyo3cpp;

// Any float64 buffer in: bytes-like objects, array.array('d'), memoryview, numpy.ndarray.
double total(BufferView<const double> values)
{
    double sum = 0;
    for (double v : values) sum += v;
    return sum;
}

// A writable 2-D buffer of rows of 3: scaled in place.
void scale(BufferView<double, shape<any, 3>> points, double k)
{
    for (Py_ssize_t i = 0; i < points.shape(0); ++i)
        for (Py_ssize_t j = 0; j < 3; ++j) points(i, j) *= k;
}

// A new array that owns C++ memory: numpy.ndarray when NumPy is importable, else memoryview.
Array<double> linspace(double start, double stop, long n)
{
    std::vector<double> values(n > 0 ? n : 0);
    for (long i = 0; i < n; ++i) values[i] = n == 1 ? start : start + (stop - start) * i / (n - 1);
    return Array<double>(std::move(values));
}

// A class whose memory Python reads and writes through memoryview(obj).
struct Signal {
    std::vector<float> samples;
    BufferExports exports;  // live memoryviews of `samples`
    explicit Signal(long n) : samples(n > 0 ? n : 0, 0.0f) {}
    BufferInfo buffer() { return BufferInfo::of(samples); }
    void extend(long n) { samples.resize(samples.size() + (n > 0 ? n : 0)); }  // may reallocate
    long size() const { return static_cast<long>(samples.size()); }
};
PYO3CPP_CLASS(Signal);

PYO3CPP_MODULE(pyo3cpp_arrays, m)
{
    m.def("total", &total, "Sum of a float64 buffer.", arg("values"));
    m.def("scale", &scale, "Multiply an (n, 3) float64 buffer in place.", arg("points"), arg("k"));
    m.def("linspace", &linspace, "n evenly spaced values.", arg("start"), arg("stop"), arg("n"));
    m.add_class<Signal>("Signal", "float32 samples, exported as a buffer.")
        .def_init<long>(arg("n"))
        .def_buffer(&Signal::buffer, &Signal::exports)
        .def("extend", reallocating<&Signal::exports>(&Signal::extend), arg("n"))
        .def("__len__", &Signal::size);
}
