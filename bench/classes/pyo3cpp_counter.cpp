// pyo3cpp_counter.cpp — the bench's class bound by pyo3cpp, once per policy (bench_classes.cpp's
// `_frozen`, `_unsync`, `_locked` rows) and once locked and held by std::shared_ptr (`_shared`
// rows: T on the heap, docs/ownership.md), in an extension module of its own,
// bench_classes_pyo3cpp: its header-only code is compiled as a real extension's is (-fPIC, its
// thread-locals reached through __tls_get_addr), not into the benchmark executable.
// Methods are bound as def<&T::m>("m"), the form whose call inlines.
#include <pyo3cpp/pyo3cpp.hpp>

namespace {

template <class Policy> struct Counter {
    long count;
    explicit Counter(long start) : count(start) {}
    long get() const { return count; }
    long add(long n)
    {
        count += n;
        return count;
    }
    long plus(long n) const { return count + n; }
};

struct Held {};  // the tag of the shared_ptr-held counter

}  // namespace

PYO3CPP_CLASS(Counter<pyo3cpp::frozen>, pyo3cpp::frozen);
PYO3CPP_CLASS(Counter<pyo3cpp::unsynchronized>, pyo3cpp::unsynchronized);
PYO3CPP_CLASS(Counter<pyo3cpp::locked>, pyo3cpp::locked);
PYO3CPP_CLASS(Counter<Held>, pyo3cpp::locked, std::shared_ptr<Counter<Held>>);

PYO3CPP_MODULE(bench_classes_pyo3cpp, m)
{
    using Frozen = Counter<pyo3cpp::frozen>;
    using Unsync = Counter<pyo3cpp::unsynchronized>;
    using Locked = Counter<pyo3cpp::locked>;
    using Shared = Counter<Held>;
    m.add_class<Frozen>("FrozenCounter")
        .def_init<long>()
        .def<&Frozen::get>("get")
        .def<&Frozen::plus>("plus")
        .def_readonly("count", &Frozen::count);
    m.add_class<Unsync>("UnsyncCounter")
        .def_init<long>()
        .def<&Unsync::get>("get")
        .def<&Unsync::add>("add")
        .def_readonly("count", &Unsync::count);
    m.add_class<Locked>("LockedCounter")
        .def_init<long>()
        .def<&Locked::get>("get")
        .def<&Locked::add>("add")
        .def_readonly("count", &Locked::count);
    m.add_class<Shared>("SharedCounter")
        .def_init<long>()
        .def<&Shared::get>("get")
        .def<&Shared::add>("add")
        .def_readonly("count", &Shared::count);
}
