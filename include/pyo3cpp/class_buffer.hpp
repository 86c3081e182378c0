// class_buffer.hpp — a bound class that exports its memory through the buffer protocol
// (memoryview(obj), bytes(obj), numpy.asarray(obj) see T's memory, no copy), and methods that
// refuse to reallocate that memory while an export of it is alive.
//
//   struct Samples {
//       std::vector<double> values;
//       pyo3cpp::BufferExports exports;                 // counts the live exports
//       pyo3cpp::BufferInfo buffer() { return pyo3cpp::BufferInfo::of(values); }
//       void append(double x) { values.push_back(x); }  // may move `values`
//   };
//   PYO3CPP_CLASS(Samples);
//   m.add_class<Samples>("Samples")
//       .def_buffer(&Samples::buffer, &Samples::exports)
//       .def("append", pyo3cpp::reallocating<&Samples::exports>(&Samples::append), arg("x"));
//
// Contract:
//   - def_buffer(describe, &T::exports): the class's bf_getbuffer calls describe(T&) — a member
//     function or a callable taking T& — under the instance's shared lock (it must only read T)
//     and exports what the BufferInfo says: data, element format (from the element type), shape,
//     strides in bytes (C order when not given), read-only for a const element pointer. A
//     consumer asking for a writable buffer of a read-only one, or for a contiguity the strides
//     do not have, gets BufferError. The export holds a reference to the instance (view->obj).
//   - BufferExports counts the live exports; the count rises under the lock, in bf_getbuffer,
//     and falls in bf_releasebuffer (no lock: giving an export back never has to wait).
//   - reallocating<&T::exports>(&T::method): the method, for a `locked` class only (checked at
//     compile time), raises BufferError while the count is not zero, as bytearray's resize does.
//     It takes the instance exclusively, so its check and an export's increment never overlap:
//     an export racing a resize either sees the memory before the resize or after it, and a
//     resize either runs with no export alive or raises. Methods not marked may still write
//     the elements in place while exports are alive (a consumer sees the writes; no reallocation).
//   - C++ code that reallocates outside such a method checks exports.active() itself.
//   - An export asked for from inside a method holding the same instance exclusively (a
//     T& method that calls memoryview(self) through a Bound<T>) raises RuntimeError, as any
//     re-entrance does (instance_lock.hpp), instead of deadlocking.
// Thread: slots on any attached thread. Cost: a getbuffer is the shared lock, describe(), one
// call into the runtime (which allocates the exported shape and strides) and an atomic add; a
// marked method one acquire load more than the unmarked one.
#pragma once

#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <functional>
#include <initializer_list>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "pyo3cpp/buffer.hpp"
#include "pyo3cpp/class_object.hpp"
#include "pyo3cpp/exception_translation.hpp"

namespace pyo3cpp {

namespace detail {
template <class T> struct BufferSlots;
}

// The number of live buffer exports of one instance (a member of T; see def_buffer).
class BufferExports {
public:
    BufferExports() noexcept = default;
    // A copy of T (copy.copy, a T returned by value) starts with no exports of its own.
    BufferExports(const BufferExports &) noexcept {}
    BufferExports &operator=(const BufferExports &) noexcept { return *this; }
    Py_ssize_t active() const noexcept { return count_.load(std::memory_order_acquire); }

private:
    template <class T> friend struct detail::BufferSlots;
    std::atomic<Py_ssize_t> count_{0};
};

// What an exported buffer is: from describe() of def_buffer.
struct BufferInfo {
    static constexpr int kMaxDims = 8;
    void *data = nullptr;
    const char *format = "B";  // a string literal (it must outlive every export)
    Py_ssize_t itemsize = 1;
    int ndim = 0;
    Py_ssize_t shape[kMaxDims] = {};
    Py_ssize_t strides[kMaxDims] = {};  // in bytes
    bool strides_given = false;          // false: C order
    bool readonly = false;

