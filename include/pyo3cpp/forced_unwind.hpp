// forced_unwind.hpp — letting CPython end a thread through C++ frames.
//
// When a daemon thread (or a foreign thread) re-attaches after finalisation has begun, CPython
// 3.11-3.13 ends it with pthread_exit(), which unwinds the thread's stack like an exception
// ("forced unwind"). Every frame on the way must let it pass: a `catch (...)` that does not
// rethrow it, or a noexcept function it crosses, turns a quiet thread exit into
// std::terminate() — the whole process aborts during shutdown.
//
//   try { ... } PYO3CPP_CATCH_ALL { translate(); }    // instead of catch (...)
//
// PYO3CPP_CATCH_ALL is `catch (...)` preceded by a clause that rethrows the forced unwind
// (libstdc++'s abi::__forced_unwind). libc++ has no name for it, so there the macro is a plain
// `catch (...)` (a known gap: the shutdown tests build with libstdc++).
// Rule for the library's headers: no re-attach in a destructor (destructors are noexcept),
// every catch-all through this macro.
#pragma once

#if defined(__GLIBCXX__)
#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include <cxxabi.h>
#define PYO3CPP_CATCH_ALL                 \
    catch (::abi::__forced_unwind &) {    \
        throw;                            \
    }                                     \
    catch (...)
#else
#define PYO3CPP_CATCH_ALL catch (...)
#endif
