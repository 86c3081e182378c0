// test_views.cpp — the typed views (any.hpp, dict.hpp, list.hpp, tuple.hpp, string.hpp,
// bytes.hpp, int/float/bool/none/type.hpp, pymodule.hpp, iterator.hpp): every operation, every
// error path, exact refcounts, and that no error is left set on the thread.
#include <pyo3cpp/pyo3cpp.hpp>

#include <gtest/gtest.h>

#include <iterator>
#include <string>

#include "embedded_python.hpp"
#include "expect_raises.hpp"

using namespace pyo3cpp;
using pyo3cpp_test::eval;
using pyo3cpp_test::expect_raises;
using pyo3cpp_test::refcnt;

namespace {



static_assert(std::input_iterator<detail::DictIterator<Bound<PyDict>>>);
static_assert(std::input_iterator<detail::ListIterator<Bound<PyList>>>);
static_assert(std::input_iterator<detail::TupleIterator<Bound<PyTuple>>>);
static_assert(std::input_iterator<detail::ObjectIterator<Bound<PyIterator>>>);
static_assert(sizeof(Borrowed<PyDict>) == sizeof(PyObject *));
static_assert(sizeof(Bound<PyList>) == sizeof(PyObject *));

// ------------------------------------------------------------------ PyAny

TEST(AnyView, AttributesByCStringInternedAndPythonName)
{
    auto guard = attach();
    auto py = guard.py();
    ASSERT_TRUE(pyo3cpp_test::run_python("class Thing:\n    pass\nthing = Thing()\n"));
    auto thing = eval(py, "thing");
    thing.setattr("x", 1);
    EXPECT_EQ(thing.getattr("x").extract<int>(), 1);
    auto name = intern_string(py, "y");
    thing.setattr(name, "why");
    EXPECT_EQ(thing.getattr(name).extract<std::string>(), "why");
    EXPECT_EQ(thing.getattr<"y">().extract<std::string>(), "why");
    EXPECT_TRUE(thing.hasattr("x"));
    EXPECT_TRUE(thing.hasattr(name));
    EXPECT_FALSE(thing.hasattr("nope"));
    EXPECT_FALSE(thing.getattr_opt("nope").has_value());
    ASSERT_TRUE(thing.getattr_opt(name).has_value());
    thing.delattr("x");
    thing.delattr(name);
    EXPECT_FALSE(thing.hasattr("x"));
    expect_raises(py, PyExc_AttributeError, [&] { thing.getattr("x"); }, "getattr missing");
    expect_raises(py, PyExc_AttributeError, [&] { thing.getattr<"zz">(); }, "getattr<> missing");
    expect_raises(py, PyExc_AttributeError, [&] { thing.delattr("x"); }, "delattr missing");
    expect_raises(py, PyExc_AttributeError, [&] { thing.delattr(name); }, "delattr name missing");
    auto number = new_int(py, 5);
    expect_raises(py, PyExc_AttributeError, [&] { number.setattr("x", 1); }, "setattr on int");
    expect_raises(py, PyExc_TypeError, [&] { thing.getattr(number); }, "non-str name");
    expect_raises(py, PyExc_TypeError, [&] { thing.getattr_opt(number); }, "non-str name opt");
}

TEST(AnyView, HasattrPropagatesErrorsOtherThanAttributeError)
{
    auto guard = attach();
    auto py = guard.py();
    ASSERT_TRUE(pyo3cpp_test::run_python(
        "class Boom:\n    @property\n    def bad(self):\n        raise ValueError('boom')\nboom = Boom()\n"));
    auto boom = eval(py, "boom");
    expect_raises(py, PyExc_ValueError, [&] { boom.hasattr("bad"); }, "hasattr property raising");
}

TEST(AnyView, RichCompareHashReprStrLenTruth)
{
    auto guard = attach();
    auto py = guard.py();
    auto one = new_int(py, 1);
    auto two = new_int(py, 2);
    EXPECT_TRUE(one.lt(two));
    EXPECT_TRUE(one.le(1));
    EXPECT_TRUE(two.gt(one));
    EXPECT_TRUE(two.ge(2));
    EXPECT_TRUE(one.eq(1));
    EXPECT_TRUE(one.ne(two));
    EXPECT_FALSE(one.eq(two));
    auto nan = new_float(py, std::numeric_limits<double>::quiet_NaN());
    EXPECT_FALSE(nan.eq(nan)) << "== is not identity";
    EXPECT_TRUE(one.compare(two, CompareOp::lt).extract<bool>());
    expect_raises(py, PyExc_TypeError, [&] { one.lt("a"); }, "int < str");
    EXPECT_EQ(one.hash(), 1);
    auto list = new_list(py);
    expect_raises(py, PyExc_TypeError, [&] { list.hash(); }, "unhashable");
    EXPECT_EQ(new_string(py, "a").repr().to_string(), "'a'");
    EXPECT_EQ(two.str().to_string(), "2");
    EXPECT_EQ(make_list(py, 1, 2, 3).as_any().len(), 3u);
    expect_raises(py, PyExc_TypeError, [&] { one.len(); }, "len(int)");
    EXPECT_TRUE(one.is_truthy());
    EXPECT_FALSE(new_list(py).is_truthy());
    ASSERT_TRUE(pyo3cpp_test::run_python(
        "class BadBool:\n    def __bool__(self):\n        raise RuntimeError('no')\nbad_bool = BadBool()\n"));
    expect_raises(py, PyExc_RuntimeError, [&] { eval(py, "bad_bool").is_truthy(); }, "__bool__ raising");
    ASSERT_TRUE(pyo3cpp_test::run_python(
        "class BadRepr:\n    def __repr__(self):\n        raise KeyError('r')\n    def __str__(self):\n        raise KeyError('s')\nbad_repr = BadRepr()\n"));
    expect_raises(py, PyExc_KeyError, [&] { eval(py, "bad_repr").repr(); }, "__repr__ raising");
    expect_raises(py, PyExc_KeyError, [&] { eval(py, "bad_repr").str(); }, "__str__ raising");
}

TEST(AnyView, TypeInstanceNoneAndIteration)
{
    auto guard = attach();
    auto py = guard.py();
    auto one = new_int(py, 1);
    auto type = one.get_type();
    EXPECT_EQ(type.name().to_string(), "int");
    EXPECT_EQ(type.qualname().to_string(), "int");
    EXPECT_TRUE(one.is_instance(type));
    EXPECT_FALSE(new_string(py, "x").is_instance(type));
    auto bool_type = new_bool(py, true).get_type();
    EXPECT_TRUE(bool_type.is_subclass(type));
    EXPECT_FALSE(type.is_subclass(bool_type));
    expect_raises(py, PyExc_TypeError, [&] { one.is_instance(one); }, "isinstance(x, 1)");
    expect_raises(py, PyExc_TypeError, [&] { type.is_subclass(one); }, "issubclass(int, 1)");
    EXPECT_TRUE(py.none().is_none());
    EXPECT_FALSE(one.is_none());

    auto range = eval(py, "range(4)");
    long sum = 0;
    for (const Bound<PyAny> &item : range.iter()) sum += item.extract<long>();
    EXPECT_EQ(sum, 6);
    auto it = range.iter();
    EXPECT_EQ(it.next()->extract<int>(), 0);
    expect_raises(py, PyExc_TypeError, [&] { one.iter(); }, "iter(int)");
    ASSERT_TRUE(pyo3cpp_test::run_python(
        "def failing():\n    yield 1\n    raise ValueError('mid-iteration')\n"));
    auto gen = eval(py, "failing()");
    expect_raises(py, PyExc_ValueError, [&] {
        for (const auto &item : gen.iter()) (void)item;
    }, "iterator raising");
}

// ------------------------------------------------------------------ PyDict

TEST(DictView, OperationsAndRefcounts)
{
    auto guard = attach();
    auto py = guard.py();
    auto d = new_dict(py);
    auto value = new_list(py);
    const Py_ssize_t start = refcnt(value.as_ptr());
    d.set_item("k", value);
    EXPECT_EQ(refcnt(value.as_ptr()), start + 1) << "the dict holds one";
    {
        auto got = d.get_item("k");
        ASSERT_TRUE(got.has_value());
        EXPECT_TRUE(got->is(value));
        EXPECT_EQ(refcnt(value.as_ptr()), start + 2) << "get_item is a strong reference";
    }
    EXPECT_EQ(refcnt(value.as_ptr()), start + 1);
    EXPECT_FALSE(d.get_item("missing").has_value());
    EXPECT_TRUE(d.contains("k"));
    EXPECT_FALSE(d.contains(7));
    d.set_item(7, 8.5);
    EXPECT_EQ(d.len(), 2u);
    EXPECT_EQ(d.keys().len(), 2u);
    EXPECT_EQ(d.values().len(), 2u);
    EXPECT_EQ(d.items().get_item(1).cast<PyTuple>().get_item(1).extract<double>(), 8.5);
    auto copy = d.copy();
    d.del_item(7);
    EXPECT_EQ(d.len(), 1u);
    EXPECT_EQ(copy.len(), 2u);
    auto popped = d.pop_item("k");
    ASSERT_TRUE(popped.has_value());
    EXPECT_FALSE(d.pop_item("k").has_value());
    popped.reset();
    EXPECT_EQ(refcnt(value.as_ptr()), start + 1) << "the copy still holds one";
    copy.clear();
    EXPECT_EQ(refcnt(value.as_ptr()), start);
    EXPECT_TRUE(copy.is_empty());

    d.set_item("present", 1);  // (3.13's PyDict_Pop skips hashing when the dict is empty)
    auto unhashable = new_list(py);
    expect_raises(py, PyExc_TypeError, [&] { d.get_item(unhashable); }, "get_item unhashable");
    expect_raises(py, PyExc_TypeError, [&] { d.set_item(unhashable, 1); }, "set_item unhashable");
    expect_raises(py, PyExc_TypeError, [&] { d.del_item(unhashable); }, "del_item unhashable");
    expect_raises(py, PyExc_TypeError, [&] { d.contains(unhashable); }, "contains unhashable");
    expect_raises(py, PyExc_TypeError, [&] { d.pop_item(unhashable); }, "pop_item unhashable");
    expect_raises(py, PyExc_KeyError, [&] { d.del_item("absent"); }, "del_item absent");
    expect_raises(py, PyExc_UnicodeDecodeError, [&] { d.set_item(std::string("\xff"), 1); },
                  "invalid UTF-8 key");
}

TEST(DictView, IterationYieldsStrongPairsInOrder)
{
    auto guard = attach();
    auto py = guard.py();
    auto d = new_dict(py);
    for (int i = 0; i < 10; ++i) d.set_item(i, i * i);
    int expected = 0;
    for (const auto &[key, value] : d) {
        EXPECT_EQ(key.extract<int>(), expected);
        EXPECT_EQ(value.extract<int>(), expected * expected);
        EXPECT_GE(refcnt(value.as_ptr()), 2) << "the iterator owns a reference";
        ++expected;
    }
    EXPECT_EQ(expected, 10);
    int count = 0;
    locked_for_each(py, d, [&](const Bound<PyAny> &key, const Bound<PyAny> &value) {
        EXPECT_EQ(key.extract<int>() * key.extract<int>(), value.extract<int>());
        ++count;
    });
    EXPECT_EQ(count, 10);
    expect_raises(py, PyExc_RuntimeError, [&] {
        locked_for_each(py, d, [&](const Bound<PyAny> &key, const Bound<PyAny> &) {
            d.set_item(key.extract<int>() + 100, 0);
        });
    }, "size change during locked_for_each");
    expect_raises(py, PyExc_ValueError, [&] {
        locked_for_each(py, d, [&](const Bound<PyAny> &, const Bound<PyAny> &) {
            throw PyErr::new_err(py, PyExc_ValueError, "from the callback");
        });
    }, "callback exception propagates");
}

// ------------------------------------------------------------------ PyList

TEST(ListView, OperationsErrorsAndRefcounts)
{
    auto guard = attach();
    auto py = guard.py();
    auto item = new_list(py);
    const Py_ssize_t start = refcnt(item.as_ptr());
    auto l = make_list(py, 1, "two", item);
    EXPECT_EQ(refcnt(item.as_ptr()), start + 1);
    EXPECT_EQ(l.len(), 3u);
    {
        auto got = l.get_item(2);
        EXPECT_TRUE(got.is(item));
        EXPECT_EQ(refcnt(item.as_ptr()), start + 2);
    }
    l.set_item(2, 3.0);
    EXPECT_EQ(refcnt(item.as_ptr()), start);
    l.append(item);
    l.insert(0, "zero");
    EXPECT_EQ(l.len(), 5u);
    EXPECT_EQ(l.get_item(0).extract<std::string>(), "zero");
    auto t = l.to_tuple();
    EXPECT_EQ(t.len(), 5u);
    EXPECT_EQ(refcnt(item.as_ptr()), start + 2);
    auto sized = new_list(py, 3);
    EXPECT_EQ(sized.len(), 3u);
    EXPECT_TRUE(sized.get_item(2).is_none());
    expect_raises(py, PyExc_IndexError, [&] { l.get_item(5); }, "get_item past the end");
    expect_raises(py, PyExc_IndexError, [&] { l.get_item(-1); }, "get_item negative");
    expect_raises(py, PyExc_IndexError, [&] { l.set_item(9, 1); }, "set_item past the end");
    const Py_ssize_t before = refcnt(item.as_ptr());
    expect_raises(py, PyExc_IndexError, [&] { l.set_item(9, item); }, "set_item leaks nothing");
    EXPECT_EQ(refcnt(item.as_ptr()), before);
    expect_raises(py, PyExc_TypeError, [&] { make_list(py, 1, "a").sort(); }, "sort mixed");
    auto nums = make_list(py, 3, 1, 2);
    nums.sort();
    nums.reverse();
    EXPECT_EQ(nums.extract<std::vector<int>>(), (std::vector<int>{3, 2, 1}));
    Bound<PyAny> moved_from = new_list(py);
    Bound<PyAny> sink = std::move(moved_from);
    expect_raises(py, PyExc_TypeError, [&] { l.append(moved_from); }, "null Bound argument");
    EXPECT_TRUE(new_list(py).is_empty());
}

TEST(ListView, IterationAndLockedForEach)
{
    auto guard = attach();
    auto py = guard.py();
    auto l = make_list(py, 1, 2, 3, 4);
    long sum = 0;
    for (const Bound<PyAny> &item : l) sum += item.extract<long>();
    EXPECT_EQ(sum, 10);
    sum = 0;
    locked_for_each(py, l, [&](const Bound<PyAny> &item) { sum += item.extract<long>(); });
    EXPECT_EQ(sum, 10);
    int seen = 0;
    locked_for_each(py, l, [&](const Bound<PyAny> &) {  // shrinking stops the loop safely
        ++seen;
        PySequence_DelItem(l.as_ptr(), PyList_GET_SIZE(l.as_ptr()) - 1);
    });
    EXPECT_EQ(seen, 2);
    for (const auto &item : new_list(py)) ADD_FAILURE() << "empty list yielded " << item.as_ptr();
}

// ------------------------------------------------------------------ PyTuple

TEST(TupleView, BuildGetUnpackIterate)
{
    auto guard = attach();
    auto py = guard.py();
    auto inner = new_list(py);
    const Py_ssize_t start = refcnt(inner.as_ptr());
    {
        auto t = make_tuple(py, 1, "b", inner, inner.as_borrowed());
        EXPECT_EQ(refcnt(inner.as_ptr()), start + 2) << "views go in with one reference each";
        EXPECT_EQ(t.len(), 4u);
        EXPECT_EQ(t.get_item(1).extract<std::string>(), "b");
        EXPECT_TRUE(t.get_borrowed_item(2).is(inner));
        auto [a, b, c, d] = t.unpack<4>();
        EXPECT_EQ(a.extract<int>(), 1);
        EXPECT_TRUE(d.is(inner));
        expect_raises(py, PyExc_ValueError, [&] { t.unpack<3>(); }, "unpack wrong length");
        expect_raises(py, PyExc_IndexError, [&] { t.get_item(4); }, "tuple index");
        expect_raises(py, PyExc_IndexError, [&] { t.get_borrowed_item(-1); }, "tuple index -1");
        int count = 0;
        for (const auto &item : t) count += item.is(inner);
        EXPECT_EQ(count, 2);
        EXPECT_EQ(t.to_list().len(), 4u);
    }
    EXPECT_EQ(refcnt(inner.as_ptr()), start);
    EXPECT_TRUE(make_tuple(py).is_empty());
}

// ------------------------------------------------------------------ scalars, text, module

TEST(ScalarViews, StringBytesIntFloatBoolNone)
{
    auto guard = attach();
    auto py = guard.py();
    auto s = new_string(py, "h\xc3\xa9llo");
    EXPECT_EQ(s.to_string_view(), "h\xc3\xa9llo");
    EXPECT_EQ(s.len(), 5u) << "code points";
    EXPECT_EQ(s.to_string(), "h\xc3\xa9llo");
    expect_raises(py, PyExc_UnicodeDecodeError, [&] { new_string(py, "\xc3("); }, "invalid UTF-8");
    auto surrogate = eval(py, "'\\ud800'").cast<PyString>();
    expect_raises(py, PyExc_UnicodeEncodeError, [&] { surrogate.to_string(); }, "lone surrogate");
    auto a = intern_string(py, "pyo3cpp_interned_name");
    auto b = intern_string(py, "pyo3cpp_interned_name");
    EXPECT_TRUE(a.is(b));
    EXPECT_TRUE(a.is(intern<"pyo3cpp_interned_name">(py)));
    expect_raises(py, PyExc_UnicodeDecodeError, [&] { intern_string(py, "\xff"); }, "intern bad");

    auto bytes = new_bytes(py, std::string_view("a\0b", 3));
    EXPECT_EQ(bytes.as_bytes(), std::string_view("a\0b", 3));
    EXPECT_EQ(bytes.len(), 3u);
    EXPECT_EQ(bytes.to_string().size(), 3u);

    EXPECT_EQ(new_int(py, -5).value<int>(), -5);
    EXPECT_EQ(new_int(py, std::uint64_t{1} << 63).value<std::uint64_t>(), std::uint64_t{1} << 63);
    expect_raises(py, PyExc_OverflowError, [&] { new_int(py, 300).value<std::int8_t>(); }, "int8");
    EXPECT_EQ(new_float(py, 2.5).value(), 2.5);
    EXPECT_TRUE(new_bool(py, true).value());
    EXPECT_FALSE(new_bool(py, false).value());
    EXPECT_TRUE(py.none().is_none());
    auto none_type = py.none().get_type();
    EXPECT_EQ(none_type.name().to_string(), "NoneType");
}

TEST(ModuleView, ImportAddObjectNameDict)
{
    auto guard = attach();
    auto py = guard.py();
    auto json = import(py, "json");
    EXPECT_EQ(json.name().to_string(), "json");
    EXPECT_TRUE(json.dict().contains("dumps"));
    auto types = import(py, "types");
    auto mod = types.getattr("ModuleType").call("pyo3cpp_scratch").cast<PyModule>();
    mod.add_object("VERSION", "1.0");
    EXPECT_EQ(mod.getattr("VERSION").extract<std::string>(), "1.0");
    expect_raises(py, PyExc_ModuleNotFoundError, [&] { import(py, "pyo3cpp_no_such_module"); },
                  "missing module");
    expect_raises(py, PyExc_TypeError, [&] { json.as_any().cast<PyDict>(); }, "cast module to dict");
}

// ------------------------------------------------------------------ compat shims

TEST(Compat, StrongReferenceLookups)
{
    auto guard = attach();
    auto py = guard.py();
    auto d = new_dict(py);
    d.set_item("a", 1);
    PyObject *out = nullptr;
    EXPECT_EQ(compat::dict_get_item_string_ref(d.as_ptr(), "a", &out), 1);
    Py_XDECREF(out);
    EXPECT_EQ(compat::dict_get_item_string_ref(d.as_ptr(), "b", &out), 0);
    EXPECT_EQ(out, nullptr);
    auto l = new_list(py);
    EXPECT_EQ(compat::list_get_item_ref(l.as_ptr(), 0), nullptr);
    EXPECT_TRUE(PyErr_ExceptionMatches(PyExc_IndexError));
    PyErr_Clear();
    EXPECT_EQ(compat::list_get_item_ref(d.as_ptr(), 0), nullptr);
    EXPECT_TRUE(PyErr_Occurred());
    PyErr_Clear();

    ASSERT_TRUE(pyo3cpp_test::run_python("class Weak:\n    pass\n"));
    auto obj = eval(py, "Weak()");
    auto ref = Bound<PyAny>::from_owned_ptr(py, PyWeakref_NewRef(obj.as_ptr(), nullptr));
    EXPECT_EQ(compat::weakref_get_ref(ref.as_ptr(), &out), 1);
    EXPECT_EQ(out, obj.as_ptr());
    Py_DECREF(out);
    obj = py.none();
    EXPECT_EQ(compat::weakref_get_ref(ref.as_ptr(), &out), 0);
    EXPECT_EQ(compat::weakref_get_ref(d.as_ptr(), &out), -1);
    EXPECT_TRUE(PyErr_ExceptionMatches(PyExc_TypeError));
    PyErr_Clear();

    auto module = Bound<PyAny>::from_owned_ptr(py, compat::import_add_module_ref("pyo3cpp_added"));
    EXPECT_TRUE(module.is_instance_of<PyModule>());
    EXPECT_EQ(compat::object_get_optional_attr_string(module.as_ptr(), "nope", &out), 0);
    EXPECT_FALSE(PyErr_Occurred());

    auto key = new_string(py, "k");
    auto dflt = new_int(py, 5);
    EXPECT_EQ(compat::dict_set_default_ref(d.as_ptr(), key.as_ptr(), dflt.as_ptr(), &out), 0);
    Py_DECREF(out);
    EXPECT_EQ(compat::dict_set_default_ref(d.as_ptr(), key.as_ptr(), dflt.as_ptr(), &out), 1);
    Py_DECREF(out);
    EXPECT_EQ(compat::dict_pop(d.as_ptr(), key.as_ptr(), nullptr), 1);
    EXPECT_EQ(compat::dict_pop(d.as_ptr(), key.as_ptr(), nullptr), 0);
}

}  // namespace
