// buffer.cpp — the compiled half of the buffer protocol (include/pyo3cpp/buffer.hpp,
// class_buffer.hpp, array.hpp): reading a buffer's format string, checking an exporter's buffer
// against what a typed parameter asks for (with the TypeError text), filling a Py_buffer for a
// bound class's export, and the owner object behind arrays returned from C++.
//
// Nothing here is a template: the headers pass the element's kind and size, the dimensions and
// the layout as plain values. Every function runs attached.
#include <Python.h>  // first, as CPython requires: its pyconfig.h sets feature macros

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

#include "runtime_state.h"

using namespace pyo3cpp::detail;

namespace {

// Byte order and sizes of a format string's prefix: '@' (or none) native order, native sizes;
// '=' native order, standard sizes; '<' '>' '!' explicit order, standard sizes.
bool little_endian() noexcept
{
    const std::uint16_t probe = 1;
    unsigned char first;
    std::memcpy(&first, &probe, 1);
    return first == 1;
}

// The one scalar `format` describes (NULL means "B"): kind 'i' signed, 'u' unsigned, 'f'
// floating point, 'b' bool, and its size. False for anything else: a struct, a repeat count, a
// byte order other than the machine's (for items wider than a byte), pointers, 'c', 's', 'x'.
bool format_scalar(const char *format, char &kind, Py_ssize_t &size) noexcept
{
    if (format == nullptr) format = "B";
    bool native_sizes = true;
    bool foreign_order = false;
    switch (*format) {
        case '@': ++format; break;
        case '=': native_sizes = false; ++format; break;
        case '<': native_sizes = false; foreign_order = !little_endian(); ++format; break;
        case '>':
        case '!': native_sizes = false; foreign_order = little_endian(); ++format; break;
        default: break;
    }
    if (format[0] == '\0' || format[1] != '\0') return false;
    switch (format[0]) {
        case 'b': kind = 'i'; size = 1; break;
        case 'B': kind = 'u'; size = 1; break;
        case '?': kind = 'b'; size = 1; break;
        case 'h': kind = 'i'; size = 2; break;
        case 'H': kind = 'u'; size = 2; break;
        case 'i': kind = 'i'; size = native_sizes ? sizeof(int) : 4; break;
        case 'I': kind = 'u'; size = native_sizes ? sizeof(unsigned) : 4; break;
        case 'l': kind = 'i'; size = native_sizes ? sizeof(long) : 4; break;
        case 'L': kind = 'u'; size = native_sizes ? sizeof(unsigned long) : 4; break;
        case 'q': kind = 'i'; size = 8; break;
        case 'Q': kind = 'u'; size = 8; break;
        case 'n': if (!native_sizes) return false; kind = 'i'; size = sizeof(Py_ssize_t); break;
        case 'N': if (!native_sizes) return false; kind = 'u'; size = sizeof(size_t); break;
        case 'e': kind = 'f'; size = 2; break;
        case 'f': kind = 'f'; size = 4; break;
        case 'd': kind = 'f'; size = 8; break;
        default: return false;
    }
    return !(foreign_order && size > 1);
}

// "float64", "int32", "uint8", "bool": the element named as NumPy names its dtypes.
std::string element_name(char kind, Py_ssize_t size)
{
    if (kind == 'b') return "bool";
    const char *stem = kind == 'f' ? "float" : kind == 'u' ? "uint" : "int";
    return stem + std::to_string(size * 8);
}

const char *short_type_name(PyObject *object) noexcept
{
    const char *name = Py_TYPE(object)->tp_name;  // short, as CPython's own messages
    if (const char *dot = std::strrchr(name, '.')) name = dot + 1;
    return name;
}

std::string shape_text(int ndim, const Py_ssize_t *shape, bool wildcard)
{
    std::string text = "(";
    for (int i = 0; i < ndim; ++i) {
        if (i != 0) text += ", ";
        text += wildcard && shape[i] < 0 ? std::string("*") : std::to_string(shape[i]);
    }
    if (ndim == 1) text += ",";
    return text + ")";
}

// "a writable C-contiguous 2-dimensional buffer of float64 with shape (*, 3)"
std::string expected_text(char kind, Py_ssize_t itemsize, int ndim, const Py_ssize_t *extents, int layout,
                          int writable)
{
    std::string text = "a ";
    if (writable) text += "writable ";
    if (layout == 1) text += "C-contiguous ";
    if (layout == 2) text += "Fortran-contiguous ";
    text += std::to_string(ndim) + "-dimensional buffer of " + element_name(kind, itemsize);
    bool fixed = false;
    for (int i = 0; extents != nullptr && i < ndim; ++i) fixed = fixed || extents[i] >= 0;
    if (fixed) text += " with shape " + shape_text(ndim, extents, true);
    return text;
}

// "bytes (read-only 1-dimensional buffer of uint8 with shape (3,))"
std::string actual_text(PyObject *object, const Py_buffer *view)
{
    std::string text = short_type_name(object);
    text += " (";
    if (view->readonly) text += "read-only ";
    if (!PyBuffer_IsContiguous(view, 'A')) text += "non-contiguous ";
    else if (view->ndim > 1 && !PyBuffer_IsContiguous(view, 'C')) text += "Fortran-contiguous ";
    text += std::to_string(view->ndim) + "-dimensional buffer of ";
    char kind;
    Py_ssize_t size;
    if (format_scalar(view->format, kind, size) && size == view->itemsize)
        text += element_name(kind, size);
    else
        text += std::string("format '") + (view->format != nullptr ? view->format : "B") + "'";
    if (view->shape != nullptr) text += " with shape " + shape_text(view->ndim, view->shape, false);
    return text + ")";
}

bool matches(const Py_buffer *view, char kind, Py_ssize_t itemsize, int ndim, const Py_ssize_t *extents, int layout,
             int writable) noexcept
{
    char actual_kind;
    Py_ssize_t actual_size;
    if (!format_scalar(view->format, actual_kind, actual_size)) return false;
    if (actual_kind != kind || actual_size != itemsize || view->itemsize != itemsize) return false;
    if (view->ndim != ndim || (writable && view->readonly)) return false;
    for (int i = 0; extents != nullptr && i < ndim; ++i) {
        const Py_ssize_t extent = view->shape != nullptr ? view->shape[i] : view->len / itemsize;
        if (extents[i] >= 0 && extent != extents[i]) return false;
    }
    if (layout == 1 && !PyBuffer_IsContiguous(view, 'C')) return false;
    if (layout == 2 && !PyBuffer_IsContiguous(view, 'F')) return false;
    return true;
}

// --------------------------------------------------------------------------- array owner

// The object behind an array returned from C++: its memory (released by the C++ side's callback
// when the last consumer is gone) and its C-contiguous geometry.
struct ArrayOwner {
    PyObject_VAR_HEAD  // ob_size: 2 * ndim (shape, then strides, in `geometry`)
    void *data;
    const char *format;
    Py_ssize_t itemsize;
    void (*release)(void *ctx);
    void *ctx;
    int ndim;
    Py_ssize_t geometry[1];
};

int owner_getbuffer(PyObject *self, Py_buffer *view, int flags)
{
    auto *owner = reinterpret_cast<ArrayOwner *>(self);
    return pyo3cpp_buffer_fill(view, self, owner->data, owner->format, owner->itemsize, owner->ndim,
                               owner->geometry, owner->geometry + owner->ndim, 0, flags);
}

void owner_releasebuffer(PyObject *, Py_buffer *view) { pyo3cpp_buffer_fill_release(view); }

void owner_dealloc(PyObject *self)
{
    auto *owner = reinterpret_cast<ArrayOwner *>(self);
    if (owner->release != nullptr) owner->release(owner->ctx);
    PyTypeObject *type = Py_TYPE(self);
    type->tp_free(self);
    Py_DECREF(type);
}

PyType_Slot owner_slots[] = {
    {Py_tp_dealloc, reinterpret_cast<void *>(&owner_dealloc)},
    {Py_bf_getbuffer, reinterpret_cast<void *>(&owner_getbuffer)},
    {Py_bf_releasebuffer, reinterpret_cast<void *>(&owner_releasebuffer)},
    {Py_tp_doc, const_cast<char *>("Memory owned by C++, exported to a memoryview or NumPy array.")},
    {0, nullptr},
};
PyType_Spec owner_spec = {"pyo3cpp.ArrayOwner", static_cast<int>(offsetof(ArrayOwner, geometry)),
                          static_cast<int>(sizeof(Py_ssize_t)),
                          Py_TPFLAGS_DEFAULT
#if PY_VERSION_HEX >= 0x030A0000
                              | Py_TPFLAGS_IMMUTABLETYPE | Py_TPFLAGS_DISALLOW_INSTANTIATION
#endif
                          ,
                          owner_slots};

// The type, made once per interpreter life: forgotten (not freed: the interpreter that owned it
// is gone) when the interpreter finalises.
std::atomic<PyObject *> g_owner_type{nullptr};
void forget_owner_type(void *) { g_owner_type.store(nullptr, std::memory_order_release); }

PyTypeObject *owner_type()
{
    PyObject *type = g_owner_type.load(std::memory_order_acquire);
    if (type != nullptr) return reinterpret_cast<PyTypeObject *>(type);
    PyObject *made = PyType_FromSpec(&owner_spec);
    if (made == nullptr) return nullptr;
    PyObject *expected = nullptr;
    if (!g_owner_type.compare_exchange_strong(expected, made, std::memory_order_acq_rel)) {
        Py_DECREF(made);  // another thread made it first
        return reinterpret_cast<PyTypeObject *>(expected);
    }
    if (pyo3cpp_on_finalize(&forget_owner_type, nullptr) != 0) PyErr_Clear();
    return reinterpret_cast<PyTypeObject *>(made);
}

// NumPy once found importable (1) or not (2) in this process: a failed import is not retried on
// every call (it searches sys.path).
std::atomic<int> g_numpy_state{0};

// numpy as a new reference; NULL with no exception set when it is not importable, NULL with the
// exception set when importing it failed otherwise.
PyObject *import_numpy()
{
    if (g_numpy_state.load(std::memory_order_relaxed) == 2) return nullptr;
    PyObject *numpy = PyImport_ImportModule("numpy");
    if (numpy == nullptr) {
        if (!PyErr_ExceptionMatches(PyExc_ImportError)) return nullptr;
        PyErr_Clear();
        g_numpy_state.store(2, std::memory_order_relaxed);
        return nullptr;
    }
    g_numpy_state.store(1, std::memory_order_relaxed);
    return numpy;
}

PyObject *numpy_array_of(PyObject *memoryview)
{
    PyObject *numpy = import_numpy();
    if (numpy == nullptr) {
        if (PyErr_Occurred()) {
            Py_DECREF(memoryview);
            return nullptr;
        }
        return memoryview;
    }
    PyObject *array = PyObject_CallMethod(numpy, "asarray", "O", memoryview);
    Py_DECREF(numpy);
    Py_DECREF(memoryview);  // the array's base keeps it (and the owner) alive
    return array;
}

// The text of the exception being raised (its str()), cleared; "" when there is none or it has
// none.
std::string take_error_text()
{
#if PY_VERSION_HEX >= 0x030C0000
    PyObject *value = PyErr_GetRaisedException();
#else
    PyObject *type = nullptr, *value = nullptr, *traceback = nullptr;
    PyErr_Fetch(&type, &value, &traceback);
    PyErr_NormalizeException(&type, &value, &traceback);
    Py_XDECREF(type);
    Py_XDECREF(traceback);
#endif
    std::string text;
    if (value != nullptr) {
        if (PyObject *str = PyObject_Str(value)) {
            if (const char *utf8 = PyUnicode_AsUTF8(str)) text = utf8;
            Py_DECREF(str);
        }
        Py_DECREF(value);
    }
    PyErr_Clear();
    return text;
}

// numpy.asarray(object, dtype=..., order=...) for a converting view, as a new reference; NULL
// with no exception set when NumPy is not importable, with one set when it refused.
PyObject *numpy_converted(PyObject *object, char kind, Py_ssize_t itemsize, int layout)
{
    PyObject *numpy = import_numpy();
    if (numpy == nullptr) return nullptr;
    // NumPy's type strings: "f4", "u4", "b1" (bool), in the machine's byte order.
    char dtype[8] = {kind == 'b' ? 'b' : kind, static_cast<char>('0' + itemsize), '\0'};
    const char *order = layout == 1 ? "C" : layout == 2 ? "F" : "K";
    PyObject *converted = PyObject_CallMethod(numpy, "asarray", "Oss", object, dtype, order);
    Py_DECREF(numpy);
    return converted;
}

}  // namespace

