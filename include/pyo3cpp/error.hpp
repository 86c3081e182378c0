// error.hpp — PyErr: a C++ exception that owns a Python exception, cheap to fetch, match and drop.
//
// Contract: every throwing pyo3cpp call that fails in CPython throws PyErr holding the fetched
// exception, after clearing the thread's error indicator. The non-throwing forms (try_call,
// try_call_method, ...: result.hpp) return the same PyErr inside a PyResult instead. Either way:
//   - `matches(py, PyExc_KeyError)` tests its type like `except KeyError` (a type or a tuple).
//   - `restore(py)` hands it back to CPython (module functions do this for you: module.hpp).
//     `std::move(err).restore(py)` gives its references away instead of copying them.
//   - `value(py)`, `type(py)`, `traceback(py)`: the exception instance, its type, its traceback
//     (None when absent).
//   - An ordinary C++ value: movable; copyable on any thread, attached or not (copies share one
//     exception, one normalised instance and one what() text); destructible on any thread (like
//     Py<T>: an immediate decref when attached, otherwise deferred to the runtime's pool, leaked
//     after finalisation). A moved-from PyErr is empty: destroy or assign it; matches() is false,
//     what() a fixed text, restore() raises SystemError saying so.
//
// what() is "KeyError: 'x'" (the type name, and str(value) when it is not empty), formatted on
// first use rather than when the exception is fetched: most PyErrs are matched and dropped,
// never printed, and str() runs arbitrary Python code. what() never throws, may be called on
// any thread, attached or not (a thread that is not attached attaches for it, with try_attach),
// and leaves the thread's pending Python error, if any, as it found it. When the interpreter
// cannot be attached (before initialisation, during or after finalisation) the text is the type
// name for built-in exception types and a fixed text otherwise; so is it when str() raises (its
// error is discarded). Copies share one text: threads asking for it at the same moment may each
// format it (never blocking), the first one stored wins, every copy returns that one.
//
// Example:
//     try { d.getattr("missing"); }
//     catch (const pyo3cpp::PyErr &e) { if (!e.matches(py, PyExc_AttributeError)) throw; }
//
// What a PyErr holds, and why (the cost of an error nobody prints is the C API's cost):
//   - CPython 3.12+: the one exception object the thread held (PyErr_GetRaisedException).
//   - CPython 3.11: the (type, value, traceback) triple exactly as PyErr_Fetch gives it, NOT
//     normalised. A KeyError raised by C code is (KeyError, ('x',), NULL): making the KeyError
//     instance costs more than the whole failed lookup, and matching needs only the type. The
//     instance is made on the first value()/what() (PyErr_NormalizeException, once, shared by
//     copies); restore() hands back the triple as it came (or the instance once made).
//   - One pointer to a shared block, null until the PyErr is first copied, asked for what(), or
//     (3.11) normalised. Fetching, matching and dropping an error never allocates.
// Why a block shared by copies (an atomic count of holders) rather than increfs per copy: a copy
// may be made on a thread that is not attached (an exception captured into a std::thread, an
// exception_ptr rethrown elsewhere), where an incref is a data race on a GIL build, and
// attaching to incref could block on the GIL (deadlock if its holder waits for this thread) or
// be refused during finalisation. The block owns the references once it exists: every copy
// holds the same pointers and the last holder releases them. It also gives copies one text and
// one normalised instance. The pointers themselves never change after construction, so reading
// them (matches, copying) needs no lock.
//
// Cost: fetch is PyErr_Fetch / PyErr_GetRaisedException plus a few stores; matches() is
// PyErr_GivenExceptionMatches; dropping is one attachment check (about 40 instructions on 3.11)
// plus the decrefs, or the decrefs alone with drop(py) or inside a PyResult<Bound>. The first
// copy allocates the block (std::bad_alloc is the one exception copying can throw). Throwing and
// catching the C++ exception costs far more than all of that (the unwinder: bench
// raise_catch_keyerror); where a failure is expected, use the PyResult forms (result.hpp) or
// the optional forms (dict.get_item, getattr_opt).
#pragma once

#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include <atomic>
#include <cstddef>
#include <cstring>
#include <exception>
#include <new>
#include <string>
#include <utility>

