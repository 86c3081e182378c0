// pyo3cpp_heapq — a drop-in port of CPython 3.13's _heapq accelerator, written with pyo3cpp's
// public API only, that stays correct when many threads share one heap on free-threaded Python.
//
//   >>> import pyo3cpp_heapq as hq
//   >>> h = []; hq.heappush(h, 3); hq.heappush(h, 1); hq.heappop(h)
//   1
//
// Same functions, signatures (positional-only), results, exceptions and docstrings as
// _heapq, plus 3.14's public max-heap names. What is different:
//   - Free-threaded builds: every operation runs inside one pyo3cpp::ExclusiveSection on the
//     heap list (exclusive_section.hpp): pyo3cpp's per-object lock plus the list's critical
//     section. What that guarantees, honestly:
//       * two pyo3cpp_heapq operations on the same list exclude each other fully, even while a
//         Python __lt__ blocks and even where CPython 3.13's own PyList_Append / PyList_SetSlice
//         re-lock the list (which suspends a plain critical section): racing heappush/heappop
//         never lose or duplicate an item and never break the heap invariant (CPython 3.13's
//         _heapq does both);
//       * plain Python code on another thread (`heap.append(x)`, `heap[0] = y`) is excluded
//         exactly as far as a critical section excludes it: not while this thread is detached
//         (any __lt__ that blocks), and on 3.13 not during heappush's PyList_Append and
//         heappop's PyList_SetSlice, which lock the list themselves (3.13 cannot nest that lock;
//         ExclusiveSection::relocking). Such code breaks the heap invariant anyway; it can
//         never crash us (sizes are re-read after every such call).
//     GIL builds: the section compiles to nothing; the GIL already excludes.
//   - Both items of a comparison are held by strong references while __lt__ runs, and the
//     list's size is re-checked after every comparison (RuntimeError "list changed size during
//     iteration"), so a comparison that mutates the heap can never crash us.
// Lock rule: an __lt__ that itself runs a pyo3cpp_heapq operation on the same heap is fine (the
// lock is recursive; the size check then raises). One that operates on ANOTHER heap while a
// second thread does the reverse deadlocks, as any two locks taken in opposite orders would.
#include <Python.h>

#include <pyo3cpp/pyo3cpp.hpp>

using namespace pyo3cpp;

namespace {

// ---------------------------------------------------------------- the list's storage

// Items are read and moved in place, as CPython's _heapq does, through the public
// PyList_GET_ITEM lvalue; the caller holds the list's section, so nobody else writes them.
inline PyObject *item_at(PyObject *heap, Py_ssize_t index) noexcept
{
    return PyList_GET_ITEM(heap, index);
}

// heap[index] = value, where the list's old reference at `index` has been taken over by the
// caller (a swap, or the caller now owns it): no refcount change. Free-threaded builds: other
// threads read list items without the lock (PyList_GetItemRef's lock-free path), so the store
// is atomic with release order, as CPython's own list stores are.
inline void store(PyObject *heap, Py_ssize_t index, PyObject *value) noexcept
{
#ifdef Py_GIL_DISABLED
    __atomic_store_n(&PyList_GET_ITEM(heap, index), value, __ATOMIC_RELEASE);
#else
    PyList_SET_ITEM(heap, index, value);
#endif
}

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
// Exact int, float, str and bytes compare in C without running Python code, so nothing can
// drop the list's references meanwhile: those comparisons need no references of their own (on
// free-threaded builds an incref + decref pair per item is most of a comparison's cost).
inline bool compares_without_python(PyTypeObject *type) noexcept
{
    return type == &PyLong_Type || type == &PyFloat_Type || type == &PyUnicode_Type ||
           type == &PyBytes_Type;
}

inline bool less(Python py, PyObject *a, PyObject *b)
{
    PyTypeObject *const type = Py_TYPE(a);
    if (Py_IS_TYPE(b, type) && compares_without_python(type)) {
        PyObject *answer = type->tp_richcompare(a, b, Py_LT);  // True/False, or NULL on failure
        if (answer == Py_True || answer == Py_False) {
#if PY_VERSION_HEX < 0x030C0000
            Py_DECREF(answer);  // immortal from 3.12 on
#endif
            return answer == Py_True;
        }
        return finish_same_type_less(py, a, b, answer);
    }
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
        const bool above = Order::first(py, item_at(heap, pos), item_at(heap, parent_pos));
        require_size(py, heap, size);
        if (!above) break;
        // Re-read both: the comparison may have replaced items (never resized: checked).
        PyObject *parent = item_at(heap, parent_pos);
        store(heap, parent_pos, item_at(heap, pos));
        store(heap, pos, parent);
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
            if (!Order::first(py, item_at(heap, child), item_at(heap, child + 1))) ++child;
            require_size(py, heap, end);
        }
        PyObject *moving_up = item_at(heap, child);
        store(heap, child, item_at(heap, pos));
        store(heap, pos, moving_up);
        pos = child;
    }
    sift_towards_root<Order>(py, heap, start, pos);
}

