// once_cell.hpp — OnceCell<T> (PyO3's GILOnceCell): lazily initialised state that never blocks.
//
// Contract:
//   - get_or_init(py, fn): if the cell is empty, the caller runs fn() with no lock held. Several
//     threads may run fn at the same time (and on a GIL build fn may release the GIL and let
//     another thread in); the first value STORED wins and every caller returns that one. A
//     loser's value is destroyed at once (for a Py<U>: decref'd, since the caller is attached):
//     nothing leaks. So fn must be fine to run more than once (no side effects that must happen
//     once: use OnceLock for that). It never waits on another initialiser, so it can never
//     deadlock, and recursion just runs fn again (it does not raise).
//   - Failure: an exception from fn propagates; the cell is left as it was (empty, or filled by
//     another thread meanwhile).
//   - After initialisation get() is one acquire load, inline, no call into libpyo3cpp.
//   - The value is immutable from then on, except take() and destruction, which require that
//     no other thread uses the cell.
//   - Interpreter finalisation: as OnceLock (once_storage.hpp): the stored value is destroyed
//     and the cell emptied when the interpreter finalises; a stored Py<U> leaks its reference
//     rather than decref'ing into the dead interpreter; after a re-initialisation the cell fills
//     again with objects of the new interpreter. T's destructor must be safe without one.
//
// Thread: any attached thread (the Python token proves it); get() needs no token.
// Cost: fast path one acquire load. Storing: one compare-exchange and a release store. A thread
// that loses while the winner is still moving its value into place yields until it is visible
// (a move; on a GIL build it cannot happen at all).
//
// Example:
//     static pyo3cpp::OnceCell<pyo3cpp::Py<pyo3cpp::PyAny>> zero;
//     const auto &z = zero.get_or_init(py, [&] {
//         return pyo3cpp::Py<pyo3cpp::PyAny>::from_owned_ptr(py, PyLong_FromLong(0));
//     });
#pragma once

#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include "pyo3cpp/forced_unwind.hpp"

#include <functional>
#include <thread>

#include "pyo3cpp/once_storage.hpp"

namespace pyo3cpp {

template <class T> class OnceCell : public detail::OnceStorage<T> {
    using Base = detail::OnceStorage<T>;

public:
    constexpr OnceCell() noexcept = default;

    using Base::get;             // const T *get() const noexcept: nullptr while empty
    using Base::is_initialized;  // bool
    const T *get(Python) const noexcept { return Base::get(); }

    // The stored value, running fn() to make a candidate if the cell is empty (contract above).
    template <class F> const T &get_or_init(Python py, F &&fn)
    {
        static_assert(!detail::is_optional<std::remove_cvref_t<std::invoke_result_t<F &>>>::value ||
                          std::is_same_v<std::remove_cvref_t<std::invoke_result_t<F &>>, T>,
                      "an initialiser returning std::optional goes to get_or_try_init");
        if (const T *value = Base::get()) [[likely]]
            return *value;
        return *race_slow(py, fn);
    }

    // Like get_or_init, but fn may also return std::optional<T>: std::nullopt leaves the cell as
    // it was and returns get() (nullptr unless another thread stored meanwhile).
    template <class F> const T *get_or_try_init(Python py, F &&fn)
    {
        if (const T *value = Base::get()) [[likely]]
            return value;
        return race_slow(py, fn);
    }

    // Stores `value` if the cell is empty and nobody else is storing: true when stored. A value
    // not stored is destroyed with the argument (a Py<U>: decref'd at once).
    bool set(Python py, T value)
    {
        if (Base::get() != nullptr) return false;
        this->ensure_forget_registered(py);
        std::uint32_t expected = detail::kOnceEmpty;
        if (!this->claim_state(expected, detail::kOnceBusy)) return false;
        construct_and_publish(std::move(value));
        return true;
    }

    // Empties the cell and returns its value (std::nullopt when empty). The caller must know no
    // other thread is using the cell or a reference obtained from it.
    std::optional<T> take() { return Base::take_value(); }

    // For OnceCell<Py<U>>: a new strong reference to the stored object, or a null Py when empty.
    T clone_ref(Python py) const
        requires detail::is_py_v<T>
    {
        const T *value = Base::get();
        return value ? value->clone_ref(py) : T();
    }

private:
    template <class F> [[gnu::noinline]] const T *race_slow(Python py, F &fn)
    {
        using Result = std::remove_cvref_t<std::invoke_result_t<F &>>;
        if constexpr (detail::is_optional<Result>::value && !std::is_same_v<Result, T>) {
            Result made = std::invoke(fn);  // an exception leaves the cell untouched
            if (!made.has_value()) return Base::get();
            return store_or_adopt(py, std::move(*made));
        } else {
            T candidate(std::invoke(fn));
            return store_or_adopt(py, std::move(candidate));
        }
    }

    // Publishes `candidate` unless another value got there first; returns the stored value.
    // The caller's candidate (moved-from when stored) is destroyed by the caller on return.
    const T *store_or_adopt(Python py, T &&candidate)
    {
        this->ensure_forget_registered(py);
        for (;;) {
            std::uint32_t seen = this->load_state();
            if (seen == detail::kOnceDone) return std::addressof(this->slot());
            if (seen == detail::kOnceEmpty) {
                if (this->claim_state(seen, detail::kOnceBusy)) {
                    construct_and_publish(std::move(candidate));
                    return std::addressof(this->slot());
                }
                continue;
            }
            // Another thread claimed the slot and is moving its value in: a few instructions.
            std::this_thread::yield();
        }
    }

    void construct_and_publish(T &&value)
    {
        try {
            ::new (static_cast<void *>(std::addressof(this->slot()))) T(std::move(value));
        } PYO3CPP_CATCH_ALL {
            this->store_state(detail::kOnceEmpty);
            throw;
        }
        this->store_state(detail::kOnceDone);
    }
};

}  // namespace pyo3cpp
