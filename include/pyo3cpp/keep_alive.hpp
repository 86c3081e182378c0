// keep_alive.hpp — arg("x").keep_alive(): an argument that a call's nurse keeps alive, for C++
// code that keeps a pointer or reference to it (a solver constructed from `const Chain&`).
//
//   m.add_class<Solver>("Solver").def_init<const Chain &>(arg("chain").keep_alive());
//   m.def("make_solver", [](const Chain &c) { return Solver(c); }, arg("chain").keep_alive());
//   .def("attach", &Robot::attach, arg("tool").keep_alive())   // kept as long as the robot
//
// Contract:
//   - The nurse is the call's self for methods and constructors (a reference object's owner when
//     self is a reference into one, class_member_ref.hpp), and its result for functions, static
//     methods and classmethods. The argument (the patient) lives at least as long as the nurse.
//     Nothing is kept when the call fails, the argument was omitted, or is the nurse itself.
//   - A nurse that is an instance of a bound class (self, or a result whose C++ type is a bound
//     class, Bound<T> or Py<T> of one) keeps its patients in the runtime's table, released when
//     it is deallocated, after ~T (tp_clear keeps them: T may use them). Its tp_traverse visits
//     them when the class is a GC type (traverse/gc/dict), so a cycle through a patient that
//     refers back to its nurse is collected; for a non-GC class such a cycle is not.
//   - Any other nurse gets a weak reference whose callback releases the patient; one that
//     supports no weak references (None, an int) raises TypeError after the call ran (its result
//     is dropped), as a call that cannot keep its promise.
// Thread: any attached thread; the table has its own mutex (never held while Python code runs).
// Cost: nothing for calls without keep_alive(); otherwise one runtime call per kept argument.
#pragma once

#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include <atomic>

#include "pyo3cpp/class_member_ref.hpp"
#include "pyo3cpp/class_object.hpp"

namespace pyo3cpp::detail {

template <bool NurseIsInstance> void keep_alive(Python py, PyObject *nurse, PyObject *patient)
{
    if constexpr (NurseIsInstance) {
        if (PyObject *owner = reference_owner(nurse)) nurse = owner;  // the memory's real holder
        if (pyo3cpp_keep_alive(nurse, patient, 1) < 0) throw_fetched(py);
        Instance<char>::of(nurse)->keeps.store(1, std::memory_order_relaxed);
    } else {
        if (pyo3cpp_keep_alive(nurse, patient, 0) < 0) throw_fetched(py);
    }
}

// For a bound class's slots: what its instance keeps (tp_dealloc, tp_clear, tp_traverse).
inline bool keeps_objects(PyObject *self) noexcept
{
    return Instance<char>::of(self)->keeps.load(std::memory_order_relaxed) != 0;
}
inline void release_kept(PyObject *self)
{
    Instance<char>::of(self)->keeps.store(0, std::memory_order_relaxed);
    pyo3cpp_keep_alive_release(self);
}

}  // namespace pyo3cpp::detail
