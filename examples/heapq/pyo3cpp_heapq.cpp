// pyo3cpp_heapq — a drop-in port of CPython 3.13's _heapq accelerator, written with pyo3cpp,
// that stays correct when many threads share one heap on free-threaded Python.
//
//   >>> import pyo3cpp_heapq as hq
//   >>> h = []; hq.heappush(h, 3); hq.heappush(h, 1); hq.heappop(h)
//   1
//
// Same functions, signatures (positional-only), results, exceptions and docstrings as
// _heapq, plus 3.14's public max-heap names. What is different:
//   - Every operation holds the heap list's critical section from start to end, so on a
//     free-threaded build a heappush or heappop is atomic: racing threads never lose or
//     duplicate an item and never break the heap invariant (CPython 3.13's _heapq does both).
//     GIL builds: the section compiles to nothing; the GIL already excludes.
//   - Both items of a comparison are held by strong references while __lt__ runs, and the
//     list's size is re-checked after every comparison (RuntimeError "list changed size during
//     iteration"), so a comparison that mutates the heap can never crash us.
// Limits: a critical section is suspended while the thread detaches (e.g. a Python __lt__
// that blocks on a lock, or a stop-the-world GC that starts inside __lt__), so atomicity is
// only guaranteed for comparisons that stay in C (int, float, str, tuples of them, ...).
#include <Python.h>

#include <pyo3cpp/pyo3cpp.hpp>

#include "list_in_section.hpp"

using namespace pyo3cpp;

