// pyo3cpp_bisect — a drop-in port of CPython 3.13's _bisect accelerator, written with pyo3cpp;
// on free-threaded Python an insort into a list is atomic.
//
//   >>> import pyo3cpp_bisect as bs
//   >>> a = [1, 3, 5]; bs.insort(a, 4); a, bs.bisect_left(a, 4)
//   ([1, 3, 4, 5], 2)
//
// Same functions (plus the `bisect` / `insort` aliases that bisect.py adds), signatures,
// keyword handling, results, exceptions and docstrings as _bisect:
//   bisect_left/bisect_right(a, x, lo=0, hi=None, *, key=None) -> index
//   insort_left/insort_right(a, x, lo=0, hi=None, *, key=None) -> None
// `a` is any sequence (list items are read directly, others through their sq_item slot);
// insort calls `a.insert(i, x)` on anything but an exact list; `key` is applied to the items
// of `a` and, for insort only, to `x`.
// What is different, on free-threaded builds: on an exact list the whole search (and the
// insertion, for insort, through PyList_Insert) runs inside one pyo3cpp::ExclusiveSection on the
// list (exclusive_section.hpp: pyo3cpp's per-object lock plus the list's critical section):
//   - two pyo3cpp_bisect operations on the same list exclude each other fully, even while a
//     Python `key` or `__lt__` blocks and even where CPython 3.13's PyList_Insert re-locks the
//     list: racing insorts never leave the list unsorted, and a bisect never sees half an insort;
//   - plain Python code on another thread (`a.append(x)`) is excluded as far as a critical
//     section excludes it: not while this thread is detached (any `key` or `__lt__` that
//     blocks), and on 3.13 not during the PyList_Insert, which locks the list itself
//     (ExclusiveSection::relocking). Reads stay bounds-checked,
//     so such code can make results meaningless but never crash us.
// Other sequences (list subclasses included) go through the sequence protocol and `insert`,
// unlocked, as in CPython. GIL builds: the section compiles to nothing. Items are held by strong
// references while compared. Lock rule: a `key` or `__lt__` that runs an operation of this
// module on ANOTHER list while a second thread does the reverse deadlocks, as any two locks
// taken in opposite orders would (the same list is fine: the lock is recursive).
#include <Python.h>

#include <pyo3cpp/pyo3cpp.hpp>

#include <optional>
#include <utility>

using namespace pyo3cpp;

namespace {

// ---------------------------------------------------------------- arguments

struct BisectArgs {
    PyObject *a = nullptr;
    PyObject *x = nullptr;
    Py_ssize_t lo = 0;
    Py_ssize_t hi = -1;  // -1: len(a), as in CPython (an explicit hi=-1 means the same)
    PyObject *key = Py_None;
};

constexpr const char *parameter_names[] = {"a", "x", "lo", "hi", "key"};
constexpr Py_ssize_t max_positional = 4, max_arguments = 5, required = 2;

// lo: any integer (__index__), OverflowError beyond Py_ssize_t.
bool convert_lo(PyObject *obj, Py_ssize_t *out)
{
    PyObject *index = PyNumber_Index(obj);
    if (index == nullptr) return false;
    *out = PyLong_AsSsize_t(index);
    Py_DECREF(index);
    return !(*out == -1 && PyErr_Occurred());
}

// hi: None or any integer.
bool convert_hi(PyObject *obj, Py_ssize_t *out)
{
    if (obj == Py_None) return true;
    if (!PyIndex_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "argument should be integer or None, not '%.200s'",
                     Py_TYPE(obj)->tp_name);
        return false;
    }
    const Py_ssize_t value = PyNumber_AsSsize_t(obj, PyExc_OverflowError);
    if (value == -1 && PyErr_Occurred()) return false;
    *out = value;
    return true;
}

