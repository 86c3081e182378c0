// pyo3cpp_test_enum_ints — enums of every underlying integer type, exact at the extremes, and the
// Flag/IntFlag kinds. Each enum E has echo_<name>(E) -> E (both conversions) and, for the int
// kinds, the declared extremes. Driven by tests/python/test_enum_ints.py.
#include <pyo3cpp/pyo3cpp.hpp>

#include <cstdint>
#include <limits>

using namespace pyo3cpp;

namespace {

template <class U> struct Extremes {
    enum class E : U {
        Min = std::numeric_limits<U>::min(),
        Zero = 0,
        One = 1,
        Max = std::numeric_limits<U>::max(),
    };
};
using I8 = Extremes<std::int8_t>::E;
using U8 = Extremes<std::uint8_t>::E;
using I16 = Extremes<std::int16_t>::E;
using U16 = Extremes<std::uint16_t>::E;
using I32 = Extremes<std::int32_t>::E;
using U32 = Extremes<std::uint32_t>::E;
using I64 = Extremes<std::int64_t>::E;
using U64 = Extremes<std::uint64_t>::E;

enum class Truth : bool { No = false, Yes = true };

// The issue's shape: a uint64_t flag with the top bit.
enum class Flag64 : std::uint64_t { LOW = 1, MID = 1ull << 32, HIGH = 1ull << 63 };
enum class Perm : std::uint8_t { R = 4, W = 2, X = 1 };
enum class SignedBits : std::int32_t { A = 1, B = 2, C = 1 << 30 };

template <class E> void add_extremes(ModuleDef &m, const char *name, const char *echo, EnumKind kind)
{
    m.enum_<E>(name, {{"MIN", E::Min}, {"ZERO", E::Zero}, {"ONE", E::One}, {"MAX", E::Max}}, kind);
    m.def(echo, [](E e) { return e; }, arg("e"));
}

}  // namespace

PYO3CPP_MODULE(pyo3cpp_test_enum_ints, m)
{
    add_extremes<I8>(m, "I8", "echo_I8", EnumKind::IntEnum);
    add_extremes<U8>(m, "U8", "echo_U8", EnumKind::IntEnum);
    add_extremes<I16>(m, "I16", "echo_I16", EnumKind::IntEnum);
    add_extremes<U16>(m, "U16", "echo_U16", EnumKind::IntEnum);
    add_extremes<I32>(m, "I32", "echo_I32", EnumKind::Enum);
    add_extremes<U32>(m, "U32", "echo_U32", EnumKind::Enum);
    add_extremes<I64>(m, "I64", "echo_I64", EnumKind::IntEnum);
    add_extremes<U64>(m, "U64", "echo_U64", EnumKind::IntEnum);
    m.enum_<Truth>("Truth", {{"NO", Truth::No}, {"YES", Truth::Yes}}, EnumKind::IntEnum);
    m.def("echo_Truth", [](Truth t) { return t; }, arg("t"));

    m.enum_<Flag64>("Flag64", {{"LOW", Flag64::LOW}, {"MID", Flag64::MID}, {"HIGH", Flag64::HIGH}},
                    EnumKind::IntFlag);
    m.def("echo_Flag64", [](Flag64 f) { return f; }, arg("f"));
    m.def("raw_Flag64", [](Flag64 f) { return static_cast<std::uint64_t>(f); }, arg("f"));
    m.def("make_Flag64", [](std::uint64_t bits) { return static_cast<Flag64>(bits); }, arg("bits"));
    m.enum_<Perm>("Perm", {{"R", Perm::R}, {"W", Perm::W}, {"X", Perm::X}}, EnumKind::Flag);
    m.def("echo_Perm", [](Perm p) { return p; }, arg("p"));
    m.def("raw_Perm", [](Perm p) { return static_cast<int>(p); }, arg("p"));
    m.def("make_Perm", [](int bits) { return static_cast<Perm>(bits); }, arg("bits"));
    m.enum_<SignedBits>("SignedBits", {{"A", SignedBits::A}, {"B", SignedBits::B}, {"C", SignedBits::C}},
                        EnumKind::IntFlag);
    m.def("echo_SignedBits", [](SignedBits s) { return s; }, arg("s"));
    m.def("raw_SignedBits", [](SignedBits s) { return static_cast<std::int32_t>(s); }, arg("s"));
}