#include "pyo3cpp/attach.hpp"
#include "pyo3cpp/borrowed.hpp"
#include "pyo3cpp/compat.hpp"

#if PY_VERSION_HEX >= 0x030C0000
#define PYO3CPP_ERR_SINGLE_OBJECT 1
#else
#define PYO3CPP_ERR_SINGLE_OBJECT 0
#endif

namespace pyo3cpp {

namespace detail {

// Sets the caller's pending error aside for a scope that runs Python code (calling into Python
// with an error set is a bug CPython's debug build asserts on) and puts it back exactly as it
// was; an error raised inside the scope and still pending at its end is discarded.
class KeepPendingError {
public:
#if PYO3CPP_ERR_SINGLE_OBJECT
    KeepPendingError() noexcept : saved_(PyErr_GetRaisedException()) {}
    ~KeepPendingError()
    {
        PyErr_Clear();
        PyErr_SetRaisedException(saved_);
    }
#else
    KeepPendingError() noexcept { PyErr_Fetch(&type_, &value_, &traceback_); }
    ~KeepPendingError()
    {
        PyErr_Clear();
        PyErr_Restore(type_, value_, traceback_);
    }
#endif
    KeepPendingError(const KeepPendingError &) = delete;
    KeepPendingError &operator=(const KeepPendingError &) = delete;

private:
#if PYO3CPP_ERR_SINGLE_OBJECT
    PyObject *saved_;
#else
    PyObject *type_ = nullptr, *value_ = nullptr, *traceback_ = nullptr;
#endif
};

}  // namespace detail

class PyErr : public std::exception {
public:
    // Takes the exception currently set on this thread. If none is set (a CPython bug or a
    // misuse), a SystemError saying so is taken instead: a fetched PyErr is never empty.
    static PyErr fetch(Python py) noexcept { return PyErr{Fetched{}, py}; }

    // Takes ownership of an exception instance (a new reference), e.g. one built by calling an
    // exception type. Anything that is not an exception instance gives a TypeError instead.
    static PyErr from_value(Python py, Bound<PyAny> exception)
    {
        PyObject *value = std::move(exception).into_ptr();
        if (value == nullptr || !PyExceptionInstance_Check(value)) {
            Py_XDECREF(value);
            PyErr_SetString(PyExc_TypeError, "PyErr::from_value: not an exception instance");
            return fetch(py);
        }
        PyErr err;
#if PYO3CPP_ERR_SINGLE_OBJECT
        err.exception_ = value;
#else
        err.type_ = reinterpret_cast<PyObject *>(Py_TYPE(value));
        Py_INCREF(err.type_);
        err.value_ = value;
        err.traceback_ = PyException_GetTraceback(value);
#endif
        err.builtin_type_name_ = builtin_name(err.raw_type());
        return err;
    }

    // Makes a new exception of `type` with `message`, as PyErr_SetString would.
    static PyErr new_err(Python py, PyObject *type, const char *message)
    {
        PyErr_SetString(type, message);
        return fetch(py);
    }
    static PyErr new_err(Python py, PyObject *type, const std::string &message)
    {
        return new_err(py, type, message.c_str());
    }
    [[noreturn]] static void raise(Python py, PyObject *type, const std::string &message)
    {
        throw new_err(py, type, message.c_str());
    }

