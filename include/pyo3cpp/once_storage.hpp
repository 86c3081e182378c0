// once_storage.hpp — private base of OnceCell<T> (once_cell.hpp) and OnceLock<T>
// (once_lock.hpp): the ABI's state word, in-place storage for one T, and the finalisation hook.
// Not for direct use; include one of those two headers.
//
// What it does:
//   - The state word is abi/pyo3cpp.h's pyo3cpp_once_state (0 empty, 1 busy, 2 done). `get`
//     is pyo3cpp_once_state_done (one acquire load, inline) and then the address of the slot.
//   - The value lives in place (no heap), constructed once the cell is claimed and published by
//     the release store that makes the state done.
//   - Interpreter finalisation: before the first value is stored, the cell registers a forget
//     callback with pyo3cpp_on_finalize. When the interpreter finalises, the callback destroys
//     the stored T and empties the cell. Destroying a Py<U> then is safe: the interpreter is
//     gone, so its reference is leaked (never decref'd into a dead interpreter). A cell that is
//     destroyed earlier cancels its registration. So after Py_FinalizeEx + Py_Initialize the
//     cell is empty and initialises afresh with objects of the new interpreter.
//     Consequence for T: its destructor must be safe to run without a live interpreter (plain
//     C++ values, Py<U>, containers of Py<U>; never Bound<U>, which decrefs directly).
//
// Thread: everything here is called by the cells' documented entry points.
// Cost: sizeof(T) + 16 bytes of state + a flag; the fast path is one acquire load.
#pragma once

#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include <atomic>
#include <cstdint>
#include <memory>
#include <new>
#include <optional>
#include <type_traits>
#include <utility>

#include "pyo3cpp/borrowed.hpp"
#include "pyo3cpp/error.hpp"

namespace pyo3cpp::detail {

template <class T> struct is_py : std::false_type {};
template <class U> struct is_py<Py<U>> : std::true_type {};
template <class T> inline constexpr bool is_py_v = is_py<T>::value;

template <class T> struct is_optional : std::false_type {};
template <class U> struct is_optional<std::optional<U>> : std::true_type {};

// The state values of pyo3cpp_once_state.state (abi/pyo3cpp.h).
enum : std::uint32_t { kOnceEmpty = 0, kOnceBusy = 1, kOnceDone = 2 };

template <class T> class OnceStorage {
    static_assert(!std::is_reference_v<T> && std::is_object_v<T>,
                  "a once-cell stores an object type");
    static_assert(std::is_nothrow_destructible_v<T>, "a once-cell's value must not throw when "
                                                     "destroyed (it may be at finalisation)");

public:
    OnceStorage(const OnceStorage &) = delete;
    OnceStorage &operator=(const OnceStorage &) = delete;

    // Inline fast path: the value, or nullptr when the cell is empty (or still being filled).
    const T *get() const noexcept
    {
        return pyo3cpp_once_state_done(&once_) ? std::addressof(value_) : nullptr;
    }
    bool is_initialized() const noexcept { return pyo3cpp_once_state_done(&once_) != 0; }

protected:
    constexpr OnceStorage() noexcept : empty_{} {}

    ~OnceStorage()
    {
        if (load_state() == kOnceDone) value_.~T();
        if (registered_.load(std::memory_order_acquire))
            pyo3cpp_on_finalize_cancel(&OnceStorage::forget, this);
    }

    // The state word, read and written atomically. GCC/Clang builtins rather than
    // std::atomic_ref, which libc++ 14 (the clang++/libc++ consumer) does not have.
    std::uint32_t load_state() const noexcept
    {
        return __atomic_load_n(&once_.state, __ATOMIC_ACQUIRE);
    }
    void store_state(std::uint32_t value) noexcept
    {
        __atomic_store_n(&once_.state, value, __ATOMIC_RELEASE);
    }
    // Claims the cell: `expected` -> `desired` with acquire; on failure `expected` is updated.
    bool claim_state(std::uint32_t &expected, std::uint32_t desired) noexcept
    {
        return __atomic_compare_exchange_n(&once_.state, &expected, desired, false,
                                           __ATOMIC_ACQUIRE, __ATOMIC_ACQUIRE);
    }

    // Before the first store: arrange to be emptied when the interpreter finalises. Throws
    // PyErr(MemoryError) if the registry cannot grow (the cell is then left untouched).
    void ensure_forget_registered(Python py)
    {
        if (registered_.load(std::memory_order_acquire)) return;
        if (pyo3cpp_on_finalize(&OnceStorage::forget, this) != 0) throw_fetched(py);
        registered_.store(true, std::memory_order_release);
    }

    // Moves the value out and empties the cell. The caller excludes concurrent users.
    std::optional<T> take_value() noexcept(std::is_nothrow_move_constructible_v<T>)
    {
        if (load_state() != kOnceDone) return std::nullopt;
        std::optional<T> out(std::move(value_));
        value_.~T();
        store_state(kOnceEmpty);
        return out;
    }

    T &slot() noexcept { return value_; }
    const T &slot() const noexcept { return value_; }
    pyo3cpp_once_state *once() noexcept { return &once_; }

private:
    // Runs from the runtime's finalisation hook: no interpreter any more, no other users.
    static void forget(void *self) noexcept
    {
        auto *cell = static_cast<OnceStorage *>(self);
        if (cell->load_state() == kOnceDone)
            cell->value_.~T();  // a Py<U> inside leaks its reference: the interpreter is gone
        cell->once_.owner = 0;
        cell->store_state(kOnceEmpty);
        // The runtime empties its list after finalisation: register again on the next fill.
        cell->registered_.store(false, std::memory_order_release);
    }

    mutable pyo3cpp_once_state once_ = PYO3CPP_ONCE_STATE_INIT;
    union {
        char empty_;  // the active member while the cell is empty: keeps the ctor constexpr
        T value_;
    };
    std::atomic<bool> registered_{false};
};

}  // namespace pyo3cpp::detail
