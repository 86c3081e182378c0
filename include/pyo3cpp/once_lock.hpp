// once_lock.hpp — OnceLock<T> (PyO3's PyOnceLock): lazily initialised state where exactly one
// initialiser ever runs, and which can never deadlock against the interpreter.
//
// Contract:
//   - get_or_init(py, fn): if the cell is empty, exactly one caller runs fn() (across all
//     threads); the others wait for it DETACHED (so the initialiser may take the GIL, and on a
//     free-threaded build a stop-the-world pause such as gc.collect() proceeds), then return
//     the same value.
//   - Failure: if fn throws (any C++ exception, including a PyErr for a Python exception), the
//     cell stays empty, the exception propagates to that caller unchanged, and the next caller
//     (a waiter or a later call) runs its own fn.
//   - Recursion: fn calling get_or_init/set of the same cell on the same thread would wait for
//     itself forever; instead it throws PyErr(RuntimeError: "recursive initialisation of
//     once-cell '<name>' on the same thread"). <name> is the constructor's name, by default
//     "OnceLock at <file>:<line>" of the declaration.
//   - Wait cycles: a caller that would wait for another thread's initialiser while that thread
//     is, directly or through other waiting threads, waiting for something this caller holds
//     (an instance lock, an object lock, another cell's initialiser) throws PyErr(RuntimeError:
//     "waiting for once-cell '<name>' would deadlock: ...") instead of sleeping; the initialiser
//     counts as holding the cell until fn returns (the runtime's wait-for graph, abi/pyo3cpp.h).
//   - After initialisation get() is one acquire load, inline, with no call into libpyo3cpp
//     (on x86-64 a plain mov + compare; see the issue-5 report for the generated code).
//   - The value is immutable from then on, except take() and destruction, which require that
//     no other thread uses the cell (as PyO3's `&mut self` does).
//   - Interpreter finalisation: the cell registers a forget callback before its first
//     initialisation; when the interpreter finalises, the stored value is destroyed and the
//     cell emptied. A stored Py<U> then leaks its reference instead of decref'ing into the dead
//     interpreter. After a re-initialisation the cell initialises again (fresh objects).
//     T's destructor must therefore be safe without an interpreter (see once_storage.hpp).
//   - Storage: constant-initialised (constexpr constructor), so a namespace-scope or member
//     OnceLock needs no dynamic initialisation and its get() has no hidden guard. (A
//     function-local `static OnceLock` gets the compiler's own guard for its destructor.)
//
// Thread: any attached thread (the Python token proves it); get() needs no token.
// Cost: fast path one acquire load; slow path one call into libpyo3cpp plus fn.
//
// Example:
//     pyo3cpp::OnceLock<pyo3cpp::Py<pyo3cpp::PyAny>> decimal_type("mymod.Decimal");
//     const auto &decimal = decimal_type.get_or_init(py, [&] {
//         return pyo3cpp::Py<pyo3cpp::PyAny>::from_owned_ptr(py, load_decimal());
//     });
//     PyObject_CallOneArg(decimal.as_ptr(), text);
#pragma once

#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include "pyo3cpp/forced_unwind.hpp"

#include <exception>
#include <functional>
#include <string>

#include "pyo3cpp/once_storage.hpp"