    PyErr(const PyErr &other) : std::exception(other), builtin_type_name_(other.builtin_type_name_)
    {
        if (other.empty()) return;
        Shared *shared = other.shared();  // may throw std::bad_alloc (first copy only)
        shared->holders.fetch_add(1, std::memory_order_relaxed);
#if PYO3CPP_ERR_SINGLE_OBJECT
        exception_ = other.exception_;
#else
        type_ = other.type_;
        value_ = other.value_;
        traceback_ = other.traceback_;
#endif
        shared_.store(shared, std::memory_order_relaxed);
    }
    PyErr(PyErr &&other) noexcept
        : std::exception(other),
#if PYO3CPP_ERR_SINGLE_OBJECT
          exception_(std::exchange(other.exception_, nullptr)),
#else
          type_(std::exchange(other.type_, nullptr)),
          value_(std::exchange(other.value_, nullptr)),
          traceback_(std::exchange(other.traceback_, nullptr)),
#endif
          builtin_type_name_(other.builtin_type_name_),
          shared_(other.shared_.exchange(nullptr, std::memory_order_relaxed))
    {
    }
    PyErr &operator=(const PyErr &other)
    {
        if (this != &other) {
            PyErr copy(other);
            swap(copy);
        }
        return *this;
    }
    PyErr &operator=(PyErr &&other) noexcept
    {
        if (this != &other) {
            PyErr taken(std::move(other));
            swap(taken);
        }
        return *this;
    }
    ~PyErr() override
    {
        // Inline test: a moved-from, restored-by-move or dropped PyErr never calls out.
        if (!empty()) release(Attachment::unknown);
    }

    // Drops the exception now, on an attached thread: plain decrefs, no attachment check (the
    // fast way to discard an error that was matched and is not wanted, like Py::drop_ref).
    // Leaves this PyErr empty.
    void drop(Python) && noexcept
    {
        release(Attachment::attached);
        clear_fields();
    }

    // Sets this exception as the thread's current exception. The const form keeps this PyErr
    // valid (new references); the rvalue form gives this PyErr's references away when no copy
    // shares them. Then return NULL/-1 to CPython.
    void restore(Python py) const &
    {
        (void)py;
        if (empty()) return restore_empty();
#if PYO3CPP_ERR_SINGLE_OBJECT
        Py_INCREF(exception_);
        PyErr_SetRaisedException(exception_);
#else
        PyObject *value = normalized_if_made();
        PyObject *type = value ? reinterpret_cast<PyObject *>(Py_TYPE(value)) : type_;
        if (value == nullptr) value = value_;
        Py_INCREF(type);
        Py_XINCREF(value);
        Py_XINCREF(traceback_);
        PyErr_Restore(type, value, traceback_);
#endif
    }
    void restore(Python py) &&
    {
        if (shared_.load(std::memory_order_acquire) != nullptr || empty()) {
            static_cast<const PyErr &>(*this).restore(py);
            return;
        }
#if PYO3CPP_ERR_SINGLE_OBJECT
        PyErr_SetRaisedException(std::exchange(exception_, nullptr));
#else
        PyErr_Restore(std::exchange(type_, nullptr), std::exchange(value_, nullptr),
                      std::exchange(traceback_, nullptr));
#endif
    }

    // `except exc_type:` — exc_type may be a type or a tuple of types. An empty PyErr matches
    // nothing.
    bool matches(Python, PyObject *exc_type) const noexcept
    {
        PyObject *type = current_type();
        return type != nullptr && PyErr_GivenExceptionMatches(type, exc_type) != 0;
    }
    template <class T> bool matches(Python py, const Borrowed<T> &exc_type) const noexcept
    {
        return matches(py, exc_type.as_ptr());
    }
    template <class T> bool matches(Python py, const Bound<T> &exc_type) const noexcept
    {
        return matches(py, exc_type.as_ptr());
    }

    // The exception instance (a new reference; on 3.11 made on first use, then shared by
    // copies), its type, its traceback (None when absent). None for an empty PyErr.
    Bound<PyAny> value(Python py) const
    {
        if (empty()) return Bound<PyAny>(py.none());
#if PYO3CPP_ERR_SINGLE_OBJECT
        return Bound<PyAny>::from_borrowed_ptr(py, exception_);
#else
        return Bound<PyAny>::from_borrowed_ptr(py, normalized(py));
#endif
    }
    Bound<PyType> type(Python py) const
    {
        PyObject *type = current_type();
        if (type == nullptr) type = reinterpret_cast<PyObject *>(Py_TYPE(Py_None));
        return Bound<PyType>::from_borrowed_ptr(py, type);
    }
    Bound<PyAny> traceback(Python py) const
    {
#if PYO3CPP_ERR_SINGLE_OBJECT
        PyObject *tb = exception_ ? PyException_GetTraceback(exception_) : nullptr;
        return tb ? Bound<PyAny>::from_owned_ptr(py, tb) : Bound<PyAny>(py.none());
#else
        return traceback_ ? Bound<PyAny>::from_borrowed_ptr(py, traceback_)
                          : Bound<PyAny>(py.none());
#endif
    }

