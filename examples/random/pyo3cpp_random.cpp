// pyo3cpp_random — a drop-in port of CPython's _random.Random (the Mersenne Twister under
// random.Random), written with pyo3cpp's public class API only.
//
//   >>> import pyo3cpp_random
//   >>> r = pyo3cpp_random.Random(42); r.random(), r.getrandbits(100)
//
// Same as CPython's C type, bit for bit: random(), getrandbits(k) for any k >= 0, seed(n) with
// None (system entropy, else time and pid), an int of any size or sign (its absolute value, in
// 32-bit words from the least significant), or any other hashable (its hash as an unsigned
// word); getstate()/setstate() in CPython's format (624 words and the index) with CPython's
// errors; __new__ leaves a zeroed generator (as PyType_GenericNew does), __init__ seeds it,
// refuses keywords unless a subclass overrides __init__, and takes at most one argument.
// Subclassable, so random.Random works on top of it.
//
// What is different: the class is `locked` (the default policy), so every call owns the
// generator for its duration; 8 threads drawing from one generator on free-threaded Python get
// disjoint pieces of one sequence. CPython 3.13's own type takes a critical section per call;
// on GIL builds it relies on the GIL, which pyo3cpp's lock costs one compare-and-swap over.
// Seeding computes the key (which may call back into Python: hash(), int.__abs__) before
// taking the lock, so no user Python code ever runs while the generator is held.
#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <algorithm>
#include <cstdio>
#include <optional>
#include <vector>

#include <pyo3cpp/pyo3cpp.hpp>

using namespace pyo3cpp;

namespace {

// MT19937 (Matsumoto and Nishimura), with CPython's seeding and state format.
class MersenneTwister {
public:
    static constexpr int N = 624;
    static constexpr int M = 397;

    std::uint32_t next32() noexcept
    {
        if (index_ >= N) twist();
        std::uint32_t y = state_[index_++];
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c5680U;
        y ^= (y << 15) & 0xefc60000U;
        y ^= y >> 18;
        return y;
    }

    void seed_word(std::uint32_t s) noexcept
    {
        state_[0] = s;
        for (int i = 1; i < N; ++i)
            state_[i] = 1812433253U * (state_[i - 1] ^ (state_[i - 1] >> 30)) + static_cast<std::uint32_t>(i);
        index_ = N;
    }

    void seed_key(const std::vector<std::uint32_t> &key) noexcept
    {
        seed_word(19650218U);
        std::size_t i = 1, j = 0;
        for (std::size_t k = std::max<std::size_t>(N, key.size()); k != 0; --k) {
            state_[i] = (state_[i] ^ ((state_[i - 1] ^ (state_[i - 1] >> 30)) * 1664525U)) + key[j] +
                        static_cast<std::uint32_t>(j);
            if (++i >= N) {
                state_[0] = state_[N - 1];
                i = 1;
            }
            if (++j >= key.size()) j = 0;
        }
        for (std::size_t k = N - 1; k != 0; --k) {
            state_[i] = (state_[i] ^ ((state_[i - 1] ^ (state_[i - 1] >> 30)) * 1566083941U)) -
                        static_cast<std::uint32_t>(i);
            if (++i >= N) {
                state_[0] = state_[N - 1];
                i = 1;
            }
        }
        state_[0] = 0x80000000U;  // a non-zero state whatever the key
    }

    const std::array<std::uint32_t, N> &words() const noexcept { return state_; }
    int index() const noexcept { return index_; }
    void load(const std::array<std::uint32_t, N> &words, int index) noexcept
    {
        state_ = words;
        index_ = index;
    }

private:
    void twist() noexcept
    {
        auto mix = [](std::uint32_t upper, std::uint32_t lower, std::uint32_t far) {
            const std::uint32_t y = (upper & 0x80000000U) | (lower & 0x7fffffffU);
            return far ^ (y >> 1) ^ ((y & 1U) != 0 ? 0x9908b0dfU : 0U);
        };
        int k = 0;
        for (; k < N - M; ++k) state_[k] = mix(state_[k], state_[k + 1], state_[k + M]);
        for (; k < N - 1; ++k) state_[k] = mix(state_[k], state_[k + 1], state_[k + M - N]);
        state_[N - 1] = mix(state_[N - 1], state_[0], state_[M - 1]);
        index_ = 0;
    }

