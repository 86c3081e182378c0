"""pyo3cpp.stubgen: writes .pyi stubs for built extension modules (docs/stubs.md).

    python -m pyo3cpp.stubgen MODULE [MODULE...] -o OUTDIR
    python3 path/to/pyo3cpp/stubgen.py MODULE [MODULE...] -o OUTDIR   (no installed package)

Imports each module and writes OUTDIR/<module>.pyi, or, for a module with submodules, the
package layout mypy (and its stubtest) reads: OUTDIR/<module>/__init__.pyi and
OUTDIR/<module>/<sub>.pyi (a dotted MODULE goes to OUTDIR/<a>/<b>.pyi).

What the stubs say:
  - functions defined with ModuleDef::def / def_raw(name, callable): their typed signature, as
    the runtime reports it (pyo3cpp_function_signature, abi/pyo3cpp.h): parameter kinds,
    defaults and the type hints of the C++ conversions (list[str], int | None, enum names...);
  - any other built-in function: its __text_signature__ with untyped parameters, or
    (*args: Any, **kwargs: Any) -> Any when it has none;
  - classes bound with ClassDef (class.hpp): `class Name(Base):` (Base when __base__ is another
    class), __init__, methods, @staticmethod and @classmethod functions, @property with the
    getter's type (and a setter for read-write ones), the special methods the class defines
    (__len__, __iter__, __getitem__, __eq__, __hash__, ...), all typed as the runtime reports
    them (pyo3cpp_function_signature, pyo3cpp_class_member_signature); __hash__ = None (an
    __eq__ without __hash__) as `__hash__: ClassVar[None]`. Other classes: their public
    callables, from their text signatures;
  - enum.Enum / enum.IntEnum subclasses with their members; exception classes with their base;
  - constants: the type of the value (NAME: int);
  - submodules as `from . import sub as sub`;
  - docstrings: the docs of functions, methods, classes, exception classes and properties (an
    overload set's on its first @overload), unless --no-docstrings.
Names the module imported from elsewhere (objects whose __module__ is another module, modules
that are not its submodules) and private names are left out, as stubtest expects. Output order:
classes, constants, functions, submodules, each in the module's definition order.

Standard library only, and no import of the pyo3cpp package itself: it runs as a plain script
from a source tree against modules in a build tree.
"""
import argparse
import ast
import builtins
import ctypes
import enum
import importlib
import inspect
import keyword
import os
import sys
import types

__all__ = ["generate", "main", "member_signature", "typed_signature"]

_LINE = 99   # longer definitions are written one parameter per line

# Type-hint words of the runtime's conversions that are not Python type expressions.
_HINT_WORDS = {
    "module": ("types", "ModuleType", None),
    "iterator": ("collections.abc", "Iterator", 1),
    "sequence": ("collections.abc", "Sequence", 1),
    "mapping": ("collections.abc", "Mapping", 2),
    # Any buffer exporter (include/pyo3cpp/buffer.hpp): typeshed's alias, which names
    # collections.abc.Buffer where the type checker knows it (3.12) and the buffer types before.
    "buffer": ("_typeshed", "ReadableBuffer", None),
}
# Special methods reached through type slots: their runtime signatures are positional-only.
# Unnamed parameters (arg0, arg1) get the names Python's own documentation uses; `kind` fixes
# what the slot itself returns, whatever the C++ function's result converts from.
_SLOT_PARAMS = {
    "__getitem__": ["key"], "__setitem__": ["key", "value"], "__delitem__": ["key"],
    "__contains__": ["item"],
    **{op: ["other"] for op in ("__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__")},
}
_SLOT_RETURNS = {"__len__": "int", "__hash__": "int", "__bool__": "bool", "__contains__": "bool",
                 "__setitem__": "None", "__delitem__": "None"}
_TPFLAGS_BASETYPE = 1 << 10   # Py_TPFLAGS_BASETYPE: the class can be subclassed
_BUILTIN_TYPES = {name for name, value in vars(builtins).items() if isinstance(value, type)}


# --- the runtime's typed signatures ---------------------------------------------------------

_signature_fn = False   # not looked up yet
_member_fn = False