    const char *what() const noexcept override
    {
        if (empty()) return "pyo3cpp::PyErr (moved from)";
        if (Shared *shared = shared_.load(std::memory_order_acquire))
            if (const char *text = shared->message.load(std::memory_order_acquire)) return text;
        return format();
    }

    // True only for a PyErr that gave its exception away: moved from, restored by move, dropped.
    bool empty() const noexcept { return raw_type() == nullptr; }

    void swap(PyErr &other) noexcept
    {
#if PYO3CPP_ERR_SINGLE_OBJECT
        std::swap(exception_, other.exception_);
#else
        std::swap(type_, other.type_);
        std::swap(value_, other.value_);
        std::swap(traceback_, other.traceback_);
#endif
        std::swap(builtin_type_name_, other.builtin_type_name_);
        Shared *mine = shared_.load(std::memory_order_relaxed);
        shared_.store(other.shared_.load(std::memory_order_relaxed), std::memory_order_relaxed);
        other.shared_.store(mine, std::memory_order_relaxed);
    }

private:
    template <class> friend class PyResult;  // ends an error's life with release_attached()

    struct Fetched {};
    PyErr() noexcept = default;
    // Takes the thread's pending exception as it is (empty if none).
    PyErr(Fetched, Python) noexcept
    {
#if PYO3CPP_ERR_SINGLE_OBJECT
        exception_ = PyErr_GetRaisedException();
#else
        PyErr_Fetch(&type_, &value_, &traceback_);
#endif
        if (__builtin_expect(raw_type() == nullptr, 0)) fetch_missing();
        builtin_type_name_ = builtin_name(raw_type());
    }
    [[gnu::cold, gnu::noinline]] void fetch_missing() noexcept
    {
        PyErr_SetString(PyExc_SystemError, "error return without exception set");
#if PYO3CPP_ERR_SINGLE_OBJECT
        exception_ = PyErr_GetRaisedException();
#else
        PyErr_Fetch(&type_, &value_, &traceback_);
#endif
    }

    // What copies share (see the top of this file). Allocated by the first copy, what() or
    // (3.11) normalisation; from then on it owns the PyErr's references.
    struct Shared {
        std::atomic<std::size_t> holders{1};
        std::atomic<char *> message{nullptr};  // what()'s text (new[]; the first stored wins)
#if !PYO3CPP_ERR_SINGLE_OBJECT
        std::atomic<PyObject *> normalized{nullptr};  // the instance (owned; the first wins)
#endif
    };

    // The exception's type as fetched (3.11: the triple's type; 3.12+: the object's type).
    PyObject *raw_type() const noexcept
    {
#if PYO3CPP_ERR_SINGLE_OBJECT
        return exception_ ? reinterpret_cast<PyObject *>(Py_TYPE(exception_)) : nullptr;
#else
        return type_;
#endif
    }
    // The type matches() and type() report: on 3.11 the normalised instance's once it exists
    // (normalisation may replace the exception, e.g. when the type's __init__ raises).
    PyObject *current_type() const noexcept
    {
#if !PYO3CPP_ERR_SINGLE_OBJECT
        if (PyObject *value = normalized_if_made())
            return reinterpret_cast<PyObject *>(Py_TYPE(value));
#endif
        return raw_type();
    }

    // A static type's name outlives the interpreter (its tp_name is in the binary; a heap type's
    // is freed with the type): what() uses it when Python is gone, so it is taken at fetch.
    static const char *builtin_name(PyObject *type) noexcept
    {
        if (type == nullptr) return nullptr;
        auto *t = reinterpret_cast<PyTypeObject *>(type);
        return (t->tp_flags & Py_TPFLAGS_HEAPTYPE) ? nullptr : t->tp_name;
    }

