// test_views_threads.cpp — containers mutated by other threads while one iterates (dict and
// list: no crash, every yielded item a valid strong reference), locked_for_each excluding
// writers, compat::dict_set_default_ref racing on one key, and resident memory staying flat over
// a 1,000,000-item dict iteration.
#include <pyo3cpp/pyo3cpp.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "embedded_python.hpp"

using namespace pyo3cpp;
using pyo3cpp_test::refcnt;

namespace {

constexpr int kWriters = 3;
constexpr int kRounds = 50;

// Writers churn the container (insert, delete, replace with fresh objects so freed items would
// be reused) while the main thread iterates and checks every item it gets.
template <class Mutate, class Iterate>
void race(Python py, Mutate mutate, Iterate iterate)
{
    std::atomic<bool> stop{false};
    pyo3cpp_test::Barrier start(kWriters + 1);
    std::vector<std::thread> writers;
    detach(py, [&] {
        for (int w = 0; w < kWriters; ++w)
            writers.emplace_back([&, w] {
                auto guard = attach();
                auto wpy = guard.py();
                detach(wpy, [&] { start.arrive_and_wait(); });
                for (long i = 0; !stop.load(std::memory_order_relaxed); ++i) {
                    mutate(wpy, w, i);
                    // C++ code never gives up the GIL by itself: on GIL builds, let the
                    // iterating thread (and the other writers) in between mutations.
                    if (i % 16 == 0) detach(wpy, [] {});
                }
            });
        start.arrive_and_wait();
    });
    for (int round = 0; round < kRounds; ++round) iterate();
    stop = true;
    detach(py, [&] {
        for (auto &t : writers) t.join();
    });
}

TEST(ViewsUnderMutation, DictIterationWhileOtherThreadsMutate)
{
    pyo3cpp_test::with_watchdog(120, "dict iteration race", [] {
        auto guard = attach();
        auto py = guard.py();
        auto d = new_dict(py);
        for (int i = 0; i < 2000; ++i) d.set_item(i, make_list(py, i));
        long items = 0;
        race(
            py,
            [&](Python, int w, long i) {
                const long key = (i * 7 + w) % 4000;
                if (i % 3 == 0) {
                    try {
                        d.del_item(key);
                    } catch (const PyErr &) {  // KeyError: already gone
                    }
                } else {
                    d.set_item(key, make_list(py, key));
                }
            },
            [&] {
                for (const auto &[key, value] : d) {
                    // A valid strong reference: the object is alive, typed as written, and
                    // holds the key it was stored under.
                    ASSERT_GE(refcnt(value.as_ptr()), 1);
                    ASSERT_TRUE(value.is_instance_of<PyList>());
                    ASSERT_EQ(value.cast<PyList>().get_item(0).extract<long>(), key.extract<long>());
                    // Between steps no lock is held: let writers run here (GIL builds).
                    if (++items % 64 == 0) detach(py, [] {});
                }
            });
        EXPECT_GT(items, 0);
    });
}

TEST(ViewsUnderMutation, ListIterationWhileOtherThreadsMutate)
{
    pyo3cpp_test::with_watchdog(120, "list iteration race", [] {
        auto guard = attach();
        auto py = guard.py();
        auto l = new_list(py);
        for (int i = 0; i < 2000; ++i) l.append(make_list(py, i));
        long items = 0;
        race(
            py,
            [&](Python wpy, int, long i) {
                if (i % 2 == 0) {
                    l.append(make_list(wpy, i));
                } else {
                    auto pop = l.getattr("pop");
                    try {
                        pop.call();
                    } catch (const PyErr &) {  // IndexError: empty
                    }
                    if (l.len() > 1) {
                        try {
                            l.set_item(0, make_list(wpy, -i));
                        } catch (const PyErr &) {
                        }
                    }
                }
            },
            [&] {
                for (const Bound<PyAny> &item : l) {
                    ASSERT_GE(refcnt(item.as_ptr()), 1);
                    ASSERT_TRUE(item.is_instance_of<PyList>());
                    ASSERT_EQ(item.cast<PyList>().len(), 1u);
                    if (++items % 64 == 0) detach(py, [] {});
                }
            });
        EXPECT_GT(items, 0);
    });
}

TEST(ViewsUnderMutation, LockedForEachSeesNoConcurrentChange)
{
    pyo3cpp_test::with_watchdog(120, "locked_for_each race", [] {
        auto guard = attach();
        auto py = guard.py();
        auto l = new_list(py);
        for (int i = 0; i < 500; ++i) l.append(-1);  // one generation from the start
        race(
            py,
            [&](Python, int, long i) {
                // Each writer rewrites every slot to one new "generation" inside one critical
                // section. PyList_SET_ITEM takes no lock of its own, so the section is never
                // suspended (3.13's nested same-object sections would suspend it): a reader
                // holding the section sees one generation only.
                critical_section(py, l, [&] {
                    for (Py_ssize_t slot = 0; slot < PyList_GET_SIZE(l.as_ptr()); ++slot) {
                        PyObject *old = PyList_GET_ITEM(l.as_ptr(), slot);
                        PyList_SET_ITEM(l.as_ptr(), slot, PyLong_FromLong(i));
                        Py_DECREF(old);
                    }
                });
            },
            [&] {
                long count = 0;
                long generation = -1;
                locked_for_each(py, l, [&](const Bound<PyAny> &item) {
                    ASSERT_GE(refcnt(item.as_ptr()), 1);
                    const long value = item.extract<long>();
                    if (count++ == 0) generation = value;
                    ASSERT_EQ(value, generation) << "a writer changed the list inside a locked loop";
                });
                ASSERT_EQ(count, 500) << "the list changed inside a locked loop";
            });
    });
}

// compat::dict_set_default_ref from several threads on one key, each with its own default: one
// inserts, every thread gets back the value the dict holds. A lookup followed by a separate
// PyDict_SetItem breaks this on GIL builds as soon as the key's __hash__ lets another thread in
// (here: time.sleep(0)); on free-threaded builds it breaks with any key.
TEST(ViewsUnderMutation, CompatDictSetDefaultRefHasOneWinner)
{
    pyo3cpp_test::with_watchdog(120, "dict_set_default_ref race", [] {
        auto guard = attach();
        auto py = guard.py();
        ASSERT_TRUE(pyo3cpp_test::run_python(R"(
import time
class _YieldingKey:
    def __init__(self, name): self.name = name
    def __hash__(self):
        time.sleep(0)
        return hash(self.name)
    def __eq__(self, other):
        return isinstance(other, _YieldingKey) and self.name == other.name
)"));
        auto main_module = Bound<PyAny>::from_owned_ptr(py, compat::import_add_module_ref("__main__"));
        auto key_type = main_module.getattr("_YieldingKey");
        constexpr int kThreads = 4;
        for (int round = 0; round < 100; ++round) {
            auto d = new_dict(py);
            std::vector<Bound<PyAny>> keys, defaults;
            for (int t = 0; t < kThreads; ++t) {
                keys.push_back(key_type.call("k"));
                defaults.push_back(new_list(py).into_any());
            }
            PyObject *got[kThreads] = {};
            int rc[kThreads] = {};
            pyo3cpp_test::Barrier start(kThreads);
            detach(py, [&] {
                std::vector<std::thread> threads;
                for (int t = 0; t < kThreads; ++t)
                    threads.emplace_back([&, t] {
                        start.arrive_and_wait();
                        auto inner = attach();
                        rc[t] = compat::dict_set_default_ref(d.as_ptr(), keys[t].as_ptr(),
                                                             defaults[t].as_ptr(), &got[t]);
                    });
                for (auto &thread : threads) thread.join();
            });
            int inserted = 0;
            for (int t = 0; t < kThreads; ++t) {
                ASSERT_GE(rc[t], 0) << "round " << round;
                inserted += rc[t] == 0;
                EXPECT_EQ(got[t], got[0]) << "round " << round << ", thread " << t;
            }
            EXPECT_EQ(inserted, 1) << "round " << round;
            EXPECT_EQ(PyDict_GetItem(d.as_ptr(), keys[0].as_ptr()), got[0]) << "round " << round;
            EXPECT_EQ(PyDict_GET_SIZE(d.as_ptr()), 1) << "round " << round;
            for (PyObject *value : got) Py_XDECREF(value);
            if (::testing::Test::HasFailure()) break;
        }
    });
}

TEST(ViewsMemory, MillionItemDictIterationKeepsResidentMemoryFlat)
{
    if (!pyo3cpp_test::kMemoryIsMeasurable) GTEST_SKIP() << "resident size is not meaningful under a sanitizer";
    auto guard = attach();
    auto py = guard.py();
    auto d = new_dict(py);
    for (long i = 0; i < 1000000; ++i) d.set_item(i, i);
    long sum = 0;
    // Warm up once so allocator pools reached their steady state, then measure.
    for (const auto &[key, value] : d) sum += 0 * key.extract<long>();
    const long before = pyo3cpp_test::resident_bytes();
    for (const auto &[key, value] : d) {
        Bound<PyAny> k = key;    // Bound owners: copy, move, drop on every step
        Bound<PyAny> v = std::move(k);
        sum += v.extract<long>() - key.extract<long>();
        sum += value.extract<long>();
    }
    const long growth = pyo3cpp_test::resident_bytes() - before;
    EXPECT_EQ(sum, 999999L * 1000000L / 2);
    EXPECT_LT(growth, 1 << 20) << "resident memory grew by " << growth << " bytes";
}

}  // namespace
