"""The part of psutil that upstream's kinfamtest reads (Process().memory_info().vms), for
interpreters without psutil (the free-threaded 3.13 built here has no third-party packages).
Linux only: the virtual size is /proc/self/statm's first field, in pages, as psutil reads it."""
import collections
import os

_Memory = collections.namedtuple("_Memory", "rss vms")


class Process:
    def memory_info(self):
        with open("/proc/self/statm") as f:
            size, resident = (int(x) for x in f.read().split()[:2])
        page = os.sysconf("SC_PAGE_SIZE")
        return _Memory(rss=resident * page, vms=size * page)