    // The shared block, made now if it does not exist yet (racing makers: one wins, the others
    // free theirs). Throws std::bad_alloc.
    Shared *shared() const
    {
        Shared *shared = shared_.load(std::memory_order_acquire);
        if (shared != nullptr) return shared;
        return publish(new Shared);
    }
    Shared *shared_nothrow() const noexcept
    {
        Shared *shared = shared_.load(std::memory_order_acquire);
        if (shared != nullptr) return shared;
        Shared *fresh = new (std::nothrow) Shared;
        return fresh ? publish(fresh) : nullptr;
    }
    Shared *publish(Shared *fresh) const noexcept
    {
        Shared *expected = nullptr;
        if (shared_.compare_exchange_strong(expected, fresh, std::memory_order_acq_rel,
                                            std::memory_order_acquire))
            return fresh;
        delete fresh;
        return expected;
    }

    enum class Attachment { unknown, attached };
    // The last use of a PyErr whose lifetime ends without ~PyErr (PyResult's storage): releases
    // its references with plain decrefs (attached caller) and leaves the fields as they are.
    void release_attached() noexcept
    {
        if (!empty()) release(Attachment::attached);
    }
    void clear_fields() noexcept
    {
#if PYO3CPP_ERR_SINGLE_OBJECT
        exception_ = nullptr;
#else
        type_ = value_ = traceback_ = nullptr;
#endif
        shared_.store(nullptr, std::memory_order_relaxed);
    }

