// keep_alive.cpp — objects a bound function keeps alive for another object (arg("x").keep_alive(),
// include/pyo3cpp/keep_alive.hpp): the compiled half behind pyo3cpp_keep_alive and friends.
//
// Two ways to tie a patient's life to a nurse's:
//   - the nurse is an instance of a bound class: a process-wide table nurse -> patients, under a
//     mutex; the instance's own flag byte tells its tp_dealloc to release them
//     (pyo3cpp_keep_alive_release) and its tp_traverse to visit them (so a cycle through a kept
//     object is collected when the class is a GC type). No weak-reference support is needed.
//   - any other nurse: a weak reference to it whose callback holds the patient; the callback
//     runs when the nurse dies and drops the patient and the weak reference. A nurse that does not
//     support weak references raises TypeError.
// The table's mutex is never held while Python code runs (patients are released after it) nor
// while the thread detaches, so tp_traverse may take it during a stop-the-world collection.
#include <Python.h>  // first, as CPython requires: its pyconfig.h sets feature macros

#include <mutex>
#include <new>
#include <unordered_map>
#include <utility>
#include <vector>

#include "runtime_state.h"

using namespace pyo3cpp::detail;

namespace {

struct KeptTable {
    std::mutex mutex;
    std::unordered_map<PyObject *, std::vector<PyObject *>> kept;
};
KeptTable &kept_table()
{
    static KeptTable *table = new KeptTable();  // never destroyed: deallocations may run at exit
    return *table;
}

// The weak reference's callback: m_self is the patient. Drops the weak reference our call kept.
PyObject *nurse_died(PyObject *, PyObject *weakref)
{
    Py_DECREF(weakref);  // the reference pyo3cpp_keep_alive kept (CPython holds its own for the call)
    Py_RETURN_NONE;
}
PyMethodDef nurse_died_def = {"_pyo3cpp_keep_alive", &nurse_died, METH_O, nullptr};

}  // namespace

extern "C" {

PYO3CPP_API int pyo3cpp_keep_alive(PyObject *nurse, PyObject *patient, int nurse_is_instance)
{
    if (runtime_finalized() || !thread_is_attached()) return -1;  // no exception: not attached
    if (nurse == nullptr || patient == nullptr) {
        PyErr_SetString(PyExc_ValueError, "pyo3cpp_keep_alive: NULL argument");
        return -1;
    }
    if (nurse == patient || patient == Py_None) return 0;  // nothing to tie
    if (nurse_is_instance) {
        KeptTable &table = kept_table();
        Py_INCREF(patient);
        try {
            std::lock_guard<std::mutex> hold(table.mutex);
            table.kept[nurse].push_back(patient);
        } catch (const std::bad_alloc &) {
            Py_DECREF(patient);
            PyErr_NoMemory();
            return -1;
        }
        return 0;
    }
    PyObject *callback = PyCFunction_New(&nurse_died_def, patient);  // holds the patient
    if (callback == nullptr) return -1;
    PyObject *weakref = PyWeakref_NewRef(nurse, callback);
    Py_DECREF(callback);
    if (weakref == nullptr) {
        if (PyErr_ExceptionMatches(PyExc_TypeError)) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError,
                         "cannot keep an argument alive for a '%.200s' object: it supports no weak "
                         "references and is not an instance of a bound class",
                         Py_TYPE(nurse)->tp_name);
        }
        return -1;
    }
    return 0;  // the weak reference is dropped by its callback, when the nurse dies
}

PYO3CPP_API void pyo3cpp_keep_alive_release(PyObject *nurse)
{
    if (nurse == nullptr || runtime_finalized() || !thread_is_attached()) return;
    std::vector<PyObject *> gone;
    {
        KeptTable &table = kept_table();
        std::lock_guard<std::mutex> hold(table.mutex);
        auto found = table.kept.find(nurse);
        if (found == table.kept.end()) return;
        gone = std::move(found->second);
        table.kept.erase(found);
    }
    for (PyObject *patient : gone) Py_DECREF(patient);  // after the mutex: may run Python code
}

PYO3CPP_API int pyo3cpp_keep_alive_traverse(PyObject *nurse, visitproc visit, void *arg) PYO3CPP_NOEXCEPT
{
    if (nurse == nullptr || visit == nullptr) return 0;
    KeptTable &table = kept_table();
    std::lock_guard<std::mutex> hold(table.mutex);
    auto found = table.kept.find(nurse);
    if (found == table.kept.end()) return 0;
    for (PyObject *patient : found->second)
        if (int result = visit(patient, arg)) return result;
    return 0;
}

}  // extern "C"
