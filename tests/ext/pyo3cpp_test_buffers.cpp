// pyo3cpp_test_buffers — the buffer protocol both ways (buffer.hpp, class_buffer.hpp) and arrays
// out (array.hpp): typed views of every exporter, a class exporting its vector with reallocating
// methods that refuse while exported, arrays owning C++ vectors. Driven by
// tests/python/test_buffers.py.
#include <pyo3cpp/pyo3cpp.hpp>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

using namespace pyo3cpp;

namespace {

std::uintptr_t address_of(const void *p) { return reinterpret_cast<std::uintptr_t>(p); }

// A deleter for memory from std::malloc that counts its calls (arrays owning unique_ptr memory).
std::atomic<long> g_freed{0};
struct CountingFree {
    void operator()(std::int32_t *p) const noexcept
    {
        std::free(p);
        g_freed.fetch_add(1);
    }
};
using MallocInts = std::unique_ptr<std::int32_t[], CountingFree>;
MallocInts malloc_ints(long n)
{
    auto *p = static_cast<std::int32_t *>(std::malloc(sizeof(std::int32_t) * static_cast<std::size_t>(n > 0 ? n : 1)));
    if (p == nullptr) throw std::bad_alloc();
    for (long i = 0; i < n; ++i) p[i] = static_cast<std::int32_t>(i);
    return MallocInts(p);
}

template <class T> double sum_of(BufferView<const T> values)
{
    double total = 0;
    for (T v : values) total += static_cast<double>(v);
    return total;
}

// A growable sequence of doubles whose memory it exports.
struct Samples {
    std::vector<double> values;
    BufferExports exports;
    Samples() = default;
    explicit Samples(long n) : values(static_cast<std::size_t>(n), 0.0) {}
    BufferInfo buffer() { return BufferInfo::of(values); }
    // Reallocates: the vector's memory moves (always, so a reader of the old memory would be
    // reading freed memory if an export were alive).
    void resize(long n)
    {
        std::vector<double> moved(static_cast<std::size_t>(n), 1.0);
        values.swap(moved);
    }
    void fill(double x)
    {
        for (double &v : values) v = x;
    }
    std::uintptr_t data_address() const { return address_of(values.data()); }
    long exported() const { return static_cast<long>(exports.active()); }
};

// A read-only 2-D matrix (row-major) and its transpose as Fortran strides.
struct Matrix {
    std::vector<std::int32_t> cells;
    BufferExports exports;
    Matrix() : cells{1, 2, 3, 4, 5, 6} {}
    BufferInfo buffer() const { return BufferInfo::of(static_cast<const std::int32_t *>(cells.data()), {2, 3}); }
    std::uintptr_t data_address() const { return address_of(cells.data()); }
};

// Zeroed bytes exported with any format string and item size: the format checks' probe.
struct FormatProbe {
    std::string format;
    std::vector<unsigned char> bytes;
    BufferExports exports;
    FormatProbe(std::string f, long itemsize, long count)
        : format(std::move(f)), bytes(static_cast<std::size_t>(itemsize * count)), itemsize_(itemsize), count_(count)
    {
    }
    BufferInfo buffer()
    {
        BufferInfo info = BufferInfo::of(bytes.data(), {count_});
        info.format = format.c_str();  // lives as long as the instance, which every export holds
        info.itemsize = itemsize_;
        info.strides[0] = itemsize_;
        info.strides_given = true;
        return info;
    }
    long itemsize_, count_;
};

// The baseline bench/buffer_sum.sh compares sum_f64 with: the C API by hand (METH_O).
double sum_f64_by_hand(Python py, Borrowed<PyAny> object)
{
    Py_buffer view;
    if (PyObject_GetBuffer(object.as_ptr(), &view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) != 0) throw_fetched(py);
    if (view.ndim != 1 || view.itemsize != 8 || view.format == nullptr || std::strcmp(view.format, "d") != 0) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_TypeError, "expected a 1-dimensional float64 buffer");
        throw_fetched(py);
    }
    const double *values = static_cast<const double *>(view.buf);
    const Py_ssize_t n = view.shape[0];
    double total = 0;
    for (Py_ssize_t i = 0; i < n; ++i) total += values[i];
    PyBuffer_Release(&view);
    return total;
}

std::vector<StoredBuffer<const double>> g_stored;
std::mutex g_stored_mutex;

}  // namespace

PYO3CPP_CLASS(Samples);
PYO3CPP_CLASS(Matrix, pyo3cpp::frozen);
PYO3CPP_CLASS(FormatProbe, pyo3cpp::frozen);

