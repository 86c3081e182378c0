// pyo3cpp_test_member_refs — references into an owner (class_member_ref.hpp) and keep-alive
// (keep_alive.hpp): a Frame whose Vector members read as references, nested owners, read-only
// references, reference_internal methods; solvers that keep the Chain they point to. Driven by
// tests/python/test_member_refs.py.
#include <pyo3cpp/pyo3cpp.hpp>

#include <atomic>
#include <numeric>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

using namespace pyo3cpp;

namespace {

struct Vector {
    double x = 0, y = 0, z = 0;
    Vector() = default;
    Vector(double x_, double y_, double z_) : x(x_), y(y_), z(z_) {}
    void set_x(double v) { x = v; }
    // x += k, y += 2k, z += 3k, each a read-modify-write with a pause inside and between: an
    // unlocked concurrent call loses updates, and a reader sees a broken invariant (y == 2x,
    // z == 3x when starting from zero).
    static void pause()
    {
        for (int i = 0; i < 1000; ++i) __asm__ volatile("" ::: "memory");  // kept by the compiler
    }
    void add(double k)
    {
        double v = x;
        pause();
        x = v + k;
        v = y;
        pause();
        y = v + 2 * k;
        v = z;
        pause();
        z = v + 3 * k;
    }
    bool consistent() const
    {
        const double a = x;
        pause();
        return y == 2 * a && z == 3 * a;
    }
    double norm1() const { return x + y + z; }
};

struct Frame {
    Vector p;
    Vector origin{1, 2, 3};
    long moves = 0;
    Frame() = default;
    explicit Frame(Vector p_) : p(p_) {}
    void shift(double k)  // the owner's own mutating method, on p
    {
        p.add(k);
        ++moves;
    }
    bool consistent() const { return p.consistent(); }
    double px() const { return p.x; }
};

struct Body {  // a member that is itself an owner of members
    Frame frame;
    std::string name = "body";
};

struct Tag {  // a frozen member type: copied
    long id = 7;
};
struct Tagged {
    Tag tag;
    Vector v;
};

struct Fixed {  // a frozen owner: read-only references, no lock
    Vector v{4, 5, 6};
};

struct Pair {  // an unsynchronized owner: its references take no lock
    Vector v;
};

struct Cell {  // a GC class, as a member of a GC owner (a reference then visits its owner)
    Py<PyAny> tag;
};
struct Grid {
    Cell cell;
    Py<PyAny> extra;
};

std::atomic<long> g_live_chains{0};
struct Chain {
    std::vector<double> lengths;
    explicit Chain(std::vector<double> l) : lengths(std::move(l)) { ++g_live_chains; }
    Chain(const Chain &other) : lengths(other.lengths) { ++g_live_chains; }
    ~Chain() { --g_live_chains; }
};

struct Solver {  // keeps a pointer to its chain, as KDL's solvers keep `const Chain&`
    const Chain *chain;
    explicit Solver(const Chain &c) : chain(&c) {}
    double total() const { return std::accumulate(chain->lengths.begin(), chain->lengths.end(), 0.0); }
    void rebind(const Chain &c) { chain = &c; }
};

struct Holder {  // a GC class that keeps an arbitrary object alive
    Py<PyAny> unused;
};

}  // namespace

PYO3CPP_CLASS(Vector);
PYO3CPP_CLASS(Frame);
PYO3CPP_CLASS(Body);
PYO3CPP_CLASS(Tag, pyo3cpp::frozen);
PYO3CPP_CLASS(Tagged);
PYO3CPP_CLASS(Fixed, pyo3cpp::frozen);
PYO3CPP_CLASS(Pair, pyo3cpp::unsynchronized);
PYO3CPP_CLASS(Cell);
PYO3CPP_CLASS(Grid);
PYO3CPP_CLASS(Chain);
PYO3CPP_CLASS(Solver);
PYO3CPP_CLASS(Holder);

