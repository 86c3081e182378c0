// refcount_watch.hpp — leak accounting for the test suites: RefcountWatch records the refcounts
// of the objects an operation sequence touches and fails the test if any differs at scope end.
//
// Use (attached thread; declare it after the attach guard so it is destroyed first):
//     auto g = pyo3cpp::attach(); auto py = g.py();
//     PyObject *key = ..., *value = ...;
//     {
//         pyo3cpp_test::RefcountWatch watch{key, value, dict.as_ptr()};
//         ... any sequence of operations that should leave ownership as it found it ...
//     }   // EXPECT failure naming each object whose refcount changed, and by how much
//
// The watch holds one strong reference to each object (so reading the count at the end is safe
// even if the sequence wrongly released it); its own reference is counted in both snapshots.
// `changes()` reports without failing, for tests that expect a difference. Immortal objects
// (3.12+) always compare equal, so watch objects the test creates. Objects shared with other
// running threads give meaningless counts: watch in single-threaded sections, or after joining.
#pragma once

#include <Python.h>

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <vector>

namespace pyo3cpp_test {

class RefcountWatch {
public:
    RefcountWatch(std::initializer_list<PyObject *> objects, const char *file = __builtin_FILE(),
                  int line = __builtin_LINE())
        : file_(file), line_(line)
    {
        for (PyObject *o : objects) add(o);
    }
    RefcountWatch(const RefcountWatch &) = delete;
    RefcountWatch &operator=(const RefcountWatch &) = delete;

    // Watches one more object from now on.
    void add(PyObject *o)
    {
        Py_INCREF(o);
        watched_.push_back({o, Py_REFCNT(o)});
    }

    // "" when every watched refcount equals its snapshot; otherwise one line per difference.
    std::string changes() const
    {
        std::string out;
        for (const auto &w : watched_) {
            const Py_ssize_t now = Py_REFCNT(w.object);
            if (now != w.before) {
                out += "  object #" + std::to_string(&w - watched_.data()) + " (" +
                       Py_TYPE(w.object)->tp_name + "): refcount " + std::to_string(w.before) +
                       " -> " + std::to_string(now) + " (" +
                       (now > w.before ? "leaked " : "over-released ") +
                       std::to_string(now > w.before ? now - w.before : w.before - now) + ")\n";
            }
        }
        return out;
    }

    // Checks now and takes new snapshots (for a watch reused across phases of one test).
    void expect_unchanged_and_rebase(const char *phase)
    {
        const std::string diff = changes();
        EXPECT_TRUE(diff.empty()) << "refcounts changed (" << phase << ", watch at " << file_
                                  << ":" << line_ << "):\n"
                                  << diff;
        for (auto &w : watched_) w.before = Py_REFCNT(w.object);
    }

    ~RefcountWatch()
    {
        const std::string diff = changes();
        EXPECT_TRUE(diff.empty()) << "refcounts changed in the scope of the RefcountWatch at "
                                  << file_ << ":" << line_ << ":\n"
                                  << diff;
        for (const auto &w : watched_) Py_DECREF(w.object);
    }

private:
    struct Watched {
        PyObject *object;
        Py_ssize_t before;
    };
    std::vector<Watched> watched_;
    const char *file_;
    int line_;
};

}  // namespace pyo3cpp_test
