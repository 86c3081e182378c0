// buffer_convert.hpp — array parameters that convert what they are given to the element type and
// layout they ask for (through NumPy, when NumPy is importable), as pybind11's py::array_t does by
// default; BufferView (buffer.hpp) is the form that never converts.
//
//   double norm(pyo3cpp::ConvertingView<float, pyo3cpp::shape<pyo3cpp::any, 2>> points);
//   m.def("norm", &norm, arg("points"));
//   norm(numpy.zeros((5, 2)))            // float64 in: converted to a float32 copy, then viewed
//   norm(numpy.zeros((5, 2), "f4"))      // float32 in: viewed in place, no copy
//   norm(array.array("d", ...))          // without NumPy: TypeError: norm() argument 'points' must
//                                        //   be ... float32 ...; converting it needs NumPy, which is
//                                        //   not importable
//
// Contract:
//   - ConvertingView<T, Shape, Layout> is a read-only BufferView<const T, Shape, Layout> (every
//     accessor, store(py) included). A buffer that matches (element type, dimensions, extents,
//     layout) is viewed in place, exactly as BufferView views it: no copy.
//   - Anything else — a buffer of another element type or layout, or any object NumPy reads as
//     an array (a list of numbers) — becomes numpy.asarray(object, dtype=T, order=C|F|K): NumPy's
//     unsafe cast (float64 -> int32 truncates, -1 -> uint32 wraps, as py::array_t's forcecast)
//     into a fresh array the view holds for its life (converted() true, object() that copy). NumPy
//     is looked up at run time only (never a build dependency).
//   - Refusals are TypeErrors naming the argument and what was expected, worded as BufferView's,
//     describing what the caller passed: when NumPy is not importable ("...; converting it needs
//     NumPy, which is not importable"), when NumPy refuses ("...; NumPy could not convert it:
//     <its message>"), and when the converted array still does not fit (dimensions or extents
//     NumPy does not change). An exporter's own error (BufferError) passes through unconverted.
//   - In an overload set, the first pass takes a value as is only when it matches without a
//     conversion (so f(ConvertingView<float>) and f(ConvertingView<double>) pick by dtype).
//   - Writes are impossible by construction: a converted copy would not reach the caller. A
//     writable parameter is BufferView<T>, which never converts.
// Thread: attached, like BufferView. Cost: a matching buffer costs what BufferView costs; a
// conversion costs NumPy's import lookup, the call and the copy (size-proportional).
#pragma once

#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include <string>
#include <type_traits>

#include "pyo3cpp/buffer.hpp"

namespace pyo3cpp {

template <class T, class Shape = shape<any>, layout L = layout::c>
class ConvertingView : public BufferView<const T, Shape, L> {
    static_assert(!std::is_const_v<T>, "pyo3cpp::ConvertingView<T>: T without const (the view is read-only)");
    using Base = BufferView<const T, Shape, L>;
    struct Acquired {
        Py_buffer view;
        int converted;
    };

public:
    ConvertingView(Python py, Borrowed<PyAny> object) : ConvertingView(acquire(py, object)) {}
    // True when the view is of a converted copy, not of the argument's own memory.
    bool converted() const noexcept { return converted_; }

    // Whether `object` matches without a conversion (an overload set's first pass).
    static bool matches_as_is(Borrowed<PyAny> object) noexcept
    {
        Py_buffer view{};
        if (pyo3cpp_buffer_acquire(object.as_ptr(), &view, detail::buffer_element<T>::kind, sizeof(T),
                                   static_cast<int>(Shape::ndim), Shape::extents.data(), static_cast<int>(L), 0) != 0) {
            PyErr_Clear();
            return false;
        }
        PyBuffer_Release(&view);
        return true;
    }

private:
    explicit ConvertingView(const Acquired &acquired) noexcept
        : Base(typename Base::adopt_t{}, acquired.view), converted_(acquired.converted != 0)
    {
    }
    static Acquired acquire(Python py, Borrowed<PyAny> object)
    {
        Acquired acquired{{}, 0};
        if (pyo3cpp_buffer_acquire_converted(object.as_ptr(), &acquired.view, detail::buffer_element<T>::kind,
                                             sizeof(T), static_cast<int>(Shape::ndim), Shape::extents.data(),
                                             static_cast<int>(L), &acquired.converted) != 0) {
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_RuntimeError, "pyo3cpp: a buffer needs an attached thread");
            throw_fetched(py);
        }
        return acquired;
    }
    bool converted_;
};

template <class T, class Shape, layout L> struct FromPython<ConvertingView<T, Shape, L>> {
    static ConvertingView<T, Shape, L> extract(Borrowed<PyAny> object)
    {
        return ConvertingView<T, Shape, L>(Python::assume_attached(), object);
    }
    static bool exact(Borrowed<PyAny> object) { return ConvertingView<T, Shape, L>::matches_as_is(object); }
};
template <class T, class Shape, layout L> struct TypeHint<ConvertingView<T, Shape, L>> {
    static std::string text() { return "buffer"; }
};

}  // namespace pyo3cpp
