// mapbox_earcut: the Python binding of mapbox's earcut.hpp polygon triangulation, written with
// pyo3cpp (docs/arrays.md walks through it). A drop-in for python-mapbox-earcut 1.0.1, whose
// pybind11 binding is the specification: the same four functions, NumPy arrays (or any buffer)
// in, a uint32 array of triangle indices out. earcut.hpp itself is not in this repository: the
// build reads it from the source package scripts/fetch-mapbox-earcut unpacks.
#include <pyo3cpp/pyo3cpp.hpp>

#include <mapbox/earcut.hpp>

#include <array>
#include <cstdint>
#include <stdexcept>
#include <utility>
#include <vector>

using namespace pyo3cpp;

namespace {

// vertices: an (nverts, 2) array of coordinates, converted to Coord when it holds another dtype
// (as py::array_t converts); ring_end_indices: where each ring ends, the last one at nverts.
template <class Coord>
Array<std::uint32_t> triangulate(ConvertingView<Coord, shape<any, any>, layout::strided> vertices,
                                 ConvertingView<std::uint32_t> ring_end_indices)
{
    if (vertices.shape(1) != 2) throw std::domain_error("The second dimension of vertices is not 2!");
    const Py_ssize_t num_verts = vertices.shape(0);
    const Py_ssize_t num_rings = ring_end_indices.shape(0);
    if (num_rings > 0) {
        if (ring_end_indices[num_rings - 1] != num_verts)
            throw std::invalid_argument("The last value of ring_end_indices must be equal to the number of vertices!");
    } else if (num_verts > 0) {
        throw std::invalid_argument(
            "ring_end_indices is empty, but vertices is not! This seems like it might not be intentional.");
    }

    using Point = std::array<Coord, 2>;
    std::vector<std::vector<Point>> polygon(static_cast<std::size_t>(num_rings));
    Py_ssize_t start = 0;
    for (Py_ssize_t ring = 0; ring < num_rings; ++ring) {
        const Py_ssize_t end = ring_end_indices[ring];
        if (end <= start) throw std::invalid_argument("ring_end_indices must be in strictly increasing order!");
        if (end > num_verts)
            throw std::invalid_argument("ring_end_indices cannot contain values larger than the number of vertices!");
        std::vector<Point> &points = polygon[static_cast<std::size_t>(ring)];
        points.reserve(static_cast<std::size_t>(end - start));
        for (Py_ssize_t i = start; i < end; ++i) points.push_back(Point{vertices(i, 0), vertices(i, 1)});
        start = end;
    }
    // The indices' own memory becomes the result's: no copy on the way out.
    return Array<std::uint32_t>(mapbox::earcut<std::uint32_t>(polygon));
}

}  // namespace

PYO3CPP_MODULE(mapbox_earcut, m)
{
    m.doc("Python bindings to mapbox/earcut.hpp: polygon triangulation (a pyo3cpp port).");
    const char *doc = "Triangle indices (uint32) of the polygon whose rings end at ring_end_indices.";
    m.def<&triangulate<std::int32_t>>("triangulate_int32", doc, arg("vertices"), arg("ring_end_indices"));
    m.def<&triangulate<std::int64_t>>("triangulate_int64", doc, arg("vertices"), arg("ring_end_indices"));
    m.def<&triangulate<float>>("triangulate_float32", doc, arg("vertices"), arg("ring_end_indices"));
    m.def<&triangulate<double>>("triangulate_float64", doc, arg("vertices"), arg("ring_end_indices"));
    m.add("__version__", "1.0.1");  // the release whose binding this reproduces
}