extern "C" {

PYO3CPP_API int pyo3cpp_buffer_acquire(PyObject *object, void *view_ptr, char kind, Py_ssize_t itemsize, int ndim,
                                       const Py_ssize_t *extents, int layout, int writable)
{
    auto *view = static_cast<Py_buffer *>(view_ptr);
    if (runtime_finalized() || !thread_is_attached()) return -1;  // no exception: not attached
    if (object == nullptr || view == nullptr || ndim < 0 || ndim > 64 || itemsize <= 0 || layout < 0 ||
        layout > 2 || (kind != 'i' && kind != 'u' && kind != 'f' && kind != 'b')) {
        PyErr_SetString(PyExc_ValueError, "pyo3cpp_buffer_acquire: invalid arguments");
        return -1;
    }
    if (!PyObject_CheckBuffer(object)) {
        std::string text = "must be " + expected_text(kind, itemsize, ndim, extents, layout, writable) +
                           ", not " + short_type_name(object);
        PyErr_SetString(PyExc_TypeError, text.c_str());
        return -1;
    }
    if (PyObject_GetBuffer(object, view, PyBUF_RECORDS_RO) != 0) return -1;
    if (matches(view, kind, itemsize, ndim, extents, layout, writable)) return 0;
    std::string text;
    try {
        text = "must be " + expected_text(kind, itemsize, ndim, extents, layout, writable) + ", not " +
               actual_text(object, view);
    } catch (...) {
        text = "the buffer does not have the expected element type, dimensions or layout";
    }
    PyBuffer_Release(view);
    PyErr_SetString(PyExc_TypeError, text.c_str());
    return -1;
}

PYO3CPP_API int pyo3cpp_buffer_acquire_converted(PyObject *object, void *view_ptr, char kind, Py_ssize_t itemsize,
                                                 int ndim, const Py_ssize_t *extents, int layout, int *converted)
{
    if (converted != nullptr) *converted = 0;
    if (runtime_finalized() || !thread_is_attached()) return -1;  // no exception: not attached
    if (pyo3cpp_buffer_acquire(object, view_ptr, kind, itemsize, ndim, extents, layout, 0) == 0) return 0;
    if (!PyErr_Occurred() || !PyErr_ExceptionMatches(PyExc_TypeError) || itemsize > 8) return -1;
    // The argument's own mismatch: the message every refusal below repeats (it describes what the
    // caller passed, not a converted copy of it).
    std::string refusal;
    try {
        refusal = take_error_text();
        PyObject *copy = numpy_converted(object, kind, itemsize, layout);
        if (copy == nullptr) {
            if (PyErr_Occurred())
                refusal += "; NumPy could not convert it: " + take_error_text();
            else
                refusal += "; converting it needs NumPy, which is not importable";
        } else {
            const int rc = pyo3cpp_buffer_acquire(copy, view_ptr, kind, itemsize, ndim, extents, layout, 0);
            Py_DECREF(copy);  // the view holds it, or it is gone
            if (rc == 0) {
                if (converted != nullptr) *converted = 1;
                return 0;
            }
            PyErr_Clear();  // a shape NumPy cannot change: the argument's own mismatch says it
        }
    } catch (...) {  // std::bad_alloc from the message
        PyErr_NoMemory();
        return -1;
    }
    PyErr_SetString(PyExc_TypeError, refusal.c_str());
    return -1;
}

PYO3CPP_API int pyo3cpp_buffer_fill(void *view_ptr, PyObject *exporter, void *data, const char *format,
                                    Py_ssize_t itemsize, int ndim, const Py_ssize_t *shape, const Py_ssize_t *strides,
                                    int readonly, int flags)
{
    auto *view = static_cast<Py_buffer *>(view_ptr);
    if (runtime_finalized() || !thread_is_attached()) return -1;  // no exception: not attached
    if (view == nullptr) {
        PyErr_SetString(PyExc_BufferError, "pyo3cpp_buffer_fill: NULL view");
        return -1;
    }
    view->obj = nullptr;
    if (exporter == nullptr || format == nullptr || itemsize <= 0 || ndim < 0 || ndim > 64 ||
        (ndim > 0 && shape == nullptr)) {
        PyErr_SetString(PyExc_BufferError, "pyo3cpp_buffer_fill: invalid arguments");
        return -1;
    }
    if ((flags & PyBUF_WRITABLE) != 0 && readonly) {
        PyErr_SetString(PyExc_BufferError, "the buffer is read-only");
        return -1;
    }
    auto *geometry = static_cast<Py_ssize_t *>(std::malloc(sizeof(Py_ssize_t) * (2 * static_cast<size_t>(ndim) + 1)));
    if (geometry == nullptr) {
        PyErr_NoMemory();
        return -1;
    }
    Py_ssize_t *own_shape = geometry;
    Py_ssize_t *own_strides = geometry + ndim;
    Py_ssize_t count = 1;
    for (int i = 0; i < ndim; ++i) {
        if (shape[i] < 0) {
            std::free(geometry);
            PyErr_SetString(PyExc_BufferError, "pyo3cpp_buffer_fill: a negative extent");
            return -1;
        }
        own_shape[i] = shape[i];
        count *= shape[i];
    }
    if (strides != nullptr) {
        for (int i = 0; i < ndim; ++i) own_strides[i] = strides[i];
    } else {
        Py_ssize_t step = itemsize;  // C order
        for (int i = ndim - 1; i >= 0; --i) {
            own_strides[i] = step;
            step *= own_shape[i];
        }
    }
    view->buf = data;
    view->len = count * itemsize;
    view->itemsize = itemsize;
    view->readonly = readonly ? 1 : 0;
    view->ndim = ndim;
    view->format = (flags & PyBUF_FORMAT) != 0 ? const_cast<char *>(format) : nullptr;
    view->shape = own_shape;
    view->strides = own_strides;
    view->suboffsets = nullptr;
    view->internal = geometry;
    // What the consumer did not ask for it cannot be given: without strides it reads the memory
    // as C-contiguous, without a shape as one run of bytes.
    const char *refusal = nullptr;
    if ((flags & PyBUF_STRIDES) != PyBUF_STRIDES) {
        if (!PyBuffer_IsContiguous(view, 'C')) refusal = "the buffer is not C-contiguous";
        view->strides = nullptr;
        if ((flags & PyBUF_ND) != PyBUF_ND) view->shape = nullptr;
    }
    if ((flags & PyBUF_C_CONTIGUOUS) == PyBUF_C_CONTIGUOUS && !PyBuffer_IsContiguous(view, 'C'))
        refusal = "the buffer is not C-contiguous";
    else if ((flags & PyBUF_F_CONTIGUOUS) == PyBUF_F_CONTIGUOUS && !PyBuffer_IsContiguous(view, 'F'))
        refusal = "the buffer is not Fortran-contiguous";
    else if ((flags & PyBUF_ANY_CONTIGUOUS) == PyBUF_ANY_CONTIGUOUS && !PyBuffer_IsContiguous(view, 'A'))
        refusal = "the buffer is not contiguous";
    if (refusal != nullptr) {
        std::free(geometry);
        view->internal = nullptr;
        PyErr_SetString(PyExc_BufferError, refusal);
        return -1;
    }
    Py_INCREF(exporter);
    view->obj = exporter;
    return 0;
}

PYO3CPP_API void pyo3cpp_buffer_fill_release(void *view_ptr) PYO3CPP_NOEXCEPT
{
    auto *view = static_cast<Py_buffer *>(view_ptr);
    if (view == nullptr) return;
    std::free(view->internal);
    view->internal = nullptr;
}

PYO3CPP_API PyObject *pyo3cpp_array_new(void *data, const char *format, Py_ssize_t itemsize, int ndim,
                                        const Py_ssize_t *shape, void (*release)(void *ctx), void *ctx, int as_numpy)
{
    // Ownership passes in every case: whatever fails, the memory is released here.
    auto fail = [&]() -> PyObject * {
        if (release != nullptr) release(ctx);
        return nullptr;
    };
    if (runtime_finalized() || !thread_is_attached()) return fail();  // no exception: not attached
    char kind;
    Py_ssize_t size;
    if (format == nullptr || !format_scalar(format, kind, size) || size != itemsize || ndim < 0 || ndim > 64 ||
        (ndim > 0 && shape == nullptr)) {
        PyErr_SetString(PyExc_ValueError, "pyo3cpp_array_new: invalid arguments");
        return fail();
    }
    for (int i = 0; i < ndim; ++i)
        if (shape[i] < 0) {
            PyErr_SetString(PyExc_ValueError, "pyo3cpp_array_new: a negative extent");
            return fail();
        }
    PyTypeObject *type = owner_type();
    if (type == nullptr) return fail();
    auto *owner = PyObject_NewVar(ArrayOwner, type, 2 * ndim);
    if (owner == nullptr) return fail();
    owner->data = data;
    owner->format = format;
    owner->itemsize = itemsize;
    owner->release = release;
    owner->ctx = ctx;
    owner->ndim = ndim;
    Py_ssize_t step = itemsize;
    for (int i = ndim - 1; i >= 0; --i) {
        owner->geometry[i] = shape[i];
        owner->geometry[ndim + i] = step;
        step *= shape[i];
    }
    PyObject *view = PyMemoryView_FromObject(reinterpret_cast<PyObject *>(owner));
    Py_DECREF(owner);  // the memoryview holds it now (or it is gone, with its memory)
    if (view == nullptr || !as_numpy) return view;
    return numpy_array_of(view);
}

}  // extern "C"