    // Drops this holder: the references go with the last holder (or with this PyErr when no
    // block exists). Any thread: decref now when attached, else through the runtime's pool.
    void release(Attachment attachment) noexcept
    {
        Shared *shared = shared_.load(std::memory_order_relaxed);
        if (shared != nullptr) {
            if (shared->holders.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
            delete[] shared->message.load(std::memory_order_relaxed);
#if !PYO3CPP_ERR_SINGLE_OBJECT
            PyObject *normalized = shared->normalized.load(std::memory_order_relaxed);
#endif
            delete shared;
#if !PYO3CPP_ERR_SINGLE_OBJECT
            if (normalized != nullptr) release_refs(attachment, normalized, nullptr, nullptr);
#endif
        }
#if PYO3CPP_ERR_SINGLE_OBJECT
        if (exception_ != nullptr) release_refs(attachment, exception_, nullptr, nullptr);
#else
        if (type_ != nullptr) release_refs(attachment, traceback_, value_, type_);
#endif
    }
    static void release_refs(Attachment attachment, PyObject *a, PyObject *b, PyObject *c) noexcept
    {
        // One attachment check for all three, then plain decrefs; pyo3cpp_release_ref queues
        // them when this thread is not attached. drop(py) and PyResult skip the check.
        if (attachment == Attachment::attached || pyo3cpp_is_attached()) {
            if (a) detail::decref(a, "PyErr::~PyErr");
            if (b) detail::decref(b, "PyErr::~PyErr");
            if (c) detail::decref(c, "PyErr::~PyErr");
        } else {
            pyo3cpp_release_ref(a);
            pyo3cpp_release_ref(b);
            pyo3cpp_release_ref(c);
        }
    }

    [[gnu::cold]] static void restore_empty() noexcept
    {
        PyErr_SetString(PyExc_SystemError, "pyo3cpp: restore() of a moved-from PyErr");
    }

#if !PYO3CPP_ERR_SINGLE_OBJECT
    PyObject *normalized_if_made() const noexcept
    {
        Shared *shared = shared_.load(std::memory_order_acquire);
        return shared ? shared->normalized.load(std::memory_order_acquire) : nullptr;
    }
    // The exception instance (borrowed from the block), made on first use from copies of the
    // triple; the thread's pending error is set aside meanwhile. Attached caller.
    [[gnu::cold]] PyObject *normalized(Python) const
    {
        Shared *shared = this->shared();
        if (PyObject *made = shared->normalized.load(std::memory_order_acquire)) return made;
        PyObject *type = type_, *value = value_, *traceback = traceback_;
        Py_INCREF(type);
        Py_XINCREF(value);
        Py_XINCREF(traceback);
        {
            detail::KeepPendingError keep;
            // Calls the type when value is not an instance of it (Python code may run); a
            // failure there leaves that error's normalised triple instead.
            PyErr_NormalizeException(&type, &value, &traceback);
            if (value == nullptr) {  // cannot happen for a real exception type; be total anyway
                value = Py_None;
                Py_INCREF(value);
            } else if (traceback != nullptr && PyExceptionInstance_Check(value)) {
                PyException_SetTraceback(value, traceback);
            }
        }
        Py_DECREF(type);
        Py_XDECREF(traceback);
        PyObject *expected = nullptr;
        if (shared->normalized.compare_exchange_strong(expected, value, std::memory_order_acq_rel,
                                                       std::memory_order_acquire))
            return value;
        Py_DECREF(value);  // another thread normalised first; every copy uses its instance
        return expected;
    }
#endif

    // Cold: formats, publishes, and returns the text every copy will return from now on.
    [[gnu::noinline, gnu::cold]] const char *format() const noexcept
    {
        const char *fallback = builtin_type_name_ ? builtin_type_name_ : "Python exception";
        Shared *shared = shared_nothrow();
        if (shared == nullptr) return fallback;  // out of memory: a static text, not published
        char *text = nullptr;
        try {
            std::string described;
            if (Python::is_attached()) {
                described = describe(Python::assume_attached());
            } else if (auto guard = try_attach()) {
                described = describe(guard.py());
            } else {
                described = builtin_type_name_ ? builtin_type_name_
                                               : "Python exception (the interpreter is not "
                                                 "available to describe it)";
            }
            text = new char[described.size() + 1];
            std::memcpy(text, described.c_str(), described.size() + 1);
        } catch (...) {
            // Out of memory (std::bad_alloc) is the one failure here: what() must not throw,
            // and a static text needs no allocation. Not published, so a later call retries.
            return fallback;
        }
        char *expected = nullptr;
        if (shared->message.compare_exchange_strong(expected, text, std::memory_order_acq_rel,
                                                    std::memory_order_acquire))
            return text;
        delete[] text;  // another thread published first; every copy returns its text
        return expected;
    }

    // "KeyError: 'x'" (attached caller). The caller's pending error is kept; an error str()
    // raises is discarded.
    std::string describe(Python py) const
    {
        detail::KeepPendingError keep;
#if PYO3CPP_ERR_SINGLE_OBJECT
        PyObject *value = exception_;
#else
        PyObject *value = normalized(py);
#endif
        (void)py;
        std::string text = Py_TYPE(value)->tp_name;
        PyObject *str = PyObject_Str(value);
        const char *utf8 = str ? PyUnicode_AsUTF8(str) : nullptr;
        if (utf8 != nullptr && *utf8 != '\0') text.append(": ").append(utf8);
        Py_XDECREF(str);
        return text;
    }

    // Owned while shared_ is null; owned by the shared block (all holders) once it exists.
    // Never changed after construction except by a move or swap (exclusive access).
#if PYO3CPP_ERR_SINGLE_OBJECT
    PyObject *exception_ = nullptr;
#else
    PyObject *type_ = nullptr;       // never null unless empty
    PyObject *value_ = nullptr;      // may be null, or not yet an instance of type_
    PyObject *traceback_ = nullptr;  // may be null
#endif
    const char *builtin_type_name_ = nullptr;
    mutable std::atomic<Shared *> shared_{nullptr};
};

[[noreturn]] inline void throw_fetched(Python py) { throw PyErr::fetch(py); }

[[noreturn]] inline void raise_type_error(const char *expected, PyObject *got)
{
    PyErr_Format(PyExc_TypeError, "expected %s, got %.200s", expected, Py_TYPE(got)->tp_name);
    throw_fetched(Python::assume_attached());
}

// Throws the current Python exception if `result` is null; returns it otherwise. For wrapping
// C API calls that return a new reference: auto r = check(py, PyObject_Str(x));
inline PyObject *check(Python py, PyObject *result)
{
    if (result == nullptr) throw PyErr::fetch(py);
    return result;
}
// For C API calls that return -1 on error.
inline int check_status(Python py, int status)
{
    if (status == -1 && PyErr_Occurred()) throw PyErr::fetch(py);
    return status;
}

}  // namespace pyo3cpp

// PyResult needs PyErr complete; included here so that every path to PyErr brings it along.
#include "pyo3cpp/result.hpp"