namespace pyo3cpp {

template <class T> class OnceLock : public detail::OnceStorage<T> {
    using Base = detail::OnceStorage<T>;

public:
    // `name` appears in the RuntimeError for recursive initialisation; leave the defaulted
    // `file`/`line` alone (they record where the cell is declared, for the default name).
    constexpr explicit OnceLock(const char *name = nullptr, const char *file = __builtin_FILE(),
                                int line = __builtin_LINE()) noexcept
        : name_(name), file_(file), line_(line)
    {
    }

    using Base::get;             // const T *get() const noexcept: nullptr while empty
    using Base::is_initialized;  // bool
    // Same, for symmetry with PyO3's get(py).
    const T *get(Python) const noexcept { return Base::get(); }

    // The value, running fn() to make it if the cell is empty (contract above). fn returns T
    // (or something T is constructible from).
    template <class F> const T &get_or_init(Python py, F &&fn)
    {
        static_assert(!detail::is_optional<std::remove_cvref_t<std::invoke_result_t<F &>>>::value ||
                          std::is_same_v<std::remove_cvref_t<std::invoke_result_t<F &>>, T>,
                      "an initialiser returning std::optional goes to get_or_try_init");
        if (const T *value = Base::get()) [[likely]]
            return *value;
        return *init_slow(py, fn);
    }

    // Like get_or_init, but fn may also return std::optional<T>: std::nullopt means "cannot
    // make it now" and leaves the cell empty, and then this returns nullptr (no exception).
    // Exceptions from fn propagate as in get_or_init.
    template <class F> const T *get_or_try_init(Python py, F &&fn)
    {
        if (const T *value = Base::get()) [[likely]]
            return value;
        return init_slow(py, fn);
    }

    // Stores `value` if the cell is empty; true when stored. If an initialiser is running on
    // another thread, waits for it (detached) and returns false when it succeeded. A value not
    // stored is destroyed with the argument (for a Py<U>, decref'd at once: we are attached).
    bool set(Python py, T value)
    {
        if (Base::get() != nullptr) return false;
        bool stored = false;
        auto move_in = [&]() -> T {
            stored = true;
            return std::move(value);
        };
        (void)init_slow(py, move_in);
        return stored;
    }

    // Empties the cell and returns its value (std::nullopt when empty). The caller must know no
    // other thread is using the cell or a reference obtained from it.
    std::optional<T> take() { return Base::take_value(); }

    // For OnceLock<Py<U>>: a new strong reference to the stored object, or a null Py when empty.
    T clone_ref(Python py) const
        requires detail::is_py_v<T>
    {
        const T *value = Base::get();
        return value ? value->clone_ref(py) : T();
    }

    // The name used in error messages.
    std::string name() const
    {
        if (name_ != nullptr) return name_;
        return std::string("OnceLock at ") + file_ + ":" + std::to_string(line_);
    }

private:
    // Everything that is not the fast path: out of line, so get_or_init inlines to a load, a
    // branch and a call.
    template <class F> [[gnu::noinline]] const T *init_slow(Python py, F &fn)
    {
        using Result = std::invoke_result_t<F &>;
        constexpr bool declinable = detail::is_optional<std::remove_cvref_t<Result>>::value &&
                                    !std::is_same_v<std::remove_cvref_t<Result>, T>;
        this->ensure_forget_registered(py);
        struct Job {
            OnceLock *cell;
            F *fn;
            std::exception_ptr error;
        } job{this, &fn, nullptr};
        // Runs under pyo3cpp_once_run, on exactly one thread at a time. Never lets a C++
        // exception into the C library: parks it and returns -2, rethrown below. Not noexcept:
        // a forced unwind (CPython ending the thread) passes through (forced_unwind.hpp).
        auto run = [](void *raw) -> int {
            auto *job = static_cast<Job *>(raw);
            try {
                if constexpr (declinable) {
                    Result made = std::invoke(*job->fn);
                    if (!made.has_value()) return kDeclined;
                    ::new (static_cast<void *>(std::addressof(job->cell->slot())))
                        T(std::move(*made));
                } else {
                    ::new (static_cast<void *>(std::addressof(job->cell->slot())))
                        T(std::invoke(*job->fn));
                }
                return 0;
            } PYO3CPP_CATCH_ALL {
                job->error = std::current_exception();
                return kCppException;
            }
        };
        const std::string label = name();
        const int rc = pyo3cpp_once_run(this->once(), +run, &job, label.c_str());
        if (rc == 0) return std::addressof(this->slot());
        if (rc == kCppException) std::rethrow_exception(job.error);
        if (rc == kDeclined) return nullptr;
        throw_fetched(py);  // -1: recursion (RuntimeError) or bad use, with the exception set
    }

    static constexpr int kCppException = -2;  // a C++ exception is parked in the job
    static constexpr int kDeclined = -3;      // fn returned std::nullopt

    const char *name_;
    const char *file_;
    int line_;
};

}  // namespace pyo3cpp
