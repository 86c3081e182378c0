// pyo3cpp_test_operators — the number protocol of bound classes (class_number.hpp): binary,
// reflected and in-place operators, pow with a modulus, unary operators and conversions,
// NotImplemented for operands that do not convert, aliasing, inheritance through extends<>, and a
// locked class whose in-place operator threads race on. Driven by tests/python/test_operators.py.
#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads

#include <pyo3cpp/pyo3cpp.hpp>

#include <atomic>
#include <cmath>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

using namespace pyo3cpp;

namespace {

struct Vec {
    double x = 0, y = 0;
    Vec(double x_, double y_) : x(x_), y(y_) {}
    Vec &operator-=(const Vec &o)
    {
        x -= o.x;
        y -= o.y;
        return *this;
    }
};

// An unsigned bit set: the bitwise operators, shifts, and the integer conversions.
struct Bits {
    unsigned long value = 0;
};

// inheritance: Num defines some operators; Scaled (extends<Num>) overrides __radd__ and adds
// __mul__, keeping Num's __add__ and __sub__.
struct Num {
    long v = 0;
};
struct Scaled : Num {
    long factor = 1;
};

// Special methods defined more than once (overload sets): a 2x2 matrix times a matrix, a Vec or
// a scalar; compared with a matrix or a scalar; indexed by a row or by (row, column).
struct Mat {
    double a[2][2] = {{0, 0}, {0, 0}};
};
Mat mat_times(const Mat &p, const Mat &q)
{
    Mat r;
    for (int i = 0; i < 2; ++i)
        for (int j = 0; j < 2; ++j) r.a[i][j] = p.a[i][0] * q.a[0][j] + p.a[i][1] * q.a[1][j];
    return r;
}
Mat mat_scaled(const Mat &p, double k)
{
    Mat r = p;
    for (auto &row : r.a)
        for (double &x : row) x *= k;
    return r;
}
long checked_index(long i)
{
    if (i < 0 || i > 1) throw std::out_of_range("Mat index out of range");
    return i;
}

// The race: a read-modify-write spread out so that unlocked concurrent calls lose updates.
struct Total {
    long count = 0;
};

Vec scale(const Vec &a, double k) { return Vec(a.x * k, a.y * k); }

}  // namespace

PYO3CPP_CLASS(Vec);
PYO3CPP_CLASS(Bits);
PYO3CPP_CLASS(Num);
PYO3CPP_CLASS(Scaled);
PYO3CPP_CLASS(Total);
PYO3CPP_CLASS(Mat);