def _runtime_library():
    """Path of the loaded pyo3cpp runtime (libpyo3cpp-<tag>.so.<abi>), or None."""
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.split()[-1] if line.strip() else ""
                if os.path.basename(path).startswith("libpyo3cpp-") and ".so" in path:
                    return path
    except OSError:
        pass
    package = sys.modules.get("pyo3cpp")
    if package is not None and hasattr(package, "library_path"):
        return package.library_path()
    return None


def _runtime_function(name, argtypes):
    """The loaded runtime's function `name` returning an object, or None (no runtime loaded,
    or an older one without it)."""
    path = _runtime_library()
    if path is None:
        return None
    # PyDLL: the call keeps the GIL (the functions need an attached thread).
    mode = getattr(os, "RTLD_NOLOAD", 0) | getattr(os, "RTLD_NOW", 0)
    try:
        fn = getattr(ctypes.PyDLL(path, mode=mode), name)
    except (OSError, AttributeError):
        return None
    fn.restype = ctypes.py_object
    fn.argtypes = argtypes
    return fn


def _signature_function():
    global _signature_fn
    if _signature_fn is False:
        _signature_fn = _runtime_function("pyo3cpp_function_signature", [ctypes.py_object])
    return _signature_fn


def typed_signature(func):
    """The runtime's typed signature text of a pyo3cpp function or method (a built-in function
    or a method descriptor), e.g. "(a: int, /) -> int" (a method's without self), or None for any
    other callable."""
    if not isinstance(func, (types.BuiltinFunctionType, types.MethodDescriptorType)):
        return None
    fn = _signature_function()
    return None if fn is None else fn(func)


def member_signature(cls, name):
    """The runtime's typed signature text of member `name` of the bound class `cls` when it is
    not a method descriptor: "__init__", a special method ("() -> int" for "__len__"), or a
    property ("() -> int" read-only, "(value: int, /) -> int" read-write); None otherwise."""
    global _member_fn
    if _member_fn is False:
        _member_fn = _runtime_function("pyo3cpp_class_member_signature",
                                       [ctypes.py_object, ctypes.c_char_p])
    if _member_fn is None or not isinstance(cls, type):
        return None
    return _member_fn(cls, name.encode())


# --- one module -----------------------------------------------------------------------------

_IN_PLACE = {"__iadd__", "__isub__", "__imul__", "__imatmul__", "__itruediv__", "__ifloordiv__",
             "__imod__", "__ipow__", "__ilshift__", "__irshift__", "__iand__", "__ior__", "__ixor__"}


def _is_in_place(name):
    return name in _IN_PLACE


def _is_simple_literal(value):
    if value is None or isinstance(value, (bool, int, float, str, bytes)):
        return not isinstance(value, float) or value == value and value not in (
            float("inf"), float("-inf"))
    return False


def _docstring(doc, name=None):
    """The docstring a stub carries for `doc` (a __doc__): None when there is none; the lines an
    overload set (or a class with several constructors) starts with, its signatures
    "name(...)", are left out."""
    if not isinstance(doc, str):
        return None
    lines = doc.split("\n")
    while name is not None and lines and lines[0].startswith(name + "("):
        lines.pop(0)
    text = "\n".join(lines).strip()
    return text or None


def _docstring_lines(doc):
    """A docstring as the indented lines of a body."""
    text = doc.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    if text.endswith('"'):
        text = text[:-1] + '\\"'
    lines = text.split("\n")
    if len(lines) == 1:
        return [f'    """{text}"""']
    return [f'    """{lines[0]}'] + [f"    {line}" if line else "" for line in lines[1:]] + ['    """']


def _is_descriptor(value):
    return hasattr(type(value), "__get__") or hasattr(type(value), "__set__")


def _is_submodule(module, name, value):
    return (isinstance(value, types.ModuleType) and value.__name__ == f"{module.__name__}.{name}"
            and sys.modules.get(value.__name__) is value)


def _belongs(module, value):
    """stubtest's rule: a class or function whose __module__ names another module is an import."""
    if isinstance(value, types.ModuleType):
        return False
    if callable(value):
        owner = getattr(value, "__module__", None)
        if isinstance(owner, str):
            return owner == module.__name__
    return True