    std::array<std::uint32_t, N> state_{};  // zeroed, index 0: what PyType_GenericNew leaves
    int index_ = 0;
};

struct Random {
    MersenneTwister mt;
};

}  // namespace

PYO3CPP_CLASS(Random);  // locked: each call owns the generator

namespace {

// ------------------------------------------------------------------------------ seeding

// The key for seed(None): N words of system entropy, or (if none can be had) time and pid.
std::vector<std::uint32_t> entropy_key()
{
    std::vector<std::uint32_t> key(MersenneTwister::N);
    auto *bytes = reinterpret_cast<unsigned char *>(key.data());
    std::size_t want = key.size() * sizeof(std::uint32_t), got = 0;
    while (got < want) {
        const ssize_t n = getrandom(bytes + got, want - got, GRND_NONBLOCK);
        if (n <= 0) break;
        got += static_cast<std::size_t>(n);
    }
    if (got < want) {
        if (std::FILE *f = std::fopen("/dev/urandom", "rb")) {
            got += std::fread(bytes + got, 1, want - got, f);
            std::fclose(f);
        }
    }
    if (got == want) return key;
    timespec wall{}, mono{};
    clock_gettime(CLOCK_REALTIME, &wall);
    clock_gettime(CLOCK_MONOTONIC, &mono);
    const auto wall_ns = static_cast<std::uint64_t>(wall.tv_sec) * 1000000000u + static_cast<std::uint64_t>(wall.tv_nsec);
    const auto mono_ns = static_cast<std::uint64_t>(mono.tv_sec) * 1000000000u + static_cast<std::uint64_t>(mono.tv_nsec);
    return {static_cast<std::uint32_t>(wall_ns), static_cast<std::uint32_t>(wall_ns >> 32),
            static_cast<std::uint32_t>(getpid()), static_cast<std::uint32_t>(mono_ns),
            static_cast<std::uint32_t>(mono_ns >> 32)};
}

// The key for seed(n): the absolute value of an int (int.__abs__ for a subclass, so an
// overridden __abs__ is never called), else hash(n) as an unsigned word; split into 32-bit words
// from the least significant, at least one.
std::vector<std::uint32_t> seed_key(Python py, Borrowed<PyAny> arg)
{
    Bound<PyAny> n = [&] {
        if (PyLong_Check(arg.as_ptr()))
            return Bound<PyAny>::from_owned_ptr(py, PyLong_Type.tp_as_number->nb_absolute(arg.as_ptr()));
        const Py_hash_t hash = PyObject_Hash(arg.as_ptr());
        if (hash == -1) throw_fetched(py);
        return Bound<PyAny>::from_owned_ptr(py, PyLong_FromSize_t(static_cast<std::size_t>(hash)));
    }();
    int overflow = 0;
    const long long small = PyLong_AsLongLongAndOverflow(n.as_ptr(), &overflow);
    if (small == -1 && PyErr_Occurred()) throw_fetched(py);
    if (overflow == 0) {
        const auto value = static_cast<std::uint64_t>(small);
        if (value >> 32 == 0) return {static_cast<std::uint32_t>(value)};
        return {static_cast<std::uint32_t>(value), static_cast<std::uint32_t>(value >> 32)};
    }
    // Past 63 bits: the words through int.to_bytes (little-endian, unsigned).
    const long bits = n.call_method("bit_length").extract<long>();
    const long words = (bits - 1) / 32 + 1;
    Bound<PyAny> raw = n.call_method("to_bytes", words * 4, "little");
    const char *data = PyBytes_AsString(raw.as_ptr());
    if (data == nullptr) throw_fetched(py);
    std::vector<std::uint32_t> key(static_cast<std::size_t>(words));
    for (long i = 0; i < words; ++i) {
        const auto *b = reinterpret_cast<const unsigned char *>(data) + 4 * i;
        key[static_cast<std::size_t>(i)] = static_cast<std::uint32_t>(b[0]) | static_cast<std::uint32_t>(b[1]) << 8 |
                                           static_cast<std::uint32_t>(b[2]) << 16 |
                                           static_cast<std::uint32_t>(b[3]) << 24;
    }
    return key;
}

void reseed(Bound<Random> self, Python py, std::optional<Borrowed<PyAny>> arg)
{
    // The key first: it may run Python code, which must never run while the generator is held.
    std::vector<std::uint32_t> key = arg.has_value() ? seed_key(py, *arg) : entropy_key();
    self.lock(py)->mt.seed_key(key);
}

// ------------------------------------------------------------------------------ drawing

double draw_float(Random &self)
{
    const std::uint32_t a = self.mt.next32() >> 5, b = self.mt.next32() >> 6;
    return (a * 67108864.0 + b) * (1.0 / 9007199254740992.0);
}

// getrandbits(k): the words from the least significant; the top one keeps its high bits. Runs
// with the generator held (the binder's exclusive access for the call); building the int runs
// no Python code of the user's.
Bound<PyAny> draw_bits(Random &self, Python py, long long k)
{
    // _random's own message: 3.14 converts k with Argument Clinic's unsigned 64-bit converter.
#if PY_VERSION_HEX >= 0x030E0000
    if (k < 0) throw PyErr::new_err(py, PyExc_ValueError, "Cannot convert negative int");
#else
    if (k < 0) throw PyErr::new_err(py, PyExc_ValueError, "number of bits must be non-negative");
#endif
    if (k <= 32) {
        const std::uint32_t value = k == 0 ? 0 : self.mt.next32() >> (32 - k);
        return Bound<PyAny>::from_owned_ptr(py, PyLong_FromUnsignedLong(value));
    }
    if (k <= 64) {
        const std::uint64_t low = self.mt.next32();
        const std::uint64_t high = self.mt.next32() >> (64 - k);
        return Bound<PyAny>::from_owned_ptr(py, PyLong_FromUnsignedLongLong(low | high << 32));
    }
    const unsigned long long words = (static_cast<unsigned long long>(k) - 1) / 32 + 1;
    if (words > static_cast<unsigned long long>(PY_SSIZE_T_MAX) / 4) throw PyErr::new_err(py, PyExc_MemoryError, "");
    std::vector<unsigned char> bytes(static_cast<std::size_t>(words) * 4);
    for (unsigned long long i = 0; i < words; ++i, k -= 32) {
        std::uint32_t r = self.mt.next32();
        if (k < 32) r >>= 32 - k;
        for (int b = 0; b < 4; ++b) bytes[4 * i + b] = static_cast<unsigned char>(r >> (8 * b));
    }
#if PY_VERSION_HEX >= 0x030D0000
    return Bound<PyAny>::from_owned_ptr(
        py, PyLong_FromUnsignedNativeBytes(bytes.data(), bytes.size(), Py_ASNATIVEBYTES_LITTLE_ENDIAN));
#else
    auto raw = Bound<PyAny>::from_owned_ptr(
        py, PyBytes_FromStringAndSize(reinterpret_cast<const char *>(bytes.data()), static_cast<Py_ssize_t>(bytes.size())));
    PyObject *args[] = {reinterpret_cast<PyObject *>(&PyLong_Type), raw.as_ptr(), intern<"little">(py).as_ptr()};
    return Bound<PyAny>::from_owned_ptr(
        py, PyObject_VectorcallMethod(intern<"from_bytes">(py).as_ptr(), args, 3, nullptr));
#endif
}

// ------------------------------------------------------------------------------ state

Bound<PyTuple> get_state(const Random &self, Python py)
{
    auto state = Bound<PyTuple>::from_owned_ptr(py, PyTuple_New(MersenneTwister::N + 1));
    for (int i = 0; i < MersenneTwister::N; ++i)
        PyTuple_SET_ITEM(state.as_ptr(), i, PyLong_FromUnsignedLong(self.mt.words()[static_cast<std::size_t>(i)]));
    PyTuple_SET_ITEM(state.as_ptr(), MersenneTwister::N, PyLong_FromLong(self.mt.index()));
    for (int i = 0; i <= MersenneTwister::N; ++i)
        if (PyTuple_GET_ITEM(state.as_ptr(), i) == nullptr) throw_fetched(py);
    return state;
}

void set_state(Bound<Random> self, Python py, Borrowed<PyAny> state)
{
    if (!PyTuple_Check(state.as_ptr())) throw PyErr::new_err(py, PyExc_TypeError, "state vector must be a tuple");
    if (PyTuple_GET_SIZE(state.as_ptr()) != MersenneTwister::N + 1)
        throw PyErr::new_err(py, PyExc_ValueError, "state vector is the wrong size");
    std::array<std::uint32_t, MersenneTwister::N> words{};
    for (int i = 0; i < MersenneTwister::N; ++i) {
        const unsigned long w = PyLong_AsUnsignedLong(PyTuple_GET_ITEM(state.as_ptr(), i));
        if (w == static_cast<unsigned long>(-1) && PyErr_Occurred()) throw_fetched(py);
        words[static_cast<std::size_t>(i)] = static_cast<std::uint32_t>(w);
    }
    const long index = PyLong_AsLong(PyTuple_GET_ITEM(state.as_ptr(), MersenneTwister::N));
    if (index == -1 && PyErr_Occurred()) throw_fetched(py);
    if (index < 0 || index > MersenneTwister::N) throw PyErr::new_err(py, PyExc_ValueError, "invalid state");
    self.lock(py)->mt.load(words, static_cast<int>(index));
}

// __init__: CPython's rules, then seed(). Keywords are refused when the class is Random itself or
// a subclass that keeps Random's __init__ (a subclass with its own __init__ may take any).
void init_random(Bound<Random> self, Python py, Args args, Kwargs kwargs)
{
    PyTypeObject *type = Py_TYPE(self.as_ptr());
    PyTypeObject *random_type = type_object<Random>(py).type();
    if ((type == random_type || type->tp_init == random_type->tp_init) && PyDict_GET_SIZE(kwargs.as_ptr()) != 0)
        throw PyErr::new_err(py, PyExc_TypeError, "Random() takes no keyword arguments");
    const Py_ssize_t nargs = PyTuple_GET_SIZE(args.as_ptr());
#if PY_VERSION_HEX >= 0x030E0000   // _random's own message: 3.14 counts arguments like Argument Clinic
    if (nargs > 1) {
        PyErr_Format(PyExc_TypeError, "Random expected at most 1 argument, got %zd", nargs);
        throw PyErr::fetch(py);
    }
#else
    if (nargs > 1) throw PyErr::new_err(py, PyExc_TypeError, "Random() requires 0 or 1 argument");
#endif
    std::optional<Borrowed<PyAny>> arg;
    if (nargs == 1 && !args.get_borrowed_item(0).is_none()) arg = args.get_borrowed_item(0);
    reseed(std::move(self), py, arg);
}

}  // namespace

PYO3CPP_MODULE(pyo3cpp_random, m)
{
    m.doc("Module implements the Mersenne Twister random number generator.");
    m.add_class<Random>("Random", "Random() -> create a random number generator with its own internal state.")
        .construct_in_new()
        .def("__init__", &init_random)
        .def("random", &draw_float, "random() -> x in the interval [0, 1).")
        .def("seed", &reseed,
             "seed([n]) -> None.\n\nDefaults to use urandom and falls back to a combination\n"
             "of the current time and the process identifier.",
             arg("n") = std::nullopt, pos_only())
        .def("getstate", &get_state, "getstate() -> tuple containing the current state.")
        .def("setstate", &set_state,
             "setstate(state) -> None.  Restores generator state.", arg("state"), pos_only())
        .def("getrandbits", &draw_bits,
             "getrandbits(k) -> x.  Generates an int with k random bits.", arg("k"), pos_only())
        .subclassable();
}