// Vectorcall arguments -> BisectArgs, with Argument Clinic's checks and messages; false with
// the exception set on bad arguments.
bool parse_args(const char *function, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
                BisectArgs *out)
{
    PyObject *slots[max_arguments] = {};
    const Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    if (nargs + nkw > max_arguments) {
        PyErr_Format(PyExc_TypeError, "%s() takes at most %zd %sarguments (%zd given)", function,
                     max_arguments, nargs == 0 ? "keyword " : "", nargs + nkw);
        return false;
    }
    if (nargs > max_positional) {
        PyErr_Format(PyExc_TypeError, "%s() takes at most %zd positional arguments (%zd given)",
                     function, max_positional, nargs);
        return false;
    }
    for (Py_ssize_t i = 0; i < nargs; ++i) slots[i] = args[i];
    // Keyword values by name; a non-str name cannot reach us (CPython's call checks it).
    auto keyword_value = [&](const char *parameter) -> PyObject * {
        for (Py_ssize_t k = 0; k < nkw; ++k)
            if (PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(kwnames, k), parameter) == 0)
                return args[nargs + k];
        return nullptr;
    };
    // Clinic's order of complaints: a missing required argument first, then a keyword that
    // repeats a positional one, then the first unknown keyword.
    Py_ssize_t keywords_used = 0;
    for (Py_ssize_t p = nargs; p < max_arguments; ++p) {
        slots[p] = nkw ? keyword_value(parameter_names[p]) : nullptr;
        if (slots[p] != nullptr) {
            ++keywords_used;
        } else if (p < required) {
            PyErr_Format(PyExc_TypeError, "%s() missing required argument '%s' (pos %zd)",
                         function, parameter_names[p], p + 1);
            return false;
        }
    }
    if (keywords_used < nkw) {
        for (Py_ssize_t p = 0; p < nargs; ++p) {
            if (keyword_value(parameter_names[p]) != nullptr) {
                PyErr_Format(PyExc_TypeError,
                             "argument for %s() given by name ('%s') and position (%zd)", function,
                             parameter_names[p], p + 1);
                return false;
            }
        }
        for (Py_ssize_t k = 0; k < nkw; ++k) {
            PyObject *name = PyTuple_GET_ITEM(kwnames, k);
            bool known = false;
            for (const char *parameter : parameter_names)
                known = known || PyUnicode_CompareWithASCIIString(name, parameter) == 0;
            if (known) continue;
#if PY_VERSION_HEX >= 0x030D0000
            PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument '%S'", function,
                         name);
#else
            PyErr_Format(PyExc_TypeError, "'%S' is an invalid keyword argument for %s()", name,
                         function);
#endif
            return false;
        }
    }
    out->a = slots[0];
    out->x = slots[1];
    if (slots[2] != nullptr && !convert_lo(slots[2], &out->lo)) return false;
    if (slots[3] != nullptr && !convert_hi(slots[3], &out->hi)) return false;
    if (slots[4] != nullptr) out->key = slots[4];
    return true;
}

// ---------------------------------------------------------------- reading a[i]

// The item getter for `a`, found once per call like CPython does: exact lists are read
// directly with the public PyList_GET_SIZE / PyList_GET_ITEM (the caller holds their section),
// anything else through its sq_item slot.
class ItemReader {
public:
    ItemReader(Python py, PyObject *sequence) : sequence_(sequence)
    {
        if (PyList_CheckExact(sequence)) return;
        PyTypeObject *type = Py_TYPE(sequence);
        if (type->tp_as_sequence && type->tp_as_sequence->sq_item) {
            sq_item_ = type->tp_as_sequence->sq_item;
            return;
        }
        if (type->tp_as_mapping && type->tp_as_mapping->mp_subscript)
            PyErr_Format(PyExc_TypeError, "%.200s is not a sequence", type->tp_name);
        else
            PyErr_Format(PyExc_TypeError, "'%.200s' object does not support indexing",
                         type->tp_name);
        throw_fetched(py);
    }

    // a[index] as a new reference (0 <= index).
    PyObject *get(Python py, Py_ssize_t index) const
    {
        PyObject *item;
        if (sq_item_ == nullptr) {
            // A key function may have shrunk the list: bounds-check every read, with list's
            // own message.
            if (index >= PyList_GET_SIZE(sequence_))
                throw PyErr::new_err(py, PyExc_IndexError, "list index out of range");
            item = Py_NewRef(PyList_GET_ITEM(sequence_, index));
        } else {
            item = sq_item_(sequence_, index);
            if (item == nullptr) throw_fetched(py);
        }
        return item;
    }

private:
    PyObject *sequence_;
    ssizeargfunc sq_item_ = nullptr;
};

// Py_EnterRecursiveCall / Py_LeaveRecursiveCall as a scope.
class RecursionGuard {
public:
    RecursionGuard(Python py, const char *where)
    {
        if (Py_EnterRecursiveCall(where)) throw_fetched(py);
    }
    RecursionGuard(const RecursionGuard &) = delete;
    RecursionGuard &operator=(const RecursionGuard &) = delete;
    ~RecursionGuard() { Py_LeaveRecursiveCall(); }
};

// ---------------------------------------------------------------- the search

