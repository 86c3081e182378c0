// function.cpp — the compiled half of the function-binding layer (abi/pyo3cpp.h, "function
// bindings"): everything about a call that does not depend on the C++ parameter types.
//
// What it is for: the header (include/pyo3cpp/function.hpp) generates, per bound function, only
// the fast path (positional arguments, exactly as many as there are parameters, no keywords)
// and the conversions. Keyword matching, defaults, *args/**kwargs, every error message and the
// signature texts are here, compiled once, as nanobind does in its nb_func.cpp; so a module with
// a hundred functions carries one copy of them, and their wording is the same everywhere.
//
// The function objects: a PyCMethod (CPython's builtin_method, a subtype of
// builtin_function_or_method) whose vectorcall slot is the binding's own entry point. Being a
// real built-in gives inspect.signature (__text_signature__), help(), pickling by qualified name
// (__reduce__ returns the name when __self__ is a module), __module__ and __qualname__ for free.
// The subtype matters: the interpreter specialises calls to exact builtin_function_or_method
// objects by calling ml_meth directly; calls to the subtype always go through the vectorcall
// slot, which is what lets the entry point reach its record through the callable (m_ml) instead
// of through `self` (the capsule lookup of the previous design, 19 instructions a call).
//
// Thread: every function requires an attached thread. Prepared signatures are immutable once
// published; the registry behind pyo3cpp_function_signature has its own lock.
#include <Python.h>  // first, as CPython requires: its pyconfig.h sets feature macros
                     // (3.15: _POSIX_C_SOURCE 202405L) that the C library headers read
#include <array>
#include <type_traits>
#include <atomic>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "runtime_state.h"

using namespace pyo3cpp::detail;