def _public_names(module):
    names = list(vars(module))
    exported = getattr(module, "__all__", None)
    if exported is not None:
        return [name for name in exported if hasattr(module, name)]
    return [name for name in names if not name.startswith("_")]


class _ModuleStub:
    def __init__(self, module, all_modules, docstrings=True):
        self.module = module
        self.docstrings = docstrings     # False: no docstrings in the stub
        self.name = module.__name__
        self.all_modules = all_modules   # name -> module, for names defined in a sibling
        self.imports = set()             # "import x" lines
        self.from_imports = {}           # module -> set of names
        self.local_classes = set()
        self.warnings = []

    # names used in type expressions ----------------------------------------------------------
    def _from(self, module, name):
        self.from_imports.setdefault(module, set()).add(name)
        return ast.Name(name)

    def _any(self):
        return self._from("typing", "Any")

    def _qualified(self, cls):
        """A type expression naming class `cls` from this stub."""
        owner, qualname = cls.__module__, cls.__qualname__
        if owner == "builtins":
            return qualname
        if owner == self.name:
            return qualname
        self.imports.add(owner)
        return f"{owner}.{qualname}"

    def _find_class(self, name):
        """A class called `name` in this module, its parents or its submodules (an enum or
        exception class named by a type hint), as a type expression; None if there is none."""
        if name in self.local_classes:
            return ast.Name(name)
        for other_name in sorted(self.all_modules):
            value = getattr(self.all_modules[other_name], name, None)
            if isinstance(value, type) and value.__module__ == other_name:
                self.imports.add(other_name)
                return ast.Attribute(ast.Name(other_name), name)
        return None

    def _rewrite(self, node):
        """A runtime type hint (an ast expression) as a stub type expression."""
        stub = self

        class Rewriter(ast.NodeTransformer):
            def visit_Name(self, n):
                if n.id in _BUILTIN_TYPES:
                    return n
                if n.id == "Any":
                    return stub._any()
                word = _HINT_WORDS.get(n.id)
                if word is not None:
                    module, attr, arity = word
                    if module == "collections.abc":
                        target = stub._from(module, attr)
                    else:
                        stub.imports.add(module)
                        target = ast.Attribute(ast.Name(module), attr)
                    if arity is None:
                        return target
                    args = [stub._any() for _ in range(arity)]
                    return ast.Subscript(target, args[0] if arity == 1 else ast.Tuple(args))
                found = stub._find_class(n.id)
                if found is not None:
                    return found
                stub.warnings.append(f"{stub.name}: unknown type {n.id!r} written as Any")
                return stub._any()

            def visit_Attribute(self, n):
                dotted = ast.unparse(n)
                root = n
                while isinstance(root, ast.Attribute):
                    root = root.value
                if isinstance(root, ast.Name) and root.id in stub.local_classes:
                    return n   # a class nested in one of this module's: Joint.JointType
                owner = dotted.rpartition(".")[0]
                try:
                    importlib.import_module(owner)
                except ImportError:
                    pass
                else:
                    stub.imports.add(owner)
                    return n
                stub.warnings.append(f"{stub.name}: unknown type {dotted!r} written as Any")
                return stub._any()

        return Rewriter().visit(node)

    def _default(self, node):
        """A default's source text if a stub can hold it, else `...`."""
        for sub in ast.walk(node):
            if isinstance(sub, (ast.Constant, ast.UnaryOp, ast.USub, ast.UAdd, ast.Tuple,
                                ast.Load)):
                continue
            if isinstance(sub, (ast.Name, ast.Attribute)):
                root = sub
                while isinstance(root, ast.Attribute):
                    root = root.value
                if isinstance(root, ast.Name) and root.id in self.local_classes:
                    continue
            return "..."
        return ast.unparse(node)

    # functions -------------------------------------------------------------------------------
    def _render_def(self, name, params, returns, doc=None):
        one_line = f"def {name}({', '.join(params)}) -> {returns}: ..."
        if len(one_line) <= _LINE or not params:
            lines = [one_line]
        else:
            lines = [f"def {name}("] + [f"    {p}," for p in params] + [f") -> {returns}: ..."]
        if doc and self.docstrings:
            lines[-1] = lines[-1][:-len(" ...")]
            lines += _docstring_lines(doc)
        return lines

    def _typed_params(self, text, first=None, slot=None):
        """Parameters and return of a runtime signature text, rewritten for the stub. `first`:
        a leading parameter to add (self, cls); `slot`: the special method's name when the
        runtime reaches it through a type slot (its parameters are positional-only)."""
        tree = ast.parse(f"def f{text}: ...").body[0]
        a = tree.args
        if slot is not None and slot not in ("__init__", "__call__"):
            a.posonlyargs, a.args = a.posonlyargs + a.args, []
            keys = len(a.posonlyargs) - (1 if slot == "__setitem__" else 0)
            if slot in ("__getitem__", "__setitem__", "__delitem__") and keys > 1:
                # Several key parameters take a tuple key's items (r[0, 1]): one tuple key.
                items = [arg.annotation or ast.Name("object") for arg in a.posonlyargs[:keys]]
                a.posonlyargs[:keys] = [ast.arg("key", ast.Subscript(ast.Name("tuple"),
                                                                     ast.Tuple(items)))]
                a.defaults = []
            for arg, better in zip(a.posonlyargs, _SLOT_PARAMS.get(slot, [])):
                if arg.arg.startswith("arg") and arg.arg[3:].isdigit():
                    arg.arg = better
            if slot in ("__eq__", "__ne__"):   # any object compares (NotImplemented: identity)
                for arg in a.posonlyargs:
                    arg.annotation = ast.Name("object")
            if slot in _SLOT_RETURNS:
                kind = _SLOT_RETURNS[slot]
                tree.returns = ast.Constant(None) if kind == "None" else ast.Name(kind)
        if first is not None:
            if a.posonlyargs:
                a.posonlyargs.insert(0, ast.arg(first))
            else:
                a.args.insert(0, ast.arg(first))

        def one(arg, default=None, prefix=""):
            out = prefix + arg.arg
            if arg.annotation is not None:
                out += ": " + ast.unparse(self._rewrite(arg.annotation))
            if default is not None:
                out += (" = " if arg.annotation is not None else "=") + self._default(default)
            return out

        positional = a.posonlyargs + a.args
        defaults = [None] * (len(positional) - len(a.defaults)) + list(a.defaults)
        params = [one(arg, d) for arg, d in zip(positional, defaults)]
        if a.posonlyargs:
            params.insert(len(a.posonlyargs), "/")
        if a.vararg is not None:
            params.append(one(a.vararg, prefix="*"))
        elif a.kwonlyargs:
            params.append("*")
        params += [one(arg, d) for arg, d in zip(a.kwonlyargs, a.kw_defaults)]
        if a.kwarg is not None:
            params.append(one(a.kwarg, prefix="**"))
        returns = ast.unparse(self._rewrite(tree.returns)) if tree.returns else "Any"
        if tree.returns is None:
            self._any()
        return params, returns

    def _untyped_params(self, sig):
        params, kind_before = [], None
        for p in sig.parameters.values():
            if kind_before == p.POSITIONAL_ONLY and p.kind != p.POSITIONAL_ONLY:
                params.append("/")
            if p.kind == p.KEYWORD_ONLY and kind_before not in (p.KEYWORD_ONLY, p.VAR_POSITIONAL):
                params.append("*")
            if p.kind == p.VAR_POSITIONAL:
                params.append("*" + p.name)
            elif p.kind == p.VAR_KEYWORD:
                params.append("**" + p.name)
            elif p.default is p.empty:
                params.append(p.name)
            else:
                params.append(p.name + "=" + (repr(p.default) if _is_simple_literal(p.default)
                                              else "..."))
            kind_before = p.kind
        if kind_before == inspect.Parameter.POSITIONAL_ONLY:
            params.append("/")
        return params

    def _overloads(self, text, render, decorators=(), doc=None):
        """The definitions for a runtime signature text: one line is one signature; several
        lines are the signatures of an overload set, each written as an `@overload`.
        `render(line, doc)` writes one `def`; `decorators` go before each def; `doc` goes in
        the first."""
        lines = text.split("\n")
        if len(lines) == 1:
            return list(decorators) + render(text, doc)
        overload = "@" + self._from("typing", "overload").id
        out = []
        for index, line in enumerate(lines):
            item = render(line, doc if index == 0 else None)
            if index > 0:
                # The runtime tries every overload with exact types first (an int goes to an
                # int overload written after a float one); a type checker takes the first that
                # fits, int promoted to float, and reports the later ones as never matched or
                # overlapping. The order is the runtime's: keep it and say so.
                item[0] += "  # type: ignore[misc, overload-overlap, overload-cannot-match]"
            out += [overload, *decorators] + item
        return out

    def function(self, name, func, first=None, decorators=()):
        """`first`: a leading parameter the signature does not show (cls of a classmethod).
        `decorators`: lines written before each def (@staticmethod)."""
        text = typed_signature(func)
        if text is not None:
            doc = _docstring(getattr(func, "__doc__", None), name)
            return self._overloads(
                text, lambda line, d: self._render_def(name, *self._typed_params(line, first), d),
                decorators, doc)
        try:
            sig = inspect.signature(func) if getattr(func, "__text_signature__", None) else None
        except (ValueError, TypeError):
            sig = None
        self._any()
        lead = [first] if first is not None else []
        if sig is None:
            return list(decorators) + self._render_def(name, lead + ["*args: Any", "**kwargs: Any"], "Any")
        return list(decorators) + self._render_def(name, lead + self._untyped_params(sig), "Any")

    # classes ---------------------------------------------------------------------------------
    def enum_class(self, name, cls):
        self.imports.add("enum")
        base = "enum.Enum"
        for kind in ("IntEnum", "StrEnum", "IntFlag", "Flag"):   # most specific first
            if hasattr(enum, kind) and issubclass(cls, getattr(enum, kind)):
                base = "enum." + kind
                break
        lines = [f"class {name}({base}):"]
        for member_name, member in cls.__members__.items():
            if not self._writable(f"{cls.__qualname__}.{member_name}", member_name):
                continue
            value = member.value
            lines.append(f"    {member_name} = "
                         + (repr(value) if _is_simple_literal(value) else "..."))
        if len(lines) == 1:
            lines[0] += " ..."
        return lines

    def _writable(self, where, name):
        """Whether a stub can spell `name` (an enum member or class attribute named None or
        another keyword cannot be written; it is left out with a warning)."""
        if name.isidentifier() and not keyword.iskeyword(name):
            return True
        self.warnings.append(f"{self.name}: {where} is not a Python identifier; left out")
        return False

    def exception_class(self, name, cls):
        bases = ", ".join(self._qualified(b) for b in cls.__bases__)
        doc = _docstring(cls.__doc__)
        if doc and self.docstrings:
            return [f"class {name}({bases}):"] + _docstring_lines(doc)
        return [f"class {name}({bases}): ..."]

    def _method(self, name, text, first, slot=None, doc=None):
        render = lambda line, d: self._render_def(name, *self._typed_params(line, first, slot), d)
        lines = text.split("\n")
        if len(lines) > 1:
            # Overloads a stub renders alike (__eq__'s operand is always `object`) are one def.
            seen, kept = set(), []
            for line in lines:
                key = tuple(render(line, None))
                if key not in seen:
                    seen.add(key)
                    kept.append(line)
            text = "\n".join(kept)
        out = self._overloads(text, render, doc=doc)
        if slot is not None and len(text.split("\n")) > 1 and _is_in_place(slot):
            # mypy checks an in-place operator against its binary one signature by signature,
            # which overload sets of both rarely satisfy; the runtime's pairing is the class's.
            out[0] += "  # type: ignore[misc]"
        return out

    def other_class(self, name, cls):
        bases = [b for b in cls.__bases__ if b is not object]
        head = f"class {name}({', '.join(self._qualified(b) for b in bases)})" if bases else \
            f"class {name}"
        own = vars(cls)
        init, methods, properties, specials, nested, attributes = [], [], [], [], [], []
        text = member_signature(cls, "__init__")
        if text is not None:
            def one_init(line, _doc):
                params, returns = self._typed_params(line, "self", "__init__")
                if params == ["self"] and "\n" not in text:
                    # The slot's runtime signature is (self, /, *args, **kwargs), which stubtest
                    # wants a stub to match: arguments typed Never say "none accepted" to a type
                    # checker.
                    never = self._from("typing" if sys.version_info >= (3, 11)
                                       else "typing_extensions", "Never").id
                    params += [f"*args: {never}", f"**kwargs: {never}"]
                return self._render_def("__init__", params, returns)
            init = self._overloads(text, one_init)
        for attr, value in own.items():
            special = attr.startswith("__") and attr.endswith("__")
            if attr == "__init__" or (attr.startswith("_") and not special):
                continue
            if isinstance(value, types.WrapperDescriptorType):       # a type slot
                text = member_signature(cls, attr)
                if text is not None:
                    specials += self._method(attr, text, "self", attr)
            elif isinstance(value, types.GetSetDescriptorType):      # a property
                text = member_signature(cls, attr)
                if text is not None:
                    properties += self._property(attr, text, _docstring(value.__doc__))
            elif isinstance(value, staticmethod):
                if not special or typed_signature(value.__func__) is not None:
                    methods += self.function(attr, value.__func__,
                                             decorators=["@staticmethod"])
            elif isinstance(value, (classmethod, types.ClassMethodDescriptorType)):
                bound = getattr(cls, attr)   # a method bound to the class: the runtime knows it
                if not special or typed_signature(bound) is not None:
                    methods += self.function(attr, bound, "cls", decorators=["@classmethod"])
            elif isinstance(value, type) and issubclass(value, enum.Enum) and not special \
                    and value.__qualname__ == f"{cls.__qualname__}.{attr}" \
                    and value.__module__ == self.name:                # an enum nested in it
                nested += self.enum_class(attr, value)
            elif not special and not callable(value) and not _is_descriptor(value):
                if not self._writable(f"{cls.__qualname__}.{attr}", attr):
                    continue
                constant = self.constant(attr, value)[0]           # a class attribute
                name, _, hint = constant.partition(": ")
                attributes.append(f"{name}: {self._from('typing', 'ClassVar').id}[{hint}]")
            elif attr == "__hash__" and value is None:
                specials.append(f"__hash__: {self._from('typing', 'ClassVar').id}[None]"
                                "  # type: ignore[assignment]")
            elif callable(value):
                text = typed_signature(value)
                if text is not None:
                    doc = None if special else _docstring(value.__doc__, attr)
                    (specials if special else methods).extend(self._method(attr, text, "self",
                                                                           doc=doc))
                elif not special:
                    methods += self.function(attr, value)
        doc = _docstring(cls.__doc__, cls.__name__)
        docstring = _docstring_lines(doc) if doc and self.docstrings else []
        body = docstring + ["    " + line if line else ""
                            for line in nested + attributes + init + methods + properties + specials]
        final = []
        if not cls.__flags__ & _TPFLAGS_BASETYPE:   # cannot be subclassed
            final = ["@" + self._from("typing", "final").id]
        return final + [head + ":"] + body if body else final + [head + ": ..."]

    def _property(self, name, text, doc=None):
        params, returns = self._typed_params(text)
        lines = ["@property"] + self._render_def(name, ["self"], returns, doc)
        if params:   # "value: T", "/"
            lines += [f"@{name}.setter", f"def {name}(self, {params[0]}) -> None: ..."]
        return lines

    # constants -------------------------------------------------------------------------------
    def constant(self, name, value):
        cls = type(value)
        if value is None:
            hint = "None"
        elif cls.__module__ == "builtins" and getattr(builtins, cls.__qualname__, None) is cls:
            hint = cls.__qualname__
        elif cls.__module__ == self.name:
            hint = cls.__qualname__
        else:
            owner = sys.modules.get(cls.__module__)
            if owner is not None and getattr(owner, cls.__qualname__, None) is cls:
                self.imports.add(cls.__module__)
                hint = f"{cls.__module__}.{cls.__qualname__}"
            else:
                self._any()
                hint = "Any"
        return [f"{name}: {hint}"]

    # the whole module ------------------------------------------------------------------------
    def render(self):
        module = self.module
        classes, constants, functions, submodules = [], [], [], []
        names = _public_names(module)
        # Class names first, so that hints and defaults can name classes defined below them.
        self.local_classes = {n for n in names if isinstance(getattr(module, n), type)
                              and _belongs(module, getattr(module, n))}
        for name in names:
            value = getattr(module, name)
            if _is_submodule(module, name, value):
                submodules.append(name)
            elif not _belongs(module, value):
                continue
            elif isinstance(value, type):
                if issubclass(value, enum.Enum):
                    classes.append(self.enum_class(name, value))
                elif issubclass(value, BaseException):
                    classes.append(self.exception_class(name, value))
                else:
                    classes.append(self.other_class(name, value))
            elif callable(value):
                functions.append(self.function(name, value))
            else:
                constants.append(self.constant(name, value))

        out = [f"# Generated by pyo3cpp.stubgen from the module {self.name}. Do not edit."]
        head = sorted(f"import {m}" for m in self.imports if m != self.name)
        head += [f"from {m} import {', '.join(sorted(n))}"
                 for m, n in sorted(self.from_imports.items())]
        head += [f"from . import {s} as {s}" for s in submodules]
        if head:
            out += [""] + head
        if getattr(module, "__all__", None) is not None:
            out += ["", "__all__ = [" + ", ".join(repr(n) for n in module.__all__) + "]"]
        for block in classes:
            out += ["", *block] if len(block) > 1 or not out[-1].startswith("class ") \
                else block
        if constants:
            out.append("")
            out += [line for block in constants for line in block]
        if functions:
            out.append("")
            out += [line for block in functions for line in block]
        return "\n".join(out) + "\n"