PYO3CPP_MODULE(pyo3cpp_test_member_refs, m)
{
    m.doc("References into owners and keep-alive, for tests/python/test_member_refs.py.");

    m.add_class<Vector>("Vector", "Three doubles.")
        .def_init<double, double, double>(arg("x") = 0.0, arg("y") = 0.0, arg("z") = 0.0)
        .def_readwrite("x", &Vector::x)
        .def_readwrite("y", &Vector::y)
        .def_readwrite("z", &Vector::z)
        .def("set_x", &Vector::set_x, arg("value"))
        .def("add", &Vector::add, arg("k"))
        .def("consistent", &Vector::consistent)
        .def("norm1", &Vector::norm1)
        .def("__copy__", [](const Vector &v) { return Vector(v); })
        .def_pickle([](const Vector &v) { return std::make_tuple(v.x, v.y, v.z); },
                    [](std::tuple<double, double, double> s) {
                        return Vector(std::get<0>(s), std::get<1>(s), std::get<2>(s));
                    })
        .weakref();

    m.add_class<Frame>("Frame", "A position and an origin.")
        .def_init<Vector>(arg("p") = Vector())
        .def_readwrite("p", &Frame::p)
        .def_readonly("origin", &Frame::origin)
        .def_readwrite("moves", &Frame::moves)
        .def("shift", &Frame::shift, arg("k"))
        .def("consistent", &Frame::consistent)
        .def("px", &Frame::px)
        .def("p_ref", reference_internal([](Frame &f) -> Vector & { return f.p; }))
        .def("origin_ref", reference_internal([](const Frame &f) -> const Vector & { return f.origin; }))
        .def("outside_ref", reference_internal([](Frame &) -> Vector & {
                 static Vector elsewhere;
                 return elsewhere;
             }))
        .def("set_p", [](Frame &f, const Vector &v) { f.p = v; }, arg("v"))
        // Runs `fn` while the frame is held exclusively (a reference used meanwhile re-enters).
        .def("while_held", [](Frame &, Bound<PyAny> fn) -> Bound<PyAny> { return fn.call(); }, arg("fn"))
        .subclassable()
        .weakref();

    m.add_class<Body>("Body")
        .def_init<>()
        .def_readwrite("frame", &Body::frame)
        .def_readwrite("name", &Body::name);

    m.add_class<Tag>("Tag").def_init<>().def_readonly("id", &Tag::id);
    m.add_class<Tagged>("Tagged").def_init<>().def_readwrite("tag", &Tagged::tag).def_readwrite("v", &Tagged::v);
    m.add_class<Fixed>("Fixed").def_init<>().def_readonly("v", &Fixed::v);

    m.add_class<Pair>("Pair").def_init<>().def_readwrite("v", &Pair::v);
    m.add_class<Cell>("Cell").def_init<>().def_readwrite("tag", &Cell::tag).traverse<&Cell::tag>();
    m.add_class<Grid>("Grid")
        .def_init<>()
        .def_readonly("cell", &Grid::cell)
        .def_readwrite("extra", &Grid::extra)
        .gc([](const Grid &g, Visit &v) { v(g.cell.tag); v(g.extra); },
            [](Grid &g) {
                auto tag = std::move(g.cell.tag);
                auto extra = std::move(g.extra);
            })
        .weakref();

    m.add_class<Chain>("Chain", "Segment lengths (no weak references).")
        .def_init<std::vector<double>>(arg("lengths"));
    m.add_class<Solver>("Solver", "Keeps a pointer to its chain.")
        .def_init<const Chain &>(arg("chain").keep_alive())
        .def("total", &Solver::total)
        .def("rebind", &Solver::rebind, arg("chain").keep_alive());
    m.add_class<Holder>("Holder", "A GC class keeping an object alive.")
        .def_init([](Bound<PyAny>) { return Holder{}; }, arg("kept").keep_alive())
        .traverse<&Holder::unused>();

    m.def("live_chains", [] { return g_live_chains.load(); });
    m.def("make_solver", [](const Chain &c) { return Solver(c); }, arg("chain").keep_alive());
    // The result of factory() keeps x (a weak reference's callback: any object but a bound one).
    m.def("kept_by_result_of", [](Bound<PyAny> factory, Bound<PyAny>) -> Bound<PyAny> { return factory.call(); },
          arg("factory"), arg("x").keep_alive());
    m.def("solver_total", [](const Solver &s) { return s.total(); }, arg("solver"));
}