// `left < right`, with CPython's _bisect fast path: when both have the type of x, call the
// type's tp_richcompare directly; NotImplemented falls back to the full protocol (and turns the
// fast path off for the rest of the search). Both references are owned by the caller.
inline bool less(Python py, PyObject *left, PyObject *right, richcmpfunc &fast_compare,
                 PyTypeObject *x_type, PyObject *item)
{
    int result;
    if (fast_compare != nullptr && Py_IS_TYPE(item, x_type)) {
        PyObject *answer = fast_compare(left, right, Py_LT);
        if (answer == Py_True) {
            Py_DECREF(answer);
            return true;
        }
        if (answer == Py_False) {
            Py_DECREF(answer);
            return false;
        }
        if (answer == nullptr) throw_fetched(py);
        if (answer == Py_NotImplemented) {
            Py_DECREF(answer);
            fast_compare = nullptr;
            result = PyObject_RichCompareBool(left, right, Py_LT);
        } else {
            result = PyObject_IsTrue(answer);
            Py_DECREF(answer);
        }
    } else {
        result = PyObject_RichCompareBool(left, right, Py_LT);
    }
    if (result < 0) throw_fetched(py);
    return result != 0;
}

// The insertion point of x in a[lo:hi] (hi == -1: len(a)). Right: after equal items.
template <bool Right>
Py_ssize_t search(Python py, PyObject *a, PyObject *x, Py_ssize_t lo, Py_ssize_t hi, PyObject *key)
{
    // _bisect's own message (3.15 rewords it)
#if PY_VERSION_HEX >= 0x030F0000
    if (lo < 0) throw PyErr::new_err(py, PyExc_ValueError, "lo cannot be negative");
#else
    if (lo < 0) throw PyErr::new_err(py, PyExc_ValueError, "lo must be non-negative");
#endif
    if (hi == -1) {
        hi = PySequence_Size(a);
        if (hi < 0) throw_fetched(py);
    }
    const ItemReader reader(py, a);
    RecursionGuard recursion(py, Right ? " in _bisect.bisect_right" : " in _bisect.bisect_left");
    PyTypeObject *x_type = Py_TYPE(x);
    richcmpfunc fast_compare = x_type->tp_richcompare;
    while (lo < hi) {
        // Unsigned: lo + hi cannot overflow.
        const Py_ssize_t mid = static_cast<Py_ssize_t>((static_cast<size_t>(lo) + hi) / 2);
        auto item = Bound<PyAny>::from_owned_ptr_unchecked(py, reader.get(py, mid));
        if (key != Py_None)
            item = Bound<PyAny>::from_owned_ptr(py, PyObject_CallOneArg(key, item.as_ptr()));
        // Right: if x < item go left.  Left: if item < x go right.
        if constexpr (Right) {
            if (less(py, x, item.as_ptr(), fast_compare, x_type, item.as_ptr()))
                hi = mid;
            else
                lo = mid + 1;
        } else {
            if (less(py, item.as_ptr(), x, fast_compare, x_type, item.as_ptr()))
                lo = mid + 1;
            else
                hi = mid;
        }
    }
    return lo;
}

// Runs fn() inside one exclusive section on `a` when `a` is an exact list (the only case where
// we touch its storage directly), otherwise without one.
template <class F> auto in_list_section(Python py, Borrowed<PyAny> a, F &&fn)
{
    if (PyList_CheckExact(a.as_ptr())) return exclusive_section(py, a, std::forward<F>(fn));
    return std::forward<F>(fn)();
}

// Parses the arguments; throws the TypeError Argument Clinic would raise.
template <FixedString Name>
BisectArgs parse(Python py, const Borrowed<PyAny> *args, Py_ssize_t nargs, Borrowed<PyAny> kwnames)
{
    BisectArgs parsed;
    // Borrowed<PyAny> is layout-identical to PyObject* (borrowed.hpp).
    if (!parse_args(Name.c_str(), reinterpret_cast<PyObject *const *>(args), nargs,
                    kwnames.as_ptr(), &parsed))
        throw_fetched(py);
    return parsed;
}

// The module's functions, in the module helper's compile-time raw form (def_raw<&fn>):
// METH_FASTCALL | METH_KEYWORDS entries, as _bisect's Argument Clinic code, with the module as
// `__self__`; exceptions are translated by the helper.
template <bool Right, FixedString Name>
Py_ssize_t bisect_fn(Python py, const Borrowed<PyAny> *args, Py_ssize_t nargs,
                     Borrowed<PyAny> kwnames)
{
    const BisectArgs arg = parse<Name>(py, args, nargs, kwnames);
    return in_list_section(py, Borrowed<PyAny>::from_ptr(py, arg.a), [&] {
        return search<Right>(py, arg.a, arg.x, arg.lo, arg.hi, arg.key);
    });
}

