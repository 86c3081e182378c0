// view_scope.hpp — keeps alive the Python objects that views inside converted containers point
// into (a std::vector<std::string_view> from a generator, std::map<std::string_view, long> keys).
//
//   void f(std::vector<std::string_view> words);   // bound: nothing to do, the call keeps them
//
//   ViewScope scope(py);                            // C++ code converting by itself
//   auto words = extract<std::vector<std::string_view>>(obj);
//   ...                                             // words are valid until `scope` ends
//
// What it solves: a view (std::string_view, Borrowed<T>, or a user type whose FromPython declares
// `static constexpr bool is_view = true`) points into the object it was converted from. As a
// parameter on its own that object is the argument, alive for the call. Inside a container it is
// an element: an iterator's items are dropped as soon as they convert, and Python code that runs
// during the conversion or the call (an __index__, a __del__, a callback) can empty the list or
// dict that held them. So every container conversion whose element type holds a view appends a
// strong reference to each element's source object to the innermost ViewScope of the thread, and
// the scope releases them when it ends.
//   - A bound function (function.hpp) opens one scope per call for the call's duration, but only
//     when a parameter type holds a view inside a container (decided at compile time:
//     needs_view_scope); every other call pays nothing.
//   - Outside a bound call (extract<T>() from your own code), such a conversion with no scope
//     open raises RuntimeError: there is nothing that could keep the views valid. Open a
//     ViewScope for as long as you use the views. Inside a bound call that opened none (its own
//     parameters hold no views), an enclosing bound call's scope, if any, is the one used.
// Thread: any attached thread; a scope belongs to the thread that opened it and must end on it,
// in reverse order of opening (it is a stack object). Ending a scope releases references, which
// may run __del__ code: it requires attachment.
// Cost: one thread-local read per container element that holds a view, one pointer appended
// (amortised), one reference count; no allocation until the first element.
#pragma once

#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include <cstddef>
#include <map>
#include <optional>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

// Only declarations first: borrowed.hpp leads to convert_containers.hpp, which uses what this
// header defines (the definitions come at the end).
#include "pyo3cpp/fwd.hpp"
#include "pyo3cpp/python.hpp"

namespace pyo3cpp {

// A type that points into the Python object it was converted from.
template <class T> struct is_view : std::bool_constant<requires { requires FromPython<T>::is_view; }> {};
template <> struct is_view<std::string_view> : std::true_type {};
template <class T> struct is_view<Borrowed<T>> : std::true_type {};

// A type that is a view or has one inside (through optional, pair, tuple, vector, map).
template <class T> struct holds_view : is_view<T> {};
template <class T> struct holds_view<std::optional<T>> : holds_view<T> {};
template <class A, class B>
struct holds_view<std::pair<A, B>> : std::bool_constant<holds_view<A>::value || holds_view<B>::value> {};
template <class... Ts>
struct holds_view<std::tuple<Ts...>> : std::bool_constant<(holds_view<Ts>::value || ...)> {};
template <class T, class A> struct holds_view<std::vector<T, A>> : holds_view<T> {};
template <class K, class V, class C, class A>
struct holds_view<std::map<K, V, C, A>> : std::bool_constant<holds_view<K>::value || holds_view<V>::value> {};
template <class K, class V, class H, class E, class A>
struct holds_view<std::unordered_map<K, V, H, E, A>>
    : std::bool_constant<holds_view<K>::value || holds_view<V>::value> {};

// A parameter type whose conversion keeps sources in a ViewScope: a view inside a container
// that walks Python objects (vector, map), at any depth. A view directly in an optional, pair
// or tuple needs none: the argument (or the tuple) holds what it points into.
template <class T> struct needs_view_scope : std::false_type {};
template <class T> struct needs_view_scope<std::optional<T>> : needs_view_scope<T> {};
template <class A, class B>
struct needs_view_scope<std::pair<A, B>>
    : std::bool_constant<needs_view_scope<A>::value || needs_view_scope<B>::value> {};
template <class... Ts>
struct needs_view_scope<std::tuple<Ts...>> : std::bool_constant<(needs_view_scope<Ts>::value || ...)> {};
template <class T, class A> struct needs_view_scope<std::vector<T, A>> : holds_view<T> {};
template <class K, class V, class C, class A>
struct needs_view_scope<std::map<K, V, C, A>> : holds_view<std::map<K, V, C, A>> {};
template <class K, class V, class H, class E, class A>
struct needs_view_scope<std::unordered_map<K, V, H, E, A>>
    : holds_view<std::unordered_map<K, V, H, E, A>> {};

class ViewScope {
public:
    explicit ViewScope(Python) noexcept : outer_(innermost_) { innermost_ = this; }
    ViewScope(const ViewScope &) = delete;
    ViewScope &operator=(const ViewScope &) = delete;
    ~ViewScope()
    {
        // Unlinked first: a __del__ run by a release may convert again (into an outer scope).
        innermost_ = outer_;
        std::vector<PyObject *> held = std::move(held_);
        for (PyObject *object : held) Py_DECREF(object);
    }

    // Keeps `source` alive until the innermost scope of this thread ends (RuntimeError if none).
    static void keep(Python py, PyObject *source)
    {
        ViewScope *scope = innermost_;
        if (scope == nullptr) [[unlikely]]
            raise_no_scope(py);
        scope->held_.push_back(source);  // may throw std::bad_alloc: nothing taken yet
        Py_INCREF(source);
    }

    // The number of objects this scope keeps (tests).
    std::size_t size() const noexcept { return held_.size(); }

private:
    [[noreturn, gnu::cold, gnu::noinline]] static void raise_no_scope(Python py)
    {
        PyErr_SetString(PyExc_RuntimeError,
                        "a container of views (std::string_view, Borrowed<T>) was converted "
                        "outside a bound function's call: open a pyo3cpp::ViewScope for as long "
                        "as the views are used");
        throw_fetched(py);
    }

    ViewScope *outer_;
    std::vector<PyObject *> held_;
    static inline thread_local ViewScope *innermost_ = nullptr;
};

namespace detail {
// A call frame's scope: a ViewScope when a parameter needs one, nothing otherwise.
template <bool Needed> struct CallViewScope {
    explicit CallViewScope(Python) noexcept {}
};
template <> struct CallViewScope<true> : ViewScope {
    using ViewScope::ViewScope;
};
}  // namespace detail

}  // namespace pyo3cpp

#include "pyo3cpp/borrowed.hpp"
#include "pyo3cpp/error.hpp"