def _submodules(module):
    found = []
    for name in sorted(vars(module)):
        value = getattr(module, name)
        if _is_submodule(module, name, value):
            found.append(value)
    return found


def _import(module_name):
    try:
        return importlib.import_module(module_name)
    except ImportError as e:
        # An extension built against the pyo3cpp wheel records only the runtime's file name
        # (no RUNPATH): the runtime package loads it. Imported only then, so that a build tree's
        # runtime is never shadowed by an installed one.
        if "libpyo3cpp-" not in str(e) or "pyo3cpp" in sys.modules:
            raise
        try:
            importlib.import_module("pyo3cpp")
        except ImportError:
            raise e from None
        return importlib.import_module(module_name)


def generate(module_name, warn=None, docstrings=True):
    """{relative path: stub text} for module `module_name` and its submodules (imported now);
    `docstrings`: the functions', classes' and properties' docs as docstrings."""
    root = _import(module_name)
    modules = {}

    def collect(module):
        modules[module.__name__] = module
        for sub in _submodules(module):
            collect(sub)

    collect(root)
    files = {}
    for name, module in modules.items():
        parts = name.split(".")
        if _submodules(module):
            path = os.path.join(*parts, "__init__.pyi")
        else:
            path = os.path.join(*parts[:-1], parts[-1] + ".pyi")
        stub = _ModuleStub(module, modules, docstrings)
        files[path] = stub.render()
        for message in stub.warnings:
            (warn or (lambda m: print("stubgen: warning: " + m, file=sys.stderr)))(message)
    return files


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m pyo3cpp.stubgen",
        description="Write .pyi stubs for extension modules built with pyo3cpp.")
    parser.add_argument("modules", nargs="+", metavar="MODULE", help="module to import")
    parser.add_argument("-o", "--output", default=".", metavar="OUTDIR",
                        help="directory for the stubs (default: the current directory)")
    parser.add_argument("-q", "--quiet", action="store_true", help="do not list the files")
    parser.add_argument("--no-docstrings", action="store_true",
                        help="leave the docs out (every body is `...`)")
    args = parser.parse_args(argv)
    written = []
    for name in args.modules:
        try:
            files = generate(name, docstrings=not args.no_docstrings)
        except ImportError as e:
            print(f"stubgen: cannot import {name}: {e}", file=sys.stderr)
            return 1
        for relative, text in sorted(files.items()):
            path = os.path.join(args.output, relative)
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
            with open(path, "w", encoding="utf-8", newline="\n") as f:
                f.write(text)
            written.append(path)
    os.makedirs(args.output, exist_ok=True)
    os.utime(args.output)   # a build tool that names OUTDIR as its output sees it renewed
    if not args.quiet:
        for path in written:
            print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