namespace {

struct Prepared {
    std::vector<PyObject *> names;  // interned, one per parameter (kept alive: never released)
    std::uint64_t generation = 0;   // lifecycle generation the names belong to
    Py_ssize_t positional = 0;      // parameters that take positional arguments
    Py_ssize_t required_positional = 0;  // of those, how many leading ones are required
    Py_ssize_t var_positional = -1;
    Py_ssize_t var_keyword = -1;
    bool any_keyword = false;       // some parameter can be passed by keyword
    std::string doc;                // "name(...)\n--\n\n" + doc
    std::string typed;              // "(a: int, /) -> int" (an overload set: one per line)
    int overload_flags = 0;         // an overload set's PYO3CPP_OVERLOAD_* flags
};

const Prepared &prepared(const pyo3cpp_signature *sig) noexcept
{
    return *static_cast<const Prepared *>(sig->prepared);
}

// Shared C entries (pyo3cpp_function_shared_entry, pyo3cpp_method_shared_entry): a fixed set of
// METH_FASTCALL | METH_KEYWORDS functions, each bound once to an (invoke, context) pair. They
// live here, once per process, rather than in every extension. A method's invoke also gets
// `self`; a function's does not. They are a fast path only: when all are taken the class and
// module layers fall back to function objects whose vectorcall reaches the record without an
// entry (function.hpp's builtin_method, class.hpp's LateEntry), so no extension's size limits
// another's.
template <class Invoke, std::size_t N> class EntryTable {
public:
    using Entry = PyObject *(*)(PyObject *, PyObject *const *, Py_ssize_t, PyObject *);

    // The entry bound to (invoke, context), or nullptr when all N are taken.
    static void *bind(Invoke invoke, void *context) noexcept
    {
        const std::size_t k = used_.fetch_add(1, std::memory_order_relaxed);
        if (k >= N) return nullptr;
        // Published to the interpreter with the function object (module exec), after this store.
        slots_[k] = Slot{invoke, context};
        return reinterpret_cast<void *>(entries_[k]);
    }

private:
    struct Slot {
        Invoke invoke;
        void *context;
    };
    static inline Slot slots_[N];
    static inline std::atomic<std::size_t> used_{0};

    template <std::size_t K>
    static PyObject *entry(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
    {
        const Slot &slot = slots_[K];
        if constexpr (std::is_same_v<Invoke, pyo3cpp_method_invoke>)
            return slot.invoke(slot.context, self, args, nargs, kwnames);
        else
            return slot.invoke(slot.context, args, nargs, kwnames);
    }
    template <std::size_t... K> static constexpr std::array<Entry, N> make(std::index_sequence<K...>)
    {
        return {&entry<K>...};
    }
    static constexpr std::array<Entry, N> entries_ = make(std::make_index_sequence<N>());
};
using FunctionEntries = EntryTable<pyo3cpp_fastcall_invoke, 1024>;
using MethodEntries = EntryTable<pyo3cpp_method_invoke, 4096>;

PlainMutex g_registry_lock;
std::unordered_map<const PyMethodDef *, const pyo3cpp_signature *> *g_registry = nullptr;
// Class members that are not method descriptors (__init__, slots, properties): keyed by the
// class's tp_methods table and the member's name. Under g_registry_lock.
std::map<std::pair<const void *, std::string>, const pyo3cpp_signature *> *g_members = nullptr;

const char *annotation_of(const char *text) { return text != nullptr ? text : "object"; }

// "argument 'x'" for parameters that can be named by the caller, "argument 2" (1-based) for
// positional-only ones, as CPython's Argument Clinic words them.
std::string argument_label(const pyo3cpp_signature *sig, Py_ssize_t index)
{
    const pyo3cpp_parameter &p = sig->params[index];
    if (p.kind == PYO3CPP_PARAM_POSITIONAL_ONLY) return "argument " + std::to_string(index + 1);
    return std::string("argument '") + p.name + "'";
}

// Fills `prep` from `sig`; false with ValueError when the parameter list is not one Python allows.
bool check_and_build(const pyo3cpp_signature *sig, const char *doc, Prepared &prep)
{
    const char *fname = sig->name != nullptr ? sig->name : "?";
    int last_kind = PYO3CPP_PARAM_POSITIONAL_ONLY;
    bool seen_default = false;
    for (Py_ssize_t i = 0; i < sig->count; ++i) {
        const pyo3cpp_parameter &p = sig->params[i];
        if (p.name == nullptr || p.kind < PYO3CPP_PARAM_POSITIONAL_ONLY ||
            p.kind > PYO3CPP_PARAM_VAR_KEYWORD || p.kind < last_kind ||
            (p.kind == last_kind && (p.kind == PYO3CPP_PARAM_VAR_POSITIONAL ||
                                     p.kind == PYO3CPP_PARAM_VAR_KEYWORD))) {
            PyErr_Format(PyExc_ValueError,
                         "%s(): parameter %zd is out of order (positional-only, positional or "
                         "keyword, *args, keyword-only, **kwargs) or unnamed",
                         fname, i + 1);
            return false;
        }
        for (Py_ssize_t j = 0; j < i; ++j)
            if (std::strcmp(sig->params[j].name, p.name) == 0) {
                PyErr_Format(PyExc_ValueError, "%s(): duplicate parameter name '%s'", fname, p.name);
                return false;
            }
        last_kind = p.kind;
        if (p.kind <= PYO3CPP_PARAM_POSITIONAL_OR_KEYWORD) {
            if (p.required && seen_default) {
                PyErr_Format(PyExc_ValueError,
                             "%s(): required parameter '%s' follows a parameter with a default",
                             fname, p.name);
                return false;
            }
            if (!p.required) seen_default = true;
            ++prep.positional;
            if (p.required) prep.required_positional = prep.positional;
        }
        if (p.kind == PYO3CPP_PARAM_POSITIONAL_OR_KEYWORD || p.kind == PYO3CPP_PARAM_KEYWORD_ONLY)
            prep.any_keyword = true;
        if (p.kind == PYO3CPP_PARAM_VAR_POSITIONAL) prep.var_positional = i;
        if (p.kind == PYO3CPP_PARAM_VAR_KEYWORD) {
            prep.var_keyword = i;
            prep.any_keyword = true;
        }
    }

    // Both texts in one pass: markers "/" and "*" where Python's syntax puts them.
    std::string plain = std::string(fname) + "(";
    std::string typed = "(";
    bool first = true;
    auto separator = [&] {
        if (!first) {
            plain += ", ";
            typed += ", ";
        }
        first = false;
    };
    for (Py_ssize_t i = 0; i < sig->count; ++i) {
        const pyo3cpp_parameter &p = sig->params[i];
        if (p.kind == PYO3CPP_PARAM_KEYWORD_ONLY && prep.var_positional < 0 &&
            (i == 0 || sig->params[i - 1].kind != PYO3CPP_PARAM_KEYWORD_ONLY)) {
            separator();
            plain += "*";
            typed += "*";
        }
        separator();
        const char *stars = p.kind == PYO3CPP_PARAM_VAR_POSITIONAL ? "*"
                            : p.kind == PYO3CPP_PARAM_VAR_KEYWORD  ? "**"
                                                                   : "";
        plain += stars;
        plain += p.name;
        typed += stars;
        typed += p.name;
        typed += ": ";
        typed += annotation_of(p.annotation);
        if (!p.required && p.kind != PYO3CPP_PARAM_VAR_POSITIONAL &&
            p.kind != PYO3CPP_PARAM_VAR_KEYWORD) {
            const char *text = p.default_text != nullptr ? p.default_text : "...";
            plain += "=";
            plain += text;
            typed += " = ";
            typed += text;
        }
        const bool last_positional_only =
            p.kind == PYO3CPP_PARAM_POSITIONAL_ONLY &&
            (i + 1 == sig->count || sig->params[i + 1].kind != PYO3CPP_PARAM_POSITIONAL_ONLY);
        if (last_positional_only) {
            plain += ", /";
            typed += ", /";
        }
    }
    plain += ")\n--\n\n";
    typed += ") -> ";
    typed += annotation_of(sig->return_annotation);
    // help() reads the parameters from __text_signature__, which CPython cannot parse with
    // annotations: the typed signature leads the doc instead. Not for constructors
    // ("Name.__init__"): the class's doc is built from theirs (class.hpp).
    const std::size_t name_length = std::strlen(fname);
    const bool constructor = name_length > 9 && std::strcmp(fname + name_length - 9, ".__init__") == 0;
    if (!constructor) {
        plain += fname;
        plain += typed;
        if (doc != nullptr && doc[0] != '\0') plain += "\n\n";
    }
    prep.doc = plain + (doc != nullptr ? doc : "");
    prep.typed = std::move(typed);
    return true;
}

// The position of `key` among the parameters that may be passed by keyword, or -1.
Py_ssize_t find_keyword(const pyo3cpp_signature *sig, const Prepared &prep, PyObject *key)
{
    if (prep.generation == lifecycle_now()) {
        for (Py_ssize_t i = 0; i < sig->count; ++i)
            if (prep.names[static_cast<std::size_t>(i)] == key) return i;  // interned: the usual case
    }
    Py_ssize_t size = 0;
    const char *utf8 = PyUnicode_AsUTF8AndSize(key, &size);
    if (utf8 == nullptr) {
        PyErr_Clear();
        return -1;
    }
    for (Py_ssize_t i = 0; i < sig->count; ++i) {
        const char *name = sig->params[i].name;
        if (std::strlen(name) == static_cast<std::size_t>(size) &&
            std::memcmp(name, utf8, static_cast<std::size_t>(size)) == 0)
            return i;
    }
    return -1;
}

int fail_binding(const pyo3cpp_signature *sig, PyObject **slots)
{
    const Prepared &prep = prepared(sig);
    if (prep.var_positional >= 0) Py_CLEAR(slots[prep.var_positional]);
    if (prep.var_keyword >= 0) Py_CLEAR(slots[prep.var_keyword]);
    for (Py_ssize_t i = 0; i < sig->count; ++i) slots[i] = nullptr;
    return -1;
}

void raise_positional_count(const pyo3cpp_signature *sig, const Prepared &prep, Py_ssize_t given)
{
    const Py_ssize_t most = prep.positional, least = prep.required_positional;
    std::string takes = least == most ? std::to_string(most)
                                      : "from " + std::to_string(least) + " to " + std::to_string(most);
    // CPython's wording: a range is always plural ("from 0 to 1 positional arguments").
    PyErr_Format(PyExc_TypeError, "%s() takes %s positional argument%s but %zd %s given", sig->name,
                 takes.c_str(), most == 1 && least == most ? "" : "s", given,
                 given == 1 ? "was" : "were");
}

// CPython gives builtin_method (PyCMethod_Type, which our function objects are) a `__doc__` of
// None in its own type dict, because the type has no tp_doc; that entry shadows the `__doc__`
// descriptor it inherits from builtin_function_or_method, so every builtin_method's __doc__ reads
// None whatever its ml_doc says. Copy the inherited descriptor into the subtype's dict (once per
// interpreter lifetime: static types' dicts are rebuilt when CPython re-initialises). The only
// objects affected are builtin_method instances, which then report the doc their PyMethodDef has,
// as builtin_function_or_method instances always did.
std::atomic<std::uint64_t> g_doc_patched_generation{~std::uint64_t(0)};

int ensure_builtin_method_doc()
{
    const std::uint64_t now = lifecycle_now();
    if (g_doc_patched_generation.load(std::memory_order_acquire) == now) return 0;
#if PY_VERSION_HEX >= 0x030C0000
    PyObject *base_dict = PyType_GetDict(&PyCFunction_Type);
    PyObject *dict = PyType_GetDict(&PyCMethod_Type);
#else
    PyObject *base_dict = PyCFunction_Type.tp_dict;
    PyObject *dict = PyCMethod_Type.tp_dict;
    Py_XINCREF(base_dict);
    Py_XINCREF(dict);
#endif
    int status = 0;
    if (base_dict != nullptr && dict != nullptr) {
        PyObject *descriptor = PyDict_GetItemString(base_dict, "__doc__");  // borrowed
        PyObject *current = PyDict_GetItemString(dict, "__doc__");          // borrowed
        if (descriptor != nullptr && current != descriptor) {
            status = PyDict_SetItemString(dict, "__doc__", descriptor);
            PyType_Modified(&PyCMethod_Type);
        }
    }
    Py_XDECREF(base_dict);
    Py_XDECREF(dict);
    if (status == 0) g_doc_patched_generation.store(now, std::memory_order_release);
    return status;
}

bool is_plain_message_type(PyObject *type)
{
    return type == PyExc_TypeError || type == PyExc_ValueError || type == PyExc_OverflowError;
}

// The exception being raised as one normalised object carrying its traceback (a new
// reference), the indicator cleared; NULL when none is set.
PyObject *take_exception()
{
#if PY_VERSION_HEX >= 0x030C0000
    return PyErr_GetRaisedException();
#else
    PyObject *type = nullptr, *value = nullptr, *tb = nullptr;
    PyErr_Fetch(&type, &value, &tb);
    if (type == nullptr) return nullptr;
    PyErr_NormalizeException(&type, &value, &tb);
    if (tb != nullptr && value != nullptr) PyException_SetTraceback(value, tb);
    Py_XDECREF(type);
    Py_XDECREF(tb);
    return value;
#endif
}

// Raises `exc` again (steals the reference).
void give_exception(PyObject *exc)
{
#if PY_VERSION_HEX >= 0x030C0000
    PyErr_SetRaisedException(exc);
#else
    PyObject *type = reinterpret_cast<PyObject *>(Py_TYPE(exc));
    Py_INCREF(type);
    PyErr_Restore(type, exc, PyException_GetTraceback(exc));
#endif
}

}  // namespace

extern "C" {

PYO3CPP_API const char *pyo3cpp_signature_prepare(pyo3cpp_signature *sig, const char *doc)
{
    if (!thread_is_attached()) return nullptr;
    if (sig == nullptr || (sig->count > 0 && sig->params == nullptr)) {
        PyErr_SetString(PyExc_ValueError, "pyo3cpp_signature_prepare: sig or its params is NULL");
        return nullptr;
    }
    if (sig->prepared != nullptr) return prepared(sig).doc.c_str();
    try {
        auto prep = std::make_unique<Prepared>();
        if (!check_and_build(sig, doc, *prep)) return nullptr;
        prep->generation = lifecycle_now();
        for (Py_ssize_t i = 0; i < sig->count; ++i) {
            PyObject *name = PyUnicode_InternFromString(sig->params[i].name);
            if (name == nullptr) {
                for (PyObject *done : prep->names) Py_DECREF(done);
                return nullptr;
            }
            prep->names.push_back(name);
        }
        sig->prepared = prep.release();
        return prepared(sig).doc.c_str();
    } catch (const std::bad_alloc &) {
        PyErr_NoMemory();
        return nullptr;
    }
}

PYO3CPP_API int pyo3cpp_bind_arguments(const pyo3cpp_signature *sig, PyObject *const *args,
                                       ptrdiff_t nargs, PyObject *kwnames, PyObject **slots)
{
    if (!thread_is_attached()) return -1;
    if (sig == nullptr || sig->prepared == nullptr || slots == nullptr || nargs < 0 ||
        (nargs > 0 && args == nullptr) || (kwnames != nullptr && !PyTuple_Check(kwnames))) {
        PyErr_SetString(PyExc_ValueError,
                        "pyo3cpp_bind_arguments: needs a prepared signature, slots, args for "
                        "nargs >= 0 and kwnames a tuple or NULL");
        return -1;
    }
    const Prepared &prep = prepared(sig);
    for (Py_ssize_t i = 0; i < sig->count; ++i) slots[i] = nullptr;

    // Positional arguments: into the positional parameters, the rest into *args.
    if (nargs > prep.positional && prep.var_positional < 0) {
        raise_positional_count(sig, prep, nargs);
        return -1;
    }
    const Py_ssize_t direct = nargs < prep.positional ? nargs : prep.positional;
    for (Py_ssize_t i = 0; i < direct; ++i) slots[i] = args[i];
    if (prep.var_positional >= 0) {
        PyObject *rest = PyTuple_New(nargs - direct);
        if (rest == nullptr) return fail_binding(sig, slots);
        for (Py_ssize_t i = direct; i < nargs; ++i) {
            Py_INCREF(args[i]);
            PyTuple_SET_ITEM(rest, i - direct, args[i]);
        }
        slots[prep.var_positional] = rest;
    }
    if (prep.var_keyword >= 0) {
        slots[prep.var_keyword] = PyDict_New();
        if (slots[prep.var_keyword] == nullptr) return fail_binding(sig, slots);
    }

    // Keywords: by name; positional-only names and unknown names go to **kwargs when there is one.
    const Py_ssize_t nkw = kwnames != nullptr ? PyTuple_GET_SIZE(kwnames) : 0;
    if (nkw > 0 && !prep.any_keyword) {
        PyErr_Format(PyExc_TypeError, "%s() takes no keyword arguments", sig->name);
        return fail_binding(sig, slots);
    }
    std::string positional_only_names;
    for (Py_ssize_t k = 0; k < nkw; ++k) {
        PyObject *key = PyTuple_GET_ITEM(kwnames, k);
        PyObject *value = args[nargs + k];
        if (!PyUnicode_Check(key)) {  // a C caller's kwnames: as CPython's own binding says
            PyErr_Format(PyExc_TypeError, "%s() keywords must be strings", sig->name);
            return fail_binding(sig, slots);
        }
        Py_ssize_t j = find_keyword(sig, prep, key);
        const int kind = j >= 0 ? sig->params[j].kind : -1;
        const bool by_name = kind == PYO3CPP_PARAM_POSITIONAL_OR_KEYWORD ||
                             kind == PYO3CPP_PARAM_KEYWORD_ONLY;
        if (by_name) {
            if (slots[j] != nullptr) {
                PyErr_Format(PyExc_TypeError, "%s() got multiple values for argument '%s'",
                             sig->name, sig->params[j].name);
                return fail_binding(sig, slots);
            }
            slots[j] = value;
            continue;
        }
        if (prep.var_keyword >= 0) {
            // A name given twice (only a C caller can) is an error, not a silent overwrite.
            const int seen = PyDict_Contains(slots[prep.var_keyword], key);
            if (seen > 0)
                PyErr_Format(PyExc_TypeError, "%s() got multiple values for keyword argument '%S'",
                             sig->name, key);
            if (seen != 0 || PyDict_SetItem(slots[prep.var_keyword], key, value) < 0)
                return fail_binding(sig, slots);
            continue;
        }
        if (kind == PYO3CPP_PARAM_POSITIONAL_ONLY) {
            if (!positional_only_names.empty()) positional_only_names += ", ";
            positional_only_names += std::string("'") + sig->params[j].name + "'";
            continue;
        }
        PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument '%S'", sig->name, key);
        return fail_binding(sig, slots);
    }
    if (!positional_only_names.empty()) {
        PyErr_Format(PyExc_TypeError,
                     "%s() got some positional-only arguments passed as keyword arguments: %s",
                     sig->name, positional_only_names.c_str());
        return fail_binding(sig, slots);
    }

    // Required parameters that nothing filled.
    for (Py_ssize_t i = 0; i < sig->count; ++i) {
        const pyo3cpp_parameter &p = sig->params[i];
        if (slots[i] != nullptr || !p.required) continue;
        if (p.kind == PYO3CPP_PARAM_POSITIONAL_ONLY)
            raise_positional_count(sig, prep, nargs);
        else if (p.kind == PYO3CPP_PARAM_KEYWORD_ONLY)
            PyErr_Format(PyExc_TypeError, "%s() missing required keyword-only argument '%s'",
                         sig->name, p.name);
        else
            PyErr_Format(PyExc_TypeError, "%s() missing required argument '%s' (pos %zd)",
                         sig->name, p.name, i + 1);
        return fail_binding(sig, slots);
    }
    return 0;
}

PYO3CPP_API PyObject *pyo3cpp_argument_error(const pyo3cpp_signature *sig, ptrdiff_t index,
                                             PyObject *value, const char *expected,
                                             int accepts_none)
{
    if (!thread_is_attached()) return nullptr;
    if (sig == nullptr || sig->name == nullptr || index < 0 || index >= sig->count) {
        PyErr_SetString(PyExc_ValueError,
                        "pyo3cpp_argument_error: needs a signature and a parameter index in range");
        return nullptr;
    }
    PyObject *exc = take_exception();
    if (exc == nullptr) {
        PyErr_Format(PyExc_SystemError, "%s(): a conversion failed without an exception", sig->name);
        return nullptr;
    }
    PyObject *type = reinterpret_cast<PyObject *>(Py_TYPE(exc));
    std::string label;
    try {
        label = std::string(sig->name) + "() " + argument_label(sig, index);
    } catch (const std::bad_alloc &) {
        give_exception(exc);
        return nullptr;
    }

    PyObject *replacement = nullptr;
    if (type == PyExc_TypeError && expected != nullptr && value != nullptr) {
        replacement = PyUnicode_FromFormat("%s must be %s%s, not %.200s", label.c_str(), expected,
                                           accepts_none ? " or None" : "", Py_TYPE(value)->tp_name);
    } else if (is_plain_message_type(type)) {
        if (PyObject *message = PyObject_Str(exc)) {
            if (const char *text = PyUnicode_AsUTF8(message)) {
                const bool whole = std::strncmp(text, "must be ", 8) == 0;
                const char *not_part = whole ? std::strstr(text, ", not ") : nullptr;
                if (whole && accepts_none && type == PyExc_TypeError && not_part != nullptr &&
                    std::strstr(text, " or None") == nullptr) {
                    // An optional parameter: "must be list[int] or None, not str".
                    if (PyObject *head = PyUnicode_FromStringAndSize(text, not_part - text)) {
                        replacement = PyUnicode_FromFormat("%s %U or None%s", label.c_str(), head,
                                                           not_part);
                        Py_DECREF(head);
                    }
                } else {
                    replacement = PyUnicode_FromFormat(whole ? "%s %s" : "%s: %s", label.c_str(), text);
                }
            }
            Py_DECREF(message);
        }
    }
    if (replacement == nullptr) {
        PyErr_Clear();
        // Another exception type (UnicodeEncodeError, a user's): kept as it is, with a note
        // saying which argument it came from (PEP 678, shown under the traceback).
        if (PyObject *note = PyUnicode_FromString(label.c_str())) {
            Py_XDECREF(PyObject_CallMethod(exc, "add_note", "O", note));
            Py_DECREF(note);
        }
        PyErr_Clear();
        give_exception(exc);
        return nullptr;
    }
    PyObject *fresh = PyObject_CallOneArg(type, replacement);
    Py_DECREF(replacement);
    if (fresh == nullptr) {
        Py_DECREF(exc);
        return nullptr;
    }
    // The rewritten error stands for the conversion's: it keeps that one's cause, context and
    // traceback.
    if (PyObject *cause = PyException_GetCause(exc)) PyException_SetCause(fresh, cause);
    if (PyObject *context = PyException_GetContext(exc)) PyException_SetContext(fresh, context);
    if (PyObject *tb = PyException_GetTraceback(exc)) {
        PyException_SetTraceback(fresh, tb);
        Py_DECREF(tb);
    }
    Py_DECREF(exc);
    give_exception(fresh);
    return nullptr;
}

PYO3CPP_API PyObject *pyo3cpp_function_new(void *method_def, void *vectorcall,
                                           const pyo3cpp_signature *sig, PyObject *module)
{
    if (!thread_is_attached()) return nullptr;
    auto *def = static_cast<PyMethodDef *>(method_def);
    const bool own_entry = def != nullptr && def->ml_flags == (METH_FASTCALL | METH_KEYWORDS);
    if (def == nullptr || vectorcall == nullptr || sig == nullptr || sig->prepared == nullptr ||
        module == nullptr || !PyModule_Check(module) ||
        (!own_entry && def->ml_flags != (METH_FASTCALL | METH_KEYWORDS | METH_METHOD))) {
        PyErr_SetString(PyExc_SystemError,
                        "pyo3cpp_function_new: needs a METH_FASTCALL | METH_KEYWORDS [| METH_METHOD] "
                        "PyMethodDef, a vectorcall entry, a prepared signature and a module");
        return nullptr;
    }
    if (!own_entry && ensure_builtin_method_doc() < 0) return nullptr;
    PyObject *module_name = PyModule_GetNameObject(module);
    if (module_name == nullptr) return nullptr;
    PyObject *function = own_entry ? PyCFunction_NewEx(def, module, module_name)
                                   : PyCMethod_New(def, module, module_name, Py_TYPE(module));
    Py_DECREF(module_name);
    if (function == nullptr) return nullptr;
    // Before anyone else can see the object: its calls now skip CPython's METH_* dispatch.
    reinterpret_cast<PyCFunctionObject *>(function)->vectorcall =
        reinterpret_cast<vectorcallfunc>(vectorcall);
    try {
        PlainLock lock(g_registry_lock);
        if (g_registry == nullptr) g_registry = new std::unordered_map<const PyMethodDef *, const pyo3cpp_signature *>();
        (*g_registry)[def] = sig;
    } catch (const std::bad_alloc &) {
        Py_DECREF(function);
        PyErr_NoMemory();
        return nullptr;
    }
    return function;
}

PYO3CPP_API void *pyo3cpp_function_shared_entry(pyo3cpp_fastcall_invoke invoke,
                                                void *context) noexcept
{
    return invoke != nullptr ? FunctionEntries::bind(invoke, context) : nullptr;
}

PYO3CPP_API int pyo3cpp_method_register(const void *method_def, const pyo3cpp_signature *sig)
{
    if (!thread_is_attached()) return -1;
    if (method_def == nullptr || sig == nullptr || sig->prepared == nullptr) {
        PyErr_SetString(PyExc_ValueError,
                        "pyo3cpp_method_register: needs a PyMethodDef and a prepared signature");
        return -1;
    }
    try {
        PlainLock lock(g_registry_lock);
        if (g_registry == nullptr) g_registry = new std::unordered_map<const PyMethodDef *, const pyo3cpp_signature *>();
        (*g_registry)[static_cast<const PyMethodDef *>(method_def)] = sig;
    } catch (const std::bad_alloc &) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

PYO3CPP_API int pyo3cpp_class_member_register(const void *methods, const char *name,
                                              const pyo3cpp_signature *sig)
{
    if (!thread_is_attached()) return -1;
    if (methods == nullptr || name == nullptr || sig == nullptr || sig->prepared == nullptr) {
        PyErr_SetString(PyExc_ValueError,
                        "pyo3cpp_class_member_register: needs a tp_methods table, a name and a "
                        "prepared signature");
        return -1;
    }
    try {
        std::pair<const void *, std::string> key(methods, name);
        PlainLock lock(g_registry_lock);
        if (g_members == nullptr)
            g_members = new std::map<std::pair<const void *, std::string>, const pyo3cpp_signature *>();
        (*g_members)[std::move(key)] = sig;
    } catch (const std::bad_alloc &) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

PYO3CPP_API PyObject *pyo3cpp_class_member_signature(PyObject *type, const char *name)
{
    if (!thread_is_attached()) return nullptr;
    if (type == nullptr || name == nullptr) {
        PyErr_SetString(PyExc_ValueError, "pyo3cpp_class_member_signature: type or name is NULL");
        return nullptr;
    }
    if (!PyType_Check(type)) Py_RETURN_NONE;
    const void *methods = reinterpret_cast<PyTypeObject *>(type)->tp_methods;
    if (methods == nullptr) Py_RETURN_NONE;
    const pyo3cpp_signature *sig = nullptr;
    try {
        std::pair<const void *, std::string> key(methods, name);
        PlainLock lock(g_registry_lock);
        if (g_members != nullptr) {
            auto found = g_members->find(key);
            if (found != g_members->end()) sig = found->second;
        }
    } catch (const std::bad_alloc &) {
        return PyErr_NoMemory();
    }
    if (sig == nullptr) Py_RETURN_NONE;
    return PyUnicode_FromString(prepared(sig).typed.c_str());
}

PYO3CPP_API void *pyo3cpp_method_shared_entry(pyo3cpp_method_invoke invoke, void *context) noexcept
{
    return invoke != nullptr ? MethodEntries::bind(invoke, context) : nullptr;
}

PYO3CPP_API PyObject *pyo3cpp_function_signature(PyObject *callable)
{
    if (!thread_is_attached()) return nullptr;
    if (callable == nullptr) {
        PyErr_SetString(PyExc_ValueError, "pyo3cpp_function_signature: callable is NULL");
        return nullptr;
    }
    const PyMethodDef *def = nullptr;
    if (PyCFunction_Check(callable))
        def = reinterpret_cast<PyCFunctionObject *>(callable)->m_ml;
    else if (Py_IS_TYPE(callable, &PyMethodDescr_Type))
        def = reinterpret_cast<PyMethodDescrObject *>(callable)->d_method;
    const pyo3cpp_signature *sig = nullptr;
    if (def != nullptr) {
        PlainLock lock(g_registry_lock);
        if (g_registry != nullptr) {
            auto found = g_registry->find(def);
            if (found != g_registry->end()) sig = found->second;
        }
    }
    if (sig == nullptr) Py_RETURN_NONE;
    return PyUnicode_FromString(prepared(sig).typed.c_str());
}

}  // extern "C"

// ------------------------------------------------------------------------- overload sets (1.6)
//
// A name defined several times: the definitions are tried in order, first taking each value
// only as its own type, then with conversions (pyo3cpp_overload_attempt, abi/pyo3cpp.h). The
// set's "signature" carries no parameters: its Prepared holds the texts only (one typed line
// per definition, and the docstring), so the registries above answer for it unchanged.

namespace {

// "(x: int) -> int" -> "x(x: int) -> int" as shown in the docstring and the error; constructors
// drop " -> None".
std::string overload_line(const char *name, const pyo3cpp_signature *sig, int flags)
{
    std::string typed = sig != nullptr && sig->prepared != nullptr ? prepared(sig).typed : "(...)";
    const std::string none = " -> None";
    if ((flags & PYO3CPP_OVERLOAD_CONSTRUCTOR) != 0 && typed.size() >= none.size() &&
        typed.compare(typed.size() - none.size(), none.size(), none) == 0)
        typed.resize(typed.size() - none.size());
    return std::string(name) + typed;
}

// "(str, int, y=float)": what the caller passed, by type.
std::string describe_arguments(PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    std::string text = "(";
    const Py_ssize_t nkw = kwnames != nullptr ? PyTuple_GET_SIZE(kwnames) : 0;
    for (Py_ssize_t i = 0; i < nargs + nkw; ++i) {
        if (i > 0) text += ", ";
        if (i >= nargs) {
            PyObject *key = PyTuple_GET_ITEM(kwnames, i - nargs);
            const char *utf8 = PyUnicode_Check(key) ? PyUnicode_AsUTF8(key) : nullptr;
            if (utf8 == nullptr) PyErr_Clear();
            text += utf8 != nullptr ? utf8 : "?";
            text += "=";
        }
        text += Py_TYPE(args[i])->tp_name;
    }
    return text + ")";
}

}  // namespace

extern "C" {

PYO3CPP_API const char *pyo3cpp_overload_prepare(pyo3cpp_signature *set,
                                                 const pyo3cpp_overload *overloads,
                                                 ptrdiff_t count, int flags)
{
    if (!thread_is_attached()) return nullptr;
    if (set == nullptr || set->name == nullptr || overloads == nullptr || count < 1) {
        PyErr_SetString(PyExc_ValueError,
                        "pyo3cpp_overload_prepare: needs a named set and at least one overload");
        return nullptr;
    }
    if (set->prepared != nullptr) return prepared(set).doc.c_str();
    for (ptrdiff_t i = 0; i < count; ++i)
        if (overloads[i].attempt == nullptr || overloads[i].sig == nullptr ||
            overloads[i].sig->prepared == nullptr) {
            PyErr_Format(PyExc_ValueError,
                         "pyo3cpp_overload_prepare: overload %zd of %s() has no attempt or no "
                         "prepared signature", i + 1, set->name);
            return nullptr;
        }
    try {
        auto prep = std::make_unique<Prepared>();
        prep->generation = lifecycle_now();
        std::string lines, docs;
        for (ptrdiff_t i = 0; i < count; ++i) {
            if (i > 0) {
                prep->typed += "\n";
                lines += "\n";
            }
            prep->typed += prepared(overloads[i].sig).typed;
            lines += overload_line(set->name, overloads[i].sig, flags);
            if (overloads[i].doc != nullptr && overloads[i].doc[0] != '\0') {
                docs += "\n\n";
                docs += overloads[i].doc;
            }
        }
        prep->doc = lines + docs;
        prep->overload_flags = flags;
        set->prepared = prep.release();
        return prepared(set).doc.c_str();
    } catch (const std::bad_alloc &) {
        PyErr_NoMemory();
        return nullptr;
    }
}

PYO3CPP_API PyObject *pyo3cpp_overload_call(const pyo3cpp_signature *set,
                                            const pyo3cpp_overload *overloads, ptrdiff_t count,
                                            PyObject *self, PyObject *const *args, ptrdiff_t nargs,
                                            PyObject *kwnames)
{
    if (!thread_is_attached()) return nullptr;
    if (set == nullptr || set->prepared == nullptr || overloads == nullptr || count < 1 || nargs < 0 ||
        (nargs > 0 && args == nullptr) || (kwnames != nullptr && !PyTuple_Check(kwnames))) {
        PyErr_SetString(PyExc_ValueError,
                        "pyo3cpp_overload_call: needs a prepared set, overloads, args for nargs >= 0 "
                        "and kwnames a tuple or NULL");
        return nullptr;
    }
    for (int convert = 0; convert <= 1; ++convert) {
        for (ptrdiff_t i = 0; i < count; ++i) {
            PyObject *result = nullptr;
            if (overloads[i].attempt(overloads[i].context, self, args, nargs, kwnames, convert,
                                     &result) != 0)
                return result;
        }
    }
    try {
        std::string text = std::string(set->name) + "(): no overload accepts " +
                           describe_arguments(args, nargs, kwnames) + "; the overloads are:";
        for (ptrdiff_t i = 0; i < count; ++i)
            text += "\n    " + overload_line(set->name, overloads[i].sig,
                                              prepared(set).overload_flags);
        PyErr_SetString(PyExc_TypeError, text.c_str());
    } catch (const std::bad_alloc &) {
        PyErr_NoMemory();
    }
    return nullptr;
}

}  // extern "C"