PYO3CPP_MODULE(pyo3cpp_test_buffers, m)
{
    m.def("sum_f64", &sum_of<double>, arg("values"));
    m.def_raw<&sum_f64_by_hand>("sum_f64_by_hand", "sum_f64_by_hand($module, values, /)\n--\n\nThe C API by hand.");
    m.def("sum_f32", &sum_of<float>, arg("values"));
    m.def("sum_i64", &sum_of<std::int64_t>, arg("values"));
    m.def("sum_i32", &sum_of<std::int32_t>, arg("values"));
    m.def("sum_u8", &sum_of<std::uint8_t>, arg("values"));
    m.def("sum_i16", &sum_of<std::int16_t>, arg("values"));
    m.def("count_true", [](BufferView<const bool> flags) {
        long n = 0;
        for (bool f : flags) n += f ? 1 : 0;
        return n;
    }, arg("flags"));
    // The address the view reads (pointer identity: no copy).
    m.def("address_f64", [](BufferView<const double> values) { return address_of(values.data()); }, arg("values"));
    m.def("address_u8", [](BufferView<const std::uint8_t> values) { return address_of(values.data()); }, arg("values"));
    // Writable: refuses bytes.
    m.def("fill_u8", [](BufferView<std::uint8_t> out, long value) {
        for (auto &b : out) b = static_cast<std::uint8_t>(value);
    }, arg("out"), arg("value"));
    // 2-D, second extent fixed at 3, C order.
    m.def("row_sums", [](BufferView<const double, shape<any, 3>> points) {
        std::vector<double> sums;
        for (Py_ssize_t i = 0; i < points.shape(0); ++i) sums.push_back(points(i, 0) + points(i, 1) + points(i, 2));
        return sums;
    }, arg("points"));
    // Any strides (a slice with a step, a transpose).
    m.def("strided_sum", [](BufferView<const double, shape<any>, layout::strided> values) {
        double total = 0;
        for (Py_ssize_t i = 0; i < values.shape(0); ++i) total += values(i);
        return total;
    }, arg("values"));
    m.def("f_first_column", [](BufferView<const std::int32_t, shape<any, any>, layout::f> m) {
        std::vector<long> column;
        for (Py_ssize_t i = 0; i < m.shape(0); ++i) column.push_back(m(i, 0));
        return column;
    }, arg("m"));
    // Throws after taking the view: the view is released on the way out.
    m.def("sum_then_fail", [](BufferView<const double> values) -> double {
        (void)values;
        throw std::runtime_error("failed while holding the buffer");
    }, arg("values"));
    // Storable: kept past the call, released from another thread (deferred decref).
    m.def("store", [](StoredBuffer<const double> values) {
        std::lock_guard<std::mutex> lock(g_stored_mutex);
        g_stored.push_back(std::move(values));
        return g_stored.size();
    }, arg("values"));
    m.def("stored_sum", [](long i) {
        std::lock_guard<std::mutex> lock(g_stored_mutex);
        double total = 0;
        for (double v : g_stored.at(static_cast<std::size_t>(i))) total += v;
        return total;
    });
    m.def("drop_stored_on_thread", [](Python py) {
        std::vector<StoredBuffer<const double>> dropped;
        {
            std::lock_guard<std::mutex> lock(g_stored_mutex);
            dropped.swap(g_stored);
        }
        // Destroyed on a thread that never attached: the memoryviews go to the deferred pool.
        detach(py, [&] { std::thread([d = std::move(dropped)]() mutable { d.clear(); }).join(); });
    });

    // Arrays out.
    m.def("arange", [](long n) {
        std::vector<double> values(static_cast<std::size_t>(n));
        for (long i = 0; i < n; ++i) values[static_cast<std::size_t>(i)] = static_cast<double>(i);
        return Array<double>(std::move(values));
    }, arg("n"));
    // The array and the address of its memory as C++ filled it.
    m.def("grid_with_address", [](Python py, long rows, long cols) {
        std::vector<std::int64_t> values(static_cast<std::size_t>(rows * cols));
        for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<std::int64_t>(i);
        const std::uintptr_t at = address_of(values.data());
        auto array = Array<std::int64_t>(std::move(values), {rows, cols}).as_memoryview().into_python(py);
        return std::make_pair(std::move(array), at);
    });
    m.def("numpy_with_address", [](Python py, long n) {
        std::vector<float> values(static_cast<std::size_t>(n), 0.5f);
        const std::uintptr_t at = address_of(values.data());
        return std::make_pair(Array<float>(std::move(values)).into_python(py), at);
    });
    m.def("bad_shape", [] { return Array<double>(std::vector<double>(5), {2, 3}); });
    // Arrays owning a unique_ptr's memory: default delete[] and a counting deleter.
    m.def("unique_with_address", [](Python py, long n, bool numpy) {
        std::unique_ptr<double[]> values(new double[static_cast<std::size_t>(n > 0 ? n : 0)]);
        for (long i = 0; i < n; ++i) values[static_cast<std::size_t>(i)] = 0.25 * static_cast<double>(i);
        const std::uintptr_t at = address_of(values.get());
        Array<double> array(std::move(values), n);
        auto result = numpy ? std::move(array).into_python(py) : std::move(array).as_memoryview().into_python(py);
        return std::make_pair(std::move(result), at);
    }, arg("n"), arg("numpy") = true);
    m.def("malloc_grid_with_address", [](Python py, long rows, long cols) {
        MallocInts cells = malloc_ints(rows * cols);
        const std::uintptr_t at = address_of(cells.get());
        return std::make_pair(Array<std::int32_t>(std::move(cells), {rows, cols}).into_python(py), at);
    }, arg("rows"), arg("cols"));
    m.def("malloc_bad_shape", [] { return Array<std::int32_t>(malloc_ints(6), {2, -3}); });
    m.def("malloc_never_returned", [] { Array<std::int32_t> dropped(malloc_ints(4), 4); });
    m.def("freed", [] { return g_freed.load(); });

    // bench/array_return.sh: n doubles allocated (not filled) and freed; returned as an array; copied.
    static std::atomic<double *> sink{nullptr};  // keeps the allocation from being elided
    m.def("bench_allocate", [](long n) {
        std::unique_ptr<double[]> values(new double[static_cast<std::size_t>(n)]);
        sink.store(values.get(), std::memory_order_relaxed);
    }, arg("n"));
    m.def("bench_return", [](Python py, long n, bool numpy) {
        Array<double> array(std::unique_ptr<double[]>(new double[static_cast<std::size_t>(n)]), n);
        return numpy ? std::move(array).into_python(py) : std::move(array).as_memoryview().into_python(py);
    }, arg("n"), arg("numpy"));
    m.def("bench_copy", [](Python py, long n) {
        std::unique_ptr<double[]> values(new double[static_cast<std::size_t>(n)]);
        PyObject *copy = PyBytes_FromStringAndSize(reinterpret_cast<const char *>(values.get()),
                                                   static_cast<Py_ssize_t>(sizeof(double)) * n);
        if (copy == nullptr) throw_fetched(py);
        return Bound<PyAny>::from_owned_ptr(py, copy);
    }, arg("n"));

    // Parameters that convert (buffer_convert.hpp): the sum and whether a copy was made.
    m.def("convert_sum_f32", [](ConvertingView<float> values) {
        double total = 0;
        for (float v : values) total += v;
        return std::make_pair(total, values.converted());
    }, arg("values"));
    m.def("convert_rows_u32", [](ConvertingView<std::uint32_t, shape<any, 2>, layout::strided> rows) {
        std::vector<std::uint32_t> firsts;
        for (Py_ssize_t i = 0; i < rows.shape(0); ++i) firsts.push_back(rows(i, 0));
        return std::make_pair(firsts, rows.converted());
    }, arg("rows"));
    m.def("convert_address_f64", [](ConvertingView<double> values) { return address_of(values.data()); },
          arg("values"));
    m.def("which_dtype", [](ConvertingView<float>) { return std::string("float32"); }, arg("values"));
    m.def("which_dtype", [](ConvertingView<double>) { return std::string("float64"); }, arg("values"));

    m.add_class<Samples>("Samples", "Doubles exported through the buffer protocol.")
        .def_init<long>(arg("n") = 0)
        .def_buffer(&Samples::buffer, &Samples::exports)
        .def("resize", reallocating<&Samples::exports>(&Samples::resize), arg("n"))
        .def("fill", &Samples::fill, arg("x"))
        .def("data_address", &Samples::data_address)
        .def("exported", &Samples::exported)
        // Runs fn() while holding the instance exclusively: an export from fn is re-entrance.
        .def("call_holding", [](Samples &, Bound<PyAny> fn) { return fn.call(); }, arg("fn"));
    m.add_class<Matrix>("Matrix", "A read-only 2x3 int32 matrix.")
        .def_init<>()
        .def_buffer(&Matrix::buffer, &Matrix::exports)
        .def("data_address", &Matrix::data_address);
    m.add_class<FormatProbe>("FormatProbe", "Zeroed bytes with any format.")
        .def_init<std::string, long, long>(arg("format"), arg("itemsize"), arg("count"))
        .def_buffer(&FormatProbe::buffer, &FormatProbe::exports);
}