PYO3CPP_MODULE(pyo3cpp_test_operators, m)
{
    m.add_class<Vec>("Vec", "A 2-d vector.")
        .def_init<double, double>(arg("x"), arg("y"))
        .subclassable()
        .def_readonly("x", &Vec::x)
        .def_readonly("y", &Vec::y)
        .def("__repr__", [](const Vec &v) { return "Vec(" + std::to_string(v.x) + ", " + std::to_string(v.y) + ")"; })
        .def("__eq__", [](const Vec &a, const Vec &b) { return a.x == b.x && a.y == b.y; })
        .def("__add__", [](const Vec &a, const Vec &b) { return Vec(a.x + b.x, a.y + b.y); })
        .def("__sub__", [](const Vec &a, const Vec &b) { return Vec(a.x - b.x, a.y - b.y); })
        .def("__mul__", &scale, arg("k"))
        .def("__rmul__", &scale, arg("k"))
        .def("__matmul__", [](const Vec &a, const Vec &b) { return a.x * b.x + a.y * b.y; })
        .def("__truediv__", [](const Vec &a, double k) {
            if (k == 0) throw std::domain_error("Vec / 0");
            return Vec(a.x / k, a.y / k);
        })
        .def("__floordiv__", [](const Vec &a, double k) { return Vec(std::floor(a.x / k), std::floor(a.y / k)); })
        .def("__mod__", [](const Vec &a, double k) { return Vec(std::fmod(a.x, k), std::fmod(a.y, k)); })
        .def("__divmod__", [](const Vec &a, double k) {
            return std::pair<Vec, Vec>(Vec(std::floor(a.x / k), std::floor(a.y / k)),
                                       Vec(std::fmod(a.x, k), std::fmod(a.y, k)));
        })
        .def("__rtruediv__", [](const Vec &a, double k) { return Vec(k / a.x, k / a.y); })
        .def("__pow__", [](const Vec &a, long e, std::optional<long> mod) {
            double px = std::pow(a.x, static_cast<double>(e)), py = std::pow(a.y, static_cast<double>(e));
            if (mod) {
                px = std::fmod(px, static_cast<double>(*mod));
                py = std::fmod(py, static_cast<double>(*mod));
            }
            return Vec(px, py);
        }, arg("exponent"), arg("mod") = std::nullopt)
        // pow's slot wrappers take a modulus (CPython's signature): declared, the stubs agree.
        .def("__rpow__", [](const Vec &a, double base, std::optional<long> mod) {
            Vec v(std::pow(base, a.x), std::pow(base, a.y));
            if (mod) v = Vec(std::fmod(v.x, static_cast<double>(*mod)), std::fmod(v.y, static_cast<double>(*mod)));
            return v;
        })
        .def("__iadd__", [](Vec &a, const Vec &b) {
            a.x += b.x;
            a.y += b.y;
        })
        .def("__isub__", &Vec::operator-=)
        .def("__imul__", [](Vec &a, double k) {
            a.x *= k;
            a.y *= k;
            return 42;  // discarded: the value of `v *= k` is v
        })
        .def("__neg__", [](const Vec &a) { return Vec(-a.x, -a.y); })
        .def("__pos__", [](Bound<Vec> self) { return self; })
        .def("__abs__", [](const Vec &a) { return std::hypot(a.x, a.y); })
        .def("__complex__", [](Bound<Vec> self) {  // a plain method in CPython
            auto value = self.read(self.py());
            return Bound<PyAny>::from_owned_ptr(self.py(), PyComplex_FromDoubles(value->x, value->y));
        })
        .def("__bool__", [](const Vec &a) { return a.x != 0 || a.y != 0; });

    m.add_class<Bits>("Bits", "An unsigned bit set.")
        .def_init([](unsigned long v) { return Bits{v}; }, arg("value"))
        .def_readonly("value", &Bits::value)
        .def("__and__", [](const Bits &a, const Bits &b) { return Bits{a.value & b.value}; })
        .def("__or__", [](const Bits &a, const Bits &b) { return Bits{a.value | b.value}; })
        .def("__xor__", [](const Bits &a, const Bits &b) { return Bits{a.value ^ b.value}; })
        .def("__rand__", [](const Bits &a, unsigned long b) { return Bits{a.value & b}; })
        .def("__ror__", [](const Bits &a, unsigned long b) { return Bits{a.value | b}; })
        .def("__rxor__", [](const Bits &a, unsigned long b) { return Bits{a.value ^ b}; })
        .def("__lshift__", [](const Bits &a, unsigned int n) { return Bits{n >= 64 ? 0 : a.value << n}; })
        .def("__rshift__", [](const Bits &a, unsigned int n) { return Bits{n >= 64 ? 0 : a.value >> n}; })
        .def("__rlshift__", [](const Bits &a, unsigned long b) { return b << (a.value & 63); })
        .def("__rrshift__", [](const Bits &a, unsigned long b) { return b >> (a.value & 63); })
        .def("__iand__", [](Bits &a, const Bits &b) { a.value &= b.value; })
        .def("__ior__", [](Bits &a, const Bits &b) { a.value |= b.value; })
        .def("__ixor__", [](Bits &a, const Bits &b) { a.value ^= b.value; })
        .def("__ilshift__", [](Bits &a, unsigned int n) { a.value = n >= 64 ? 0 : a.value << n; })
        .def("__irshift__", [](Bits &a, unsigned int n) { a.value = n >= 64 ? 0 : a.value >> n; })
        .def("__imod__", [](Bits &a, unsigned long n) {
            if (n == 0) throw std::domain_error("Bits %= 0");
            a.value %= n;
        })
        .def("__ifloordiv__", [](Bits &a, unsigned long n) {
            if (n == 0) throw std::domain_error("Bits //= 0");
            a.value /= n;
        })
        .def("__itruediv__", [](Bits &a, unsigned long n) {
            if (n == 0) throw std::domain_error("Bits /= 0");
            a.value /= n;
        })
        .def("__imatmul__", [](Bits &a, const Bits &b) { a.value = static_cast<unsigned long>(__builtin_popcountl(a.value & b.value)); })
        .def("__invert__", [](const Bits &a) { return Bits{~a.value}; })
        .def("__int__", [](const Bits &a) { return a.value; })
        .def("__index__", [](const Bits &a) { return a.value; })
        .def("__float__", [](const Bits &a) { return static_cast<double>(a.value); });

    m.add_class<Num>("Num", "A number with some operators; Scaled extends it.")
        .def_init([](long v) { return Num{v}; }, arg("v"))
        .def_readonly("v", &Num::v)
        .subclassable()
        .def("__add__", [](const Num &a, long b) { return a.v + b; })
        .def("__radd__", [](const Num &a, long b) { return b + a.v + 1000; })  // marks the reflected path
        .def("__sub__", [](const Num &a, const Num &b) { return a.v - b.v; })
        .def("__neg__", [](const Num &a) { return -a.v; });

    m.add_class<Scaled>("Scaled", "Num with __mul__ and its own __radd__.")
        .extends<Num>()
        .def_init([](long v, long f) {
            Scaled s;
            s.v = v;
            s.factor = f;
            return s;
        }, arg("v"), arg("factor"))
        .def("__radd__", [](const Scaled &a, long b) { return b + a.v * a.factor + 2000; })
        .def("__mul__", [](const Scaled &a, long k) { return a.v * a.factor * k; });

    m.add_class<Total>("Total", "A locked running total: `t += other` from many threads.")
        .def_init([](long start) { return Total{start}; }, arg("start") = 0L)
        .def_readonly("count", &Total::count)
        .def("__iadd__", [](Total &t, const Total &other) {
            long value = t.count;
            for (int i = 0; i < 400; ++i) std::atomic_signal_fence(std::memory_order_seq_cst);  // a wide window
            t.count = value + other.count;
        })
        .def("__ipow__", [](Total &t, unsigned int e) {  // no __pow__: `t **= e` needs this one
            long r = 1;
            for (unsigned int i = 0; i < e; ++i) r *= t.count;
            t.count = r;
        })
        // An operand holding views (std::string_view inside a container): its probe needs a view
        // scope of its own to tell a mismatch from a conversion that cannot run.
        .def("__sub__", [](const Total &a, const std::vector<std::string_view> &words) {
            return Total{a.count - static_cast<long>(words.size())};
        })
        .def("__add__", [](const Total &a, const Total &b) { return Total{a.count + b.count}; })
        .def("__mul__", [](const Total &a, const Total &b) { return Total{a.count * b.count}; });

    m.add_class<Mat>("Mat", "A 2x2 matrix whose operators are overloaded.")
        .def_init([](double a, double b, double c, double d) {
            Mat r;
            r.a[0][0] = a;
            r.a[0][1] = b;
            r.a[1][0] = c;
            r.a[1][1] = d;
            return r;
        }, arg("a"), arg("b"), arg("c"), arg("d"))
        .def("__mul__", &mat_times, arg("other"))
        .def("__mul__", [](const Mat &p, const Vec &v) {
            return Vec(p.a[0][0] * v.x + p.a[0][1] * v.y, p.a[1][0] * v.x + p.a[1][1] * v.y);
        }, arg("v"))
        .def("__mul__", &mat_scaled, arg("k"))
        .def("__rmul__", &mat_scaled, arg("k"))
        .def("__imul__", [](Mat &p, double k) { p = mat_scaled(p, k); }, arg("k"))
        .def("__imul__", [](Mat &p, const Mat &q) { p = mat_times(p, q); }, arg("other"))
        .def("__eq__", [](const Mat &p, const Mat &q) {
            return p.a[0][0] == q.a[0][0] && p.a[0][1] == q.a[0][1] && p.a[1][0] == q.a[1][0] && p.a[1][1] == q.a[1][1];
        })
        .def("__eq__", [](const Mat &p, double k) {  // every element equals k
            return p.a[0][0] == k && p.a[0][1] == k && p.a[1][0] == k && p.a[1][1] == k;
        })
        .def("__getitem__", [](const Mat &p, std::pair<long, long> at) {
            return p.a[checked_index(at.first)][checked_index(at.second)];
        }, arg("at"))
        .def("__getitem__", [](const Mat &p, long row) {
            return std::make_pair(p.a[checked_index(row)][0], p.a[checked_index(row)][1]);
        }, arg("row"))
        .def("__setitem__", [](Mat &p, std::pair<long, long> at, double x) {
            p.a[checked_index(at.first)][checked_index(at.second)] = x;
        }, arg("at"), arg("x"));
}