namespace {

namespace list = list_in_section;

// ---------------------------------------------------------------- comparisons

// The rest of `a < b` for two objects of one type after its tp_richcompare gave something
// other than True/False: what PyObject_RichCompare does next (reflected __gt__, then
// TypeError), then bool() of the answer. Cold: errors, NotImplemented, non-bool results.
[[gnu::noinline, gnu::cold]] bool finish_same_type_less(Python py, PyObject *a, PyObject *b,
                                                         PyObject *answer)
{
    if (answer == nullptr) throw_fetched(py);
    if (answer == Py_NotImplemented) {
        Py_DECREF(answer);
        answer = Py_TYPE(b)->tp_richcompare(b, a, Py_GT);
        if (answer == nullptr) throw_fetched(py);
        if (answer == Py_NotImplemented) {
            Py_DECREF(answer);
            PyErr_Format(PyExc_TypeError, "'<' not supported between instances of '%.100s' and '%.100s'",
                         Py_TYPE(a)->tp_name, Py_TYPE(b)->tp_name);
            throw_fetched(py);
        }
    }
    return Bound<PyAny>::from_owned_ptr_unchecked(py, answer).is_truthy();
}

// `a < b` with Python's semantics: what CPython's _heapq computes with
// PyObject_RichCompareBool(a, b, Py_LT). Both items are held by strong references across the
// call: __lt__ may remove them from the list and drop the list's references.
// Fast path (the heap's usual case: items of one type): call the type's tp_richcompare
// directly, as _bisect does, skipping PyObject_RichCompare's dispatch; anything but True/False
// continues exactly where PyObject_RichCompare would.
inline bool less(Python py, PyObject *a, PyObject *b)
{
    const auto left = Bound<PyAny>::from_borrowed_ptr(py, a);
    const auto right = Bound<PyAny>::from_borrowed_ptr(py, b);
    const richcmpfunc compare = Py_TYPE(a)->tp_richcompare;
    if (Py_IS_TYPE(b, Py_TYPE(a)) && compare != nullptr) {
        PyObject *answer = compare(a, b, Py_LT);
        if (answer == Py_True || answer == Py_False) {
            Py_DECREF(answer);
            return answer == Py_True;
        }
        return finish_same_type_less(py, a, b, answer);
    }
    return left.lt(right);
}

// Min-heaps keep the smallest item on top, max-heaps the largest: `first(a, b)` says whether a
// belongs above b. The argument order matches CPython's exactly (it is visible to __lt__).
struct MinOrder {
    static bool first(Python py, PyObject *a, PyObject *b) { return less(py, a, b); }
};
struct MaxOrder {
    static bool first(Python py, PyObject *a, PyObject *b) { return less(py, b, a); }
};

[[noreturn]] void raise_index_error(Python py)
{
    throw PyErr::new_err(py, PyExc_IndexError, "index out of range");
}

// After each comparison: __lt__ ran arbitrary code; if it resized the heap our positions are
// meaningless.
inline void require_size(Python py, PyObject *heap, Py_ssize_t expected)
{
    if (PyList_GET_SIZE(heap) != expected)
        throw PyErr::new_err(py, PyExc_RuntimeError, "list changed size during iteration");
}

// ---------------------------------------------------------------- the sifts

// The item at `pos` moves up towards `start` while it belongs above its parent.
template <class Order> void sift_towards_root(Python py, PyObject *heap, Py_ssize_t start,
                                              Py_ssize_t pos)
{
    const Py_ssize_t size = PyList_GET_SIZE(heap);
    if (pos >= size) raise_index_error(py);
    while (pos > start) {
        const Py_ssize_t parent_pos = (pos - 1) >> 1;
        PyObject **slots = list::items(heap);
        const bool above = Order::first(py, slots[pos], slots[parent_pos]);
        require_size(py, heap, size);
        if (!above) break;
        slots = list::items(heap);  // re-read: the comparison may have replaced items
        PyObject *parent = slots[parent_pos];
        list::store(heap, parent_pos, slots[pos]);
        list::store(heap, pos, parent);
        pos = parent_pos;
    }
}

// The item at `pos` sinks to a leaf along the path of first-ordered children, then rises to
// its place (Floyd's "bottom-up" variant, as CPython does: fewer comparisons).
template <class Order> void sift_towards_leaves(Python py, PyObject *heap, Py_ssize_t pos)
{
    const Py_ssize_t end = PyList_GET_SIZE(heap);
    const Py_ssize_t start = pos;
    if (pos >= end) raise_index_error(py);
    const Py_ssize_t first_leaf = end >> 1;
    while (pos < first_leaf) {
        Py_ssize_t child = 2 * pos + 1;
        if (child + 1 < end) {
            PyObject **slots = list::items(heap);
            if (!Order::first(py, slots[child], slots[child + 1])) ++child;
            require_size(py, heap, end);
        }
        PyObject **slots = list::items(heap);
        PyObject *moving_up = slots[child];
        list::store(heap, child, slots[pos]);
        list::store(heap, pos, moving_up);
        pos = child;
    }
    sift_towards_root<Order>(py, heap, start, pos);
}

// ---------------------------------------------------------------- operations (section held)

template <class Order> void push(Python py, PyObject *heap, PyObject *item)
{
    list::append(py, heap, item);
    sift_towards_root<Order>(py, heap, 0, PyList_GET_SIZE(heap) - 1);
}

template <class Order> PyObject *pop(Python py, PyObject *heap)
{
    if (PyList_GET_SIZE(heap) == 0) raise_index_error(py);
    PyObject *last = list::pop_last(py, heap);
    if (PyList_GET_SIZE(heap) == 0) return last;
    auto top = Bound<PyAny>::from_owned_ptr_unchecked(py, list::items(heap)[0]);
    list::store(heap, 0, last);  // the list's reference to `top` is now ours
    sift_towards_leaves<Order>(py, heap, 0);
    return std::move(top).into_ptr();
}

template <class Order> PyObject *replace(Python py, PyObject *heap, PyObject *item)
{
    if (PyList_GET_SIZE(heap) == 0) raise_index_error(py);
    auto top = Bound<PyAny>::from_owned_ptr_unchecked(py, list::items(heap)[0]);
    list::store(heap, 0, Py_NewRef(item));
    sift_towards_leaves<Order>(py, heap, 0);
    return std::move(top).into_ptr();
}

template <class Order> PyObject *push_pop(Python py, PyObject *heap, PyObject *item)
{
    if (PyList_GET_SIZE(heap) == 0) return Py_NewRef(item);
    // Nothing on the heap comes before `item`: it would be pushed and popped straight back.
    if (!Order::first(py, list::items(heap)[0], item)) return Py_NewRef(item);
    // __lt__ may have emptied the heap: replace() raises IndexError then, as CPython does.
    return replace<Order>(py, heap, item);
}

// Highest power of two <= n (n >= 1).
inline Py_ssize_t top_bit(Py_ssize_t n)
{
    Py_ssize_t bit = 1;
    while (n > 1) {
        n >>= 1;
        bit <<= 1;
    }
    return bit;
}

template <class Order> void heapify(Python py, PyObject *heap)
{
    const Py_ssize_t size = PyList_GET_SIZE(heap);
    if (size <= 2500) {
        // Small heaps fit in cache: sift every parent, last to first.
        for (Py_ssize_t i = (size >> 1) - 1; i >= 0; --i) sift_towards_leaves<Order>(py, heap, i);
        return;
    }
    // Large heaps: as soon as both children of a node are heaps, sift the node, while the
    // children are still in cache. Same comparisons and result as the simple order; CPython
    // uses the same traversal, so a mutating or failing __lt__ sees the same sequence.
    const Py_ssize_t first_leaf = size >> 1;
    const Py_ssize_t row_start = top_bit(first_leaf + 1) - 1;  // leftmost node of first_leaf's row
    auto sift_and_climb = [&](Py_ssize_t node) {
        for (;;) {
            sift_towards_leaves<Order>(py, heap, node);
            if (!(node & 1)) break;  // a right sibling climbs only after its left one
            node >>= 1;
        }
    };
    for (Py_ssize_t i = row_start - 1; i >= (first_leaf >> 1); --i) sift_and_climb(i);
    for (Py_ssize_t i = first_leaf - 1; i >= row_start; --i) sift_and_climb(i);
}

// ---------------------------------------------------------------- module functions

// Runs `operation(py, heap)` with the list's critical section held for all of it, after
// checking the argument is a list (the message is CPython's Argument Clinic one).
template <class Operation>
PyObject *with_heap(const char *function, const char *argument, PyObject *heap_arg,
                    Operation &&operation) noexcept
{
    auto py = Python::assume_attached();
    if (!PyList_Check(heap_arg)) {
        PyErr_Format(PyExc_TypeError, "%s() %s must be list, not %.50s", function, argument,
                     heap_arg == Py_None ? "None" : Py_TYPE(heap_arg)->tp_name);
        return nullptr;
    }
    try {
        CriticalSection guard(py, Borrowed<PyAny>::from_ptr(py, heap_arg));
        return operation(py, heap_arg);
    } catch (...) {
        translate_current_exception(py);  // PyErr: itself; bad_alloc: MemoryError; ...
        return nullptr;
    }
}

// Argument Clinic's message for a wrong positional count (`heappush expected 2 arguments, got 1`).
inline bool check_two_args(const char *function, Py_ssize_t nargs) noexcept
{
    if (nargs == 2) return true;
    PyErr_Format(PyExc_TypeError, "%s expected 2 arguments, got %zd", function, nargs);
    return false;
}

template <class Order>
PyObject *heappush_impl(const char *name, PyObject *const *args, Py_ssize_t nargs) noexcept
{
    if (!check_two_args(name, nargs)) return nullptr;
    return with_heap(name, "argument 1", args[0], [&](Python py, PyObject *heap) {
        push<Order>(py, heap, args[1]);
        return Py_NewRef(Py_None);
    });
}

template <class Order> PyObject *heappop_impl(const char *name, PyObject *heap) noexcept
{
    return with_heap(name, "argument", heap, [](Python py, PyObject *h) { return pop<Order>(py, h); });
}

template <class Order>
PyObject *heapreplace_impl(const char *name, PyObject *const *args, Py_ssize_t nargs) noexcept
{
    if (!check_two_args(name, nargs)) return nullptr;
    return with_heap(name, "argument 1", args[0],
                     [&](Python py, PyObject *heap) { return replace<Order>(py, heap, args[1]); });
}

template <class Order>
PyObject *heappushpop_impl(const char *name, PyObject *const *args, Py_ssize_t nargs) noexcept
{
    if (!check_two_args(name, nargs)) return nullptr;
    return with_heap(name, "argument 1", args[0],
                     [&](Python py, PyObject *heap) { return push_pop<Order>(py, heap, args[1]); });
}

template <class Order> PyObject *heapify_impl(const char *name, PyObject *heap) noexcept
{
    return with_heap(name, "argument", heap, [](Python py, PyObject *h) {
        heapify<Order>(py, h);
        return Py_NewRef(Py_None);
    });
}

#define HEAPQ_FASTCALL(NAME, IMPL, ORDER)                                                  \
    PyObject *NAME(PyObject *, PyObject *const *args, Py_ssize_t nargs)                  \
    {                                                                                    \
        return IMPL<ORDER>(#NAME, args, nargs);                                          \
    }
#define HEAPQ_ONE_ARG(NAME, IMPL, ORDER) \
    PyObject *NAME(PyObject *, PyObject *heap) { return IMPL<ORDER>(#NAME, heap); }

HEAPQ_FASTCALL(heappush, heappush_impl, MinOrder)
HEAPQ_ONE_ARG(heappop, heappop_impl, MinOrder)
HEAPQ_FASTCALL(heapreplace, heapreplace_impl, MinOrder)
HEAPQ_FASTCALL(heappushpop, heappushpop_impl, MinOrder)
HEAPQ_ONE_ARG(heapify, heapify_impl, MinOrder)
HEAPQ_ONE_ARG(_heappop_max, heappop_impl, MaxOrder)
HEAPQ_FASTCALL(_heapreplace_max, heapreplace_impl, MaxOrder)
HEAPQ_ONE_ARG(_heapify_max, heapify_impl, MaxOrder)
HEAPQ_FASTCALL(heappush_max, heappush_impl, MaxOrder)
HEAPQ_ONE_ARG(heappop_max, heappop_impl, MaxOrder)
HEAPQ_FASTCALL(heapreplace_max, heapreplace_impl, MaxOrder)
HEAPQ_FASTCALL(heappushpop_max, heappushpop_impl, MaxOrder)
HEAPQ_ONE_ARG(heapify_max, heapify_impl, MaxOrder)

#undef HEAPQ_FASTCALL
#undef HEAPQ_ONE_ARG

// ---------------------------------------------------------------- docstrings (as _heapq's)

constexpr const char heappush_doc[] =
    "heappush($module, heap, item, /)\n--\n\n"
    "Push item onto heap, maintaining the heap invariant.";
constexpr const char heappop_doc[] =
    "heappop($module, heap, /)\n--\n\n"
    "Pop the smallest item off the heap, maintaining the heap invariant.";
constexpr const char heapreplace_doc[] =
    "heapreplace($module, heap, item, /)\n--\n\n"
    "Pop and return the current smallest value, and add the new item.\n\n"
    "This is more efficient than heappop() followed by heappush(), and can be\n"
    "more appropriate when using a fixed-size heap.  Note that the value\n"
    "returned may be larger than item!  That constrains reasonable uses of\n"
    "this routine unless written as part of a conditional replacement:\n\n"
    "    if item > heap[0]:\n"
    "        item = heapreplace(heap, item)";
constexpr const char heappushpop_doc[] =
    "heappushpop($module, heap, item, /)\n--\n\n"
    "Push item on the heap, then pop and return the smallest item from the heap.\n\n"
    "The combined action runs more efficiently than heappush() followed by\n"
    "a separate call to heappop().";
constexpr const char heapify_doc[] =
    "heapify($module, heap, /)\n--\n\n"
    "Transform list into a heap, in-place, in O(len(heap)) time.";
constexpr const char heappop_max_private_doc[] =
    "_heappop_max($module, heap, /)\n--\n\nMaxheap variant of heappop.";
constexpr const char heapreplace_max_private_doc[] =
    "_heapreplace_max($module, heap, item, /)\n--\n\nMaxheap variant of heapreplace.";
constexpr const char heapify_max_private_doc[] =
    "_heapify_max($module, heap, /)\n--\n\nMaxheap variant of heapify.";
constexpr const char heappush_max_doc[] =
    "heappush_max($module, heap, item, /)\n--\n\n"
    "Push item onto max heap, maintaining the heap invariant.";
constexpr const char heappop_max_doc[] =
    "heappop_max($module, heap, /)\n--\n\n"
    "Maxheap variant of heappop.";
constexpr const char heapreplace_max_doc[] =
    "heapreplace_max($module, heap, item, /)\n--\n\n"
    "Maxheap variant of heapreplace.";
constexpr const char heappushpop_max_doc[] =
    "heappushpop_max($module, heap, item, /)\n--\n\n"
    "Maxheap variant of heappushpop.\n\n"
    "The combined action runs more efficiently than heappush_max() followed by\n"
    "a separate call to heappop_max().";
constexpr const char heapify_max_doc[] =
    "heapify_max($module, heap, /)\n--\n\n"
    "Maxheap variant of heapify.";

constexpr const char module_doc[] =
    "Heap queue algorithm (a.k.a. priority queue).\n\n"
    "Heaps are arrays for which a[k] <= a[2*k+1] and a[k] <= a[2*k+2] for\n"
    "all k, counting elements from 0.  For the sake of comparison,\n"
    "non-existing elements are considered to be infinite.  The interesting\n"
    "property of a heap is that a[0] is always its smallest element.\n\n"
    "Usage:\n\n"
    "heap = []            # creates an empty heap\n"
    "heappush(heap, item) # pushes a new item on the heap\n"
    "item = heappop(heap) # pops the smallest item from the heap\n"
    "item = heap[0]       # smallest item on the heap without popping it\n"
    "heapify(x)           # transforms list into a heap, in-place, in linear time\n"
    "item = heapreplace(heap, item) # pops and returns smallest item, and adds\n"
    "                               # new item; the heap size is unchanged\n\n"
    "Our API differs from textbook heap algorithms as follows:\n\n"
    "- We use 0-based indexing.  This makes the relationship between the\n"
    "  index for a node and the indexes for its children slightly less\n"
    "  obvious, but is more suitable since Python uses 0-based indexing.\n\n"
    "- Our heappop() method returns the smallest item, not the largest.\n\n"
    "These two make it possible to view the heap as a regular Python list\n"
    "without surprises: heap[0] is the smallest item, and heap.sort()\n"
    "maintains the heap invariant!\n";

// ---------------------------------------------------------------- module definition

// The functions are hand-written vectorcall entries rather than ModuleDef::def: a drop-in port
// must reproduce Argument Clinic's exact argument errors (METH_O's "takes exactly one argument")
// and have the module as __self__, and these are the hot path (no per-call dispatch).
#define FASTCALL(NAME) \
    {#NAME, reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(NAME)), METH_FASTCALL, NAME##_doc}
#define ONE_ARG(NAME) {#NAME, NAME, METH_O, NAME##_doc}

PyMethodDef methods[] = {
    FASTCALL(heappush),
    FASTCALL(heappushpop),
    ONE_ARG(heappop),
    FASTCALL(heapreplace),
    ONE_ARG(heapify),
    {"_heappop_max", _heappop_max, METH_O, heappop_max_private_doc},
    {"_heapify_max", _heapify_max, METH_O, heapify_max_private_doc},
    {"_heapreplace_max",
     reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(_heapreplace_max)), METH_FASTCALL,
     heapreplace_max_private_doc},
    FASTCALL(heappush_max),
    FASTCALL(heappushpop_max),
    ONE_ARG(heappop_max),
    FASTCALL(heapreplace_max),
    ONE_ARG(heapify_max),
    {nullptr, nullptr, 0, nullptr}};

#undef FASTCALL
#undef ONE_ARG

}  // namespace

// Multi-phase initialisation, Py_mod_gil = NOT_USED, the runtime check and exception
// translation come from the module helper.
PYO3CPP_MODULE(pyo3cpp_heapq, m)
{
    m.doc(module_doc);
    m.on_exec([](Python py, Borrowed<PyModule> module) {
        check_status(py, PyModule_AddFunctions(module.as_ptr(), methods));
    });
}