    // `data` viewed with `shape` (C order) or `shape` and `strides` in bytes; const E: read-only.
    template <class E>
    static BufferInfo of(E *data, std::initializer_list<Py_ssize_t> shape, std::initializer_list<Py_ssize_t> strides = {})
    {
        using Element = std::remove_const_t<E>;
        BufferInfo info;
        info.data = const_cast<Element *>(data);
        info.format = detail::buffer_element<Element>::format();
        info.itemsize = sizeof(Element);
        info.readonly = std::is_const_v<E>;
        info.ndim = static_cast<int>(std::min<std::size_t>(shape.size(), kMaxDims));
        std::copy_n(shape.begin(), info.ndim, info.shape);
        if (strides.size() != 0) {
            info.strides_given = true;
            std::copy_n(strides.begin(), std::min<std::size_t>(strides.size(), kMaxDims), info.strides);
        }
        return info;
    }
    template <class E, class A> static BufferInfo of(std::vector<E, A> &values)
    {
        return of(values.data(), {static_cast<Py_ssize_t>(values.size())});
    }
    template <class E, class A> static BufferInfo of(const std::vector<E, A> &values)
    {
        return of(values.data(), {static_cast<Py_ssize_t>(values.size())});
    }
};

namespace detail {

[[noreturn, gnu::cold]] inline void raise_exported(Python py, const char *cls, Py_ssize_t exports)
{
    std::string text = std::string("cannot reallocate the memory of a ") + cls + " while it is exported (" +
                       std::to_string(exports) + (exports == 1 ? " memoryview or array of it is" : " memoryviews or arrays of it are") +
                       " alive)";
    throw PyErr::new_err(py, PyExc_BufferError, text);
}

template <class T> struct BufferSlots {
    static inline std::function<BufferInfo(T &)> describe;
    static inline BufferExports T::*exports = nullptr;

    static int getbuffer(PyObject *self, Py_buffer *view, int flags)
    {
        view->obj = nullptr;
        try {
            Python py = Python::assume_attached();
            Access<T, false> access(py, self, "__buffer__");  // shared: excludes reallocating methods
            T &value = const_cast<T &>(access.get());
            const BufferInfo info = describe(value);
            if (pyo3cpp_buffer_fill(view, self, info.data, info.format, info.itemsize, info.ndim, info.shape,
                                    info.strides_given ? info.strides : nullptr, info.readonly, flags) != 0) {
                if (!PyErr_Occurred()) PyErr_SetString(PyExc_BufferError, "the buffer could not be exported");
                return -1;
            }
            (value.*exports).count_.fetch_add(1, std::memory_order_relaxed);  // under the lock
            return 0;
        } PYO3CPP_CATCH_ALL {
            translate_current_exception(Python::assume_attached());
            return -1;
        }
    }
    static void releasebuffer(PyObject *self, Py_buffer *view)
    {
        pyo3cpp_buffer_fill_release(view);
        // The export holds the instance, so its T is still there (a reference's owner too).
        Instance<T> *inst = Instance<T>::of(self);
        T *value = inst->ready() ? inst->value()
                                 : static_cast<T *>(inst->refers().value);
        (value->*exports).count_.fetch_sub(1, std::memory_order_release);
    }
    static void add_slots(std::vector<PyType_Slot> &slots)
    {
        if (!describe) return;
        slots.push_back({Py_bf_getbuffer, reinterpret_cast<void *>(&getbuffer)});
        slots.push_back({Py_bf_releasebuffer, reinterpret_cast<void *>(&releasebuffer)});
    }
};

}  // namespace detail

// A method that may reallocate the exported memory: BufferError while an export is alive.
template <auto Exports, class T, class R, class... A> auto reallocating(R (T::*method)(A...))
{
    static_assert(std::is_same_v<decltype(Exports), BufferExports T::*>,
                  "pyo3cpp::reallocating<&T::exports>: a BufferExports member of the method's class");
    static_assert(is_locked_v<T>,
                  "pyo3cpp::reallocating: only a `locked` class can check its exports atomically with a resize");
    return [method](T &self, A... args) -> R {
        if (const Py_ssize_t exports = (self.*Exports).active(); exports != 0) [[unlikely]]
            detail::raise_exported(Python::assume_attached(), detail::ClassBinding<T>::name, exports);
        return (self.*method)(std::forward<A>(args)...);
    };
}

}  // namespace pyo3cpp