// ---------------------------------------------------------------- operations (section held)

// `section` is the exclusive section on `heap` (with_heap); CPython's list mutators lock the
// list again, so they run through section.relocking (see exclusive_section.hpp: free on 3.14+
// and GIL builds; on 3.13t it avoids parking on our own lock).
// `section` may be deferred (with_heap<Name, true>): the append then runs before the critical
// section begins, and relocking begins it.
template <class Order>
void push(Python py, Borrowed<PyList> heap, ExclusiveSection &section, Borrowed<PyAny> item)
{
    section.relocking(py, [&] { heap.append(item); });  // PyList_Append
    // Re-read the size: on 3.13t another thread's plain list code may have run meanwhile.
    sift_towards_root<Order>(py, heap.as_ptr(), 0, PyList_GET_SIZE(heap.as_ptr()) - 1);
}

template <class Order> Bound<PyAny> pop(Python py, Borrowed<PyList> heap, ExclusiveSection &section)
{
    PyObject *list = heap.as_ptr();
    const Py_ssize_t size = PyList_GET_SIZE(list);
    if (size == 0) raise_index_error(py);
    // del heap[-1], keeping the item: CPython's _heapq does exactly this.
    auto last = Bound<PyAny>::from_borrowed_ptr(py, item_at(list, size - 1));
    section.relocking(py, [&] {
        check_status(py, PyList_SetSlice(list, size - 1, size, nullptr));
    });
    if (PyList_GET_SIZE(list) == 0) return last;
    auto top = Bound<PyAny>::from_owned_ptr_unchecked(py, item_at(list, 0));
    store(list, 0, std::move(last).into_ptr());  // the list's reference to `top` is now ours
    sift_towards_leaves<Order>(py, list, 0);
    return top;
}

template <class Order>
Bound<PyAny> replace(Python py, Borrowed<PyList> heap, Borrowed<PyAny> item)
{
    PyObject *list = heap.as_ptr();
    if (PyList_GET_SIZE(list) == 0) raise_index_error(py);
    auto top = Bound<PyAny>::from_owned_ptr_unchecked(py, item_at(list, 0));
    store(list, 0, item.to_owned().into_ptr());
    sift_towards_leaves<Order>(py, list, 0);
    return top;
}

