// pyo3cpp_ownership: a class held by std::shared_ptr, shared by a C++ cache and Python
// (docs/ownership.md shows it verbatim; tests/python/test_holders.py runs it as shown).
#include <pyo3cpp/pyo3cpp.hpp>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
using namespace pyo3cpp;

struct Texture {
    std::string name;
    int width = 0, height = 0;
    Texture(std::string n, int w, int h) : name(std::move(n)), width(w), height(h) {}
    void resize(int w, int h) { width = w, height = h; }
    long pixels() const { return long(width) * height; }
};
PYO3CPP_CLASS(Texture, std::shared_ptr<Texture>);  // locked (the default), held by shared_ptr

// C++ owners of their own: a cache keyed by name, guarded by its own mutex.
class Cache {
public:
    std::shared_ptr<Texture> load(const std::string &name)
    {
        std::lock_guard lock(mutex_);
        std::shared_ptr<Texture> &slot = items_[name];
        if (!slot) slot = std::make_shared<Texture>(name, 64, 64);
        return slot;
    }
    void adopt(std::shared_ptr<Texture> t)
    {
        std::lock_guard lock(mutex_);
        items_[t->name] = std::move(t);
    }
    void evict(const std::string &name)
    {
        std::lock_guard lock(mutex_);
        items_.erase(name);
    }

private:
    std::mutex mutex_;
    std::map<std::string, std::shared_ptr<Texture>> items_;
};
Cache cache;  // process-wide: what it still holds is deleted after finalisation, safely

PYO3CPP_MODULE(pyo3cpp_ownership, m)
{
    m.add_class<Texture>("Texture", "An image shared by C++ and Python.")
        .def_init<std::string, int, int>(arg("name"), arg("width"), arg("height"))
        .def_readonly("name", &Texture::name)
        .def("resize", &Texture::resize, arg("width"), arg("height"))
        .def("pixels", &Texture::pixels);
    // shared_ptr out: the object standing for that Texture (the same one while it lives).
    m.def("load", [](const std::string &name) { return cache.load(name); }, arg("name"));
    // shared_ptr in: C++ shares the Texture (not the Python object).
    m.def("adopt", [](std::shared_ptr<Texture> t) { cache.adopt(std::move(t)); }, arg("texture"));
    m.def("evict", [](const std::string &name) { cache.evict(name); }, arg("name"));
    // unique_ptr out: a new object owning it; unique_ptr in: C++ takes it, the object is empty.
    m.def("checkerboard", [](int size) { return std::make_unique<Texture>("checkerboard", size, size); },
          arg("size"));
    m.def("upload", [](std::unique_ptr<Texture> t) { return t->pixels(); }, arg("texture"));
}