template <bool Right, FixedString Name>
void insort_fn(Python py, const Borrowed<PyAny> *args, Py_ssize_t nargs, Borrowed<PyAny> kwnames)
{
    const BisectArgs arg = parse<Name>(py, args, nargs, kwnames);
    const auto a = Borrowed<PyAny>::from_ptr(py, arg.a);
    const auto x = Borrowed<PyAny>::from_ptr(py, arg.x);
    // The key applies to x for insort (bisect_* take x already keyed).
    std::optional<Bound<PyAny>> keyed_x;
    if (arg.key != Py_None)
        keyed_x = Bound<PyAny>::from_owned_ptr(py, PyObject_CallOneArg(arg.key, arg.x));
    PyObject *probe = keyed_x ? keyed_x->as_ptr() : arg.x;
    if (PyList_CheckExact(arg.a)) {
        // Search and insertion in one exclusive section: an insort is atomic.
        const auto list = a.cast_unchecked<PyList>();
        ExclusiveSection section(py, list);
        const Py_ssize_t index = search<Right>(py, arg.a, probe, arg.lo, arg.hi, arg.key);
        // PyList_Insert locks the list itself; relocking avoids 3.13's park on our own lock
        // (exclusive_section.hpp) and is free on 3.14+ and GIL builds.
        section.relocking(py, [&] { list.insert(index, x); });
    } else {
        const Py_ssize_t index = search<Right>(py, arg.a, probe, arg.lo, arg.hi, arg.key);
        a.call_method<"insert">(index, x);  // whatever `insert` returns is dropped, as in CPython
    }
}

// ---------------------------------------------------------------- docstrings (as _bisect's)

#define BISECT_SIGNATURE(NAME) NAME "($module, /, a, x, lo=0, hi=None, *, key=None)\n--\n\n"
#define BISECT_BOUNDS_AND_KEY                                              \
    "Optional args lo (default 0) and hi (default len(a)) bound the\n"    \
    "slice of a to be searched.\n\n"                                       \
    "A custom key function can be supplied to customize the sort order."

#define BISECT_RIGHT_TEXT                                                         \
    "Return the index where to insert item x in list a, assuming a is sorted.\n\n" \
    "The return value i is such that all e in a[:i] have e <= x, and all e in\n"   \
    "a[i:] have e > x.  So if x already appears in the list, a.insert(i, x)\n"      \
    "will insert just after the rightmost x already there.\n\n" BISECT_BOUNDS_AND_KEY
#define BISECT_LEFT_TEXT                                                          \
    "Return the index where to insert item x in list a, assuming a is sorted.\n\n" \
    "The return value i is such that all e in a[:i] have e < x, and all e in\n"    \
    "a[i:] have e >= x.  So if x already appears in the list, a.insert(i, x)\n"     \
    "will insert just before the leftmost x already there.\n\n" BISECT_BOUNDS_AND_KEY
#define INSORT_RIGHT_TEXT                                                  \
    "Insert item x in list a, and keep it sorted assuming a is sorted.\n\n" \
    "If x is already in a, insert it to the right of the rightmost x.\n\n" BISECT_BOUNDS_AND_KEY
#define INSORT_LEFT_TEXT                                                   \
    "Insert item x in list a, and keep it sorted assuming a is sorted.\n\n" \
    "If x is already in a, insert it to the left of the leftmost x.\n\n" BISECT_BOUNDS_AND_KEY

constexpr const char module_doc[] =
    "Bisection algorithms.\n\n"
    "This module provides support for maintaining a list in sorted order without\n"
    "having to sort the list after each insertion. For long lists of items with\n"
    "expensive comparison operations, this can be an improvement over the more\n"
    "common approach.\n";

}  // namespace

// ---------------------------------------------------------------- module definition

// Multi-phase initialisation, Py_mod_gil = NOT_USED, the runtime check, the C entry points and
// exception translation all come from the module helper (module.hpp).
PYO3CPP_MODULE(pyo3cpp_bisect, m)
{
    m.doc(module_doc);
    m.def_raw<&bisect_fn<true, "bisect_right">>(
        "bisect_right", BISECT_SIGNATURE("bisect_right") BISECT_RIGHT_TEXT);
    m.def_raw<&insort_fn<true, "insort_right">>(
        "insort_right", BISECT_SIGNATURE("insort_right") INSORT_RIGHT_TEXT);
    m.def_raw<&bisect_fn<false, "bisect_left">>(
        "bisect_left", BISECT_SIGNATURE("bisect_left") BISECT_LEFT_TEXT);
    m.def_raw<&insort_fn<false, "insort_left">>(
        "insort_left", BISECT_SIGNATURE("insort_left") INSORT_LEFT_TEXT);
    // bisect.py's aliases: the same function objects (bisect.bisect.__name__ is "bisect_right").
    m.on_exec([](Python py, Borrowed<PyModule> module) {
        for (auto [alias, target] : {std::pair{"bisect", "bisect_right"},
                                     std::pair{"insort", "insort_right"}}) {
            auto function = module.getattr(target);
            check_status(py, PyModule_AddObjectRef(module.as_ptr(), alias, function.as_ptr()));
        }
    });
}