template <class Order>
Bound<PyAny> push_pop(Python py, Borrowed<PyList> heap, Borrowed<PyAny> item)
{
    PyObject *list = heap.as_ptr();
    if (PyList_GET_SIZE(list) == 0) return item.to_owned();
    // Nothing on the heap comes before `item`: it would be pushed and popped straight back.
    if (!Order::first(py, item_at(list, 0), item.as_ptr())) return item.to_owned();
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

template <class Order> void heapify(Python py, Borrowed<PyList> heap)
{
    PyObject *list = heap.as_ptr();
    const Py_ssize_t size = PyList_GET_SIZE(list);
    if (size <= 2500) {
        // Small heaps fit in cache: sift every parent, last to first.
        for (Py_ssize_t i = (size >> 1) - 1; i >= 0; --i) sift_towards_leaves<Order>(py, list, i);
        return;
    }
    // Large heaps: as soon as both children of a node are heaps, sift the node, while the
    // children are still in cache. Same comparisons and result as the simple order; CPython
    // uses the same traversal, so a mutating or failing __lt__ sees the same sequence.
    const Py_ssize_t first_leaf = size >> 1;
    const Py_ssize_t row_start = top_bit(first_leaf + 1) - 1;  // leftmost node of first_leaf's row
    auto sift_and_climb = [&](Py_ssize_t node) {
        for (;;) {
            sift_towards_leaves<Order>(py, list, node);
            if (!(node & 1)) break;  // a right sibling climbs only after its left one
            node >>= 1;
        }
    };
    for (Py_ssize_t i = row_start - 1; i >= (first_leaf >> 1); --i) sift_and_climb(i);
    for (Py_ssize_t i = first_leaf - 1; i >= row_start; --i) sift_and_climb(i);
}

// ---------------------------------------------------------------- module functions

// Runs operation(heap, section) inside one exclusive section on the list, after checking the
// argument is a list (the message is CPython's Argument Clinic one). Exceptions reach the
// module helper, which turns them into Python ones.
// With `Deferred`, the section's critical section begins at the end of the operation's first
// relocking() call (heappush: its append comes first), which saves ending and beginning it.
template <FixedString Name, bool Deferred = false, class Operation>
auto with_heap(Python py, const char *argument, Borrowed<PyAny> heap_arg, Operation &&operation)
{
    PyObject *object = heap_arg.as_ptr();
    if (!PyList_Check(object)) {
        PyErr_Format(PyExc_TypeError, "%s() %s must be list, not %.50s", Name.c_str(), argument,
                     object == Py_None ? "None" : Py_TYPE(object)->tp_name);
        throw_fetched(py);
    }
    const auto heap = heap_arg.cast_unchecked<PyList>();
    if constexpr (Deferred) {
        ExclusiveSection section(py, heap, defer_section);
        return operation(heap, section);
    } else {
        ExclusiveSection section(py, heap);
        return operation(heap, section);
    }
}

// Argument Clinic's message for a wrong positional count (`heappush expected 2 arguments, got 1`).
template <FixedString Name> void require_two_args(Python py, Py_ssize_t nargs)
{
    if (nargs == 2) return;
    PyErr_Format(PyExc_TypeError, "%s expected 2 arguments, got %zd", Name.c_str(), nargs);
    throw_fetched(py);
}

// The module's functions, in the module helper's compile-time raw form (def_raw<&fn>): the
// one-argument ones are METH_O, the others METH_FASTCALL, exactly as _heapq's Argument Clinic
// code, so CPython produces the same argument errors and `__self__` is the module.
template <class Order, FixedString Name>
void heappush_fn(Python py, const Borrowed<PyAny> *args, Py_ssize_t nargs)
{
    require_two_args<Name>(py, nargs);
    with_heap<Name, true>(py, "argument 1", args[0],
                          [&](Borrowed<PyList> heap, ExclusiveSection &section) {
                              push<Order>(py, heap, section, args[1]);
                          });
}

template <class Order, FixedString Name> Bound<PyAny> heappop_fn(Python py, Borrowed<PyAny> heap)
{
    return with_heap<Name>(py, "argument", heap,
                           [&](Borrowed<PyList> list, ExclusiveSection &section) {
                               return pop<Order>(py, list, section);
                           });
}

template <class Order, FixedString Name>
Bound<PyAny> heapreplace_fn(Python py, const Borrowed<PyAny> *args, Py_ssize_t nargs)
{
    require_two_args<Name>(py, nargs);
    return with_heap<Name>(py, "argument 1", args[0],
                           [&](Borrowed<PyList> heap, ExclusiveSection &) {
                               return replace<Order>(py, heap, args[1]);
                           });
}

template <class Order, FixedString Name>
Bound<PyAny> heappushpop_fn(Python py, const Borrowed<PyAny> *args, Py_ssize_t nargs)
{
    require_two_args<Name>(py, nargs);
    return with_heap<Name>(py, "argument 1", args[0],
                           [&](Borrowed<PyList> heap, ExclusiveSection &) {
                               return push_pop<Order>(py, heap, args[1]);
                           });
}

template <class Order, FixedString Name> void heapify_fn(Python py, Borrowed<PyAny> heap)
{
    with_heap<Name>(py, "argument", heap, [&](Borrowed<PyList> list, ExclusiveSection &) {
        heapify<Order>(py, list);
    });
}

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
    "The combined action runs more efficiently than heappush_max()\n"
    "followed by a separate call to heappop_max().";   // CPython 3.14's wording and wrapping
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

}  // namespace

// ---------------------------------------------------------------- module definition

// Multi-phase initialisation, Py_mod_gil = NOT_USED, the runtime check, the C entry points and
// exception translation all come from the module helper (module.hpp).
PYO3CPP_MODULE(pyo3cpp_heapq, m)
{
    m.doc(module_doc);
    m.def_raw<&heappush_fn<MinOrder, "heappush">>("heappush", heappush_doc);
    m.def_raw<&heappushpop_fn<MinOrder, "heappushpop">>("heappushpop", heappushpop_doc);
    m.def_raw<&heappop_fn<MinOrder, "heappop">>("heappop", heappop_doc);
    m.def_raw<&heapreplace_fn<MinOrder, "heapreplace">>("heapreplace", heapreplace_doc);
    m.def_raw<&heapify_fn<MinOrder, "heapify">>("heapify", heapify_doc);
    // 3.13's private max-heap helpers (heapq.py's merge/nlargest use them) ...
    m.def_raw<&heappop_fn<MaxOrder, "_heappop_max">>("_heappop_max", heappop_max_private_doc);
    m.def_raw<&heapify_fn<MaxOrder, "_heapify_max">>("_heapify_max", heapify_max_private_doc);
    m.def_raw<&heapreplace_fn<MaxOrder, "_heapreplace_max">>("_heapreplace_max",
                                                             heapreplace_max_private_doc);
    // ... and 3.14's public ones.
    m.def_raw<&heappush_fn<MaxOrder, "heappush_max">>("heappush_max", heappush_max_doc);
    m.def_raw<&heappushpop_fn<MaxOrder, "heappushpop_max">>("heappushpop_max", heappushpop_max_doc);
    m.def_raw<&heappop_fn<MaxOrder, "heappop_max">>("heappop_max", heappop_max_doc);
    m.def_raw<&heapreplace_fn<MaxOrder, "heapreplace_max">>("heapreplace_max", heapreplace_max_doc);
    m.def_raw<&heapify_fn<MaxOrder, "heapify_max">>("heapify_max", heapify_max_doc);
}
