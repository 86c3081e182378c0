// finalize_races.cpp — interpreter finalisation racing with other threads, many rounds:
//   1. cells cancelled and "freed" on another thread while the finalisation hook runs the
//      forget callbacks: once pyo3cpp_object_cell_clear (which cancels the callback) returns,
//      nothing may write the cell again (before: the hook ran callbacks after releasing its
//      list lock, so a callback could write a cell already freed);
//   2. references released by threads that are not attached while the interpreter finalises,
//      then a re-initialisation: nothing queued under the old interpreter may be decref'd under
//      the new one (before: a release that passed the "finalised?" check just before the hook
//      and landed after it was applied by the new interpreter's first drain).
// The references of part 2 point at static objects of a static type with a huge refcount, so a
// wrong decref is observable (and harmless) instead of a crash. Under ASan part 1 also frees.
#include <pyo3cpp/pyo3cpp.hpp>

#include <cstring>
#include <vector>

#include "tap.hpp"

using lifecycle_test::ok;

namespace {

// ------------------------------------------------------------------ part 1: cells
constexpr int kCells = 20000;
std::atomic<bool> g_go{false};
// Runs from Py_FinalizeEx just before the library's own hook (Py_AtExit callbacks run last
// registered first): the destroyer starts while the forget callbacks are about to run.
void start_destroyer() { g_go = true; }
PyObject *const kPoison = reinterpret_cast<PyObject *>(std::uintptr_t{0xdead0});

bool cells_round()
{
    Py_InitializeEx(0);
    std::vector<pyo3cpp_object_cell *> cells;
    for (int i = 0; i < kCells; ++i) {
        auto *cell = new pyo3cpp_object_cell(PYO3CPP_OBJECT_CELL_INIT);
        if (pyo3cpp_object_cell_set(cell, PyLong_FromLong(i)) != 1) return false;
        cells.push_back(cell);  // each is now on the finalisation list
    }
    g_go = false;
    if (Py_AtExit(start_destroyer) != 0) return false;
    std::thread destroyer([&] {
        while (!g_go.load()) std::this_thread::yield();
        for (int i = kCells - 1; i >= 0; --i) {
            pyo3cpp_object_cell_clear(cells[i]);  // cancels its forget callback
            // "Free" it: from here the library must never touch it again.
            __atomic_store_n(&cells[i]->value, kPoison, __ATOMIC_SEQ_CST);
        }
    });
    Py_FinalizeEx();
    destroyer.join();
    bool intact = true;
    for (auto *cell : cells) {
        intact = intact && __atomic_load_n(&cell->value, __ATOMIC_SEQ_CST) == kPoison;
        delete cell;
    }
    return intact;
}

// ------------------------------------------------------------------ part 2: the pool
constexpr int kObjects = 64;
constexpr Py_ssize_t kStartRefs = Py_ssize_t{1} << 24;
PyObject g_objects[kObjects];

void init_objects()
{
    for (auto &object : g_objects) {
        std::memset(static_cast<void *>(&object), 0, sizeof object);
        Py_SET_TYPE(&object, &PyBaseObject_Type);
        Py_SET_REFCNT(&object, kStartRefs);
    }
}

Py_ssize_t total_refs()
{
    Py_ssize_t total = 0;
    for (auto &object : g_objects) total += Py_REFCNT(&object);
    return total;
}

// Py_AtExit callbacks run last registered first, so this runs just before the library's hook:
// it lets the releasers loose and gives them a moment to be in full flight when the hook runs.
std::atomic<bool> g_release{false};
void start_releasers()
{
    g_release = true;
    g_release.notify_all();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

// Returns true when the re-initialised interpreter's first drain applied nothing queued under
// the finalised one.
bool pool_round(int releasers)
{
    Py_InitializeEx(0);
    { auto guard = pyo3cpp::attach(); }  // arm the runtime for this interpreter
    g_release = false;
    if (Py_AtExit(start_releasers) != 0) return false;
    std::atomic<bool> stop{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < releasers; ++t)
        threads.emplace_back([&, t] {
            g_release.wait(false);
            unsigned i = static_cast<unsigned>(t);
            while (!stop.load(std::memory_order_relaxed))
                pyo3cpp_release_ref(&g_objects[i++ % kObjects]);  // not attached: queued/leaked
        });
    Py_FinalizeEx();
    stop = true;
    for (auto &thread : threads) thread.join();
    Py_InitializeEx(0);
    const Py_ssize_t before = total_refs();
    (void)pyo3cpp_pool_drain();  // the new interpreter's first drain (also arms the runtime)
    { auto guard = pyo3cpp::attach(); }
    const Py_ssize_t after = total_refs();
    Py_FinalizeEx();
    return before == after;
}

}  // namespace

int main()
{
    lifecycle_test::start_watchdog(240);
    int cell_failures = 0;
    for (int round = 0; round < 20; ++round) cell_failures += cells_round() ? 0 : 1;
    ok(cell_failures == 0, "no forget callback writes a cell after its cancel returned (20 rounds)");
    if (cell_failures) std::printf("# %d rounds wrote a cancelled cell\n", cell_failures);

    init_objects();
    int pool_failures = 0;
    for (int round = 0; round < 20; ++round) pool_failures += pool_round(6) ? 0 : 1;
    ok(pool_failures == 0,
       "references queued under a finalised interpreter are never decref'd by the next one");
    if (pool_failures) std::printf("# %d of 20 rounds applied stale decrefs\n", pool_failures);
    return lifecycle_test::finish();
}
