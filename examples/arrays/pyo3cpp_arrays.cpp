// pyo3cpp_arrays: arrays across the boundary without copies (docs/arrays.md shows it verbatim).
#include <pyo3cpp/pyo3cpp.hpp>

#include <cmath>
#include <cstdlib>
#include <memory>
#include <new>
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

// Rows of (x, y) as float32: a float64 or integer array is converted (through NumPy, when it is
// importable); a float32 one is read in place.
double longest(ConvertingView<float, shape<any, 2>> points)
{
    double best = 0;
    for (Py_ssize_t i = 0; i < points.shape(0); ++i) best = std::fmax(best, std::hypot(points(i, 0), points(i, 1)));
    return best;
}

// Memory from std::calloc, handed over as it is and given back with std::free when Python lets go.
struct FreeDeleter {
    void operator()(float *p) const noexcept { std::free(p); }
};
Array<float> zeros(long rows, long cols)
{
    const std::size_t count = static_cast<std::size_t>(rows > 0 ? rows : 0) * static_cast<std::size_t>(cols > 0 ? cols : 0);
    // One spare element: calloc(0) may return NULL, which would read as out of memory.
    std::unique_ptr<float[], FreeDeleter> memory(static_cast<float *>(std::calloc(count + 1, sizeof(float))));
    if (!memory) throw std::bad_alloc();
    return Array<float>(std::move(memory), {rows, cols});  // ValueError for a negative extent
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
    m.def("longest", &longest, "The longest (x, y) of an (n, 2) array, as float32.", arg("points"));
    m.def("zeros", &zeros, "A (rows, cols) float32 array of zeros.", arg("rows"), arg("cols"));
    m.add_class<Signal>("Signal", "float32 samples, exported as a buffer.")
        .def_init<long>(arg("n"))
        .def_buffer(&Signal::buffer, &Signal::exports)
        .def("extend", reallocating<&Signal::exports>(&Signal::extend), arg("n"))
        .def("__len__", &Signal::size);
}
