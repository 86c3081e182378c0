"""The README's example extensions behave as the README says, on both builds."""
import pathlib
import re
import subprocess
import sys
import sysconfig
import threading
import time
import unittest

import quickstart
import quickstart_c


class QuickstartCppTest(unittest.TestCase):
    def test_count_long_words(self):
        words = ["free", "threaded", "python", "is", "here"]
        self.assertEqual(quickstart.count_long_words(words), 2)
        self.assertEqual(quickstart.count_long_words(words, min_len=4), 4)
        self.assertEqual(quickstart.count_long_words(words, 2), 5)

    def test_argument_errors_name_the_function_and_argument(self):
        with self.assertRaisesRegex(TypeError, r"count_long_words\(\) argument 'words' must be list"):
            quickstart.count_long_words("not a list")
        with self.assertRaises(TypeError):
            quickstart.count_long_words([1, 2])  # items must be str
        with self.assertRaisesRegex(TypeError, "unexpected keyword argument 'nope'"):
            quickstart.count_long_words([], nope=1)

    def test_stopwords_is_built_once_and_shared_by_threads(self):
        seen = []
        barrier = threading.Barrier(8)

        def worker():
            barrier.wait()
            seen.append(quickstart.stopwords())

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(seen[0], frozenset({"a", "an", "the"}))
        self.assertTrue(all(s is seen[0] for s in seen))

    def test_nap_lets_other_threads_run(self):
        ticks = []
        stop = threading.Event()

        def ticker():
            while not stop.is_set():
                ticks.append(1)
                time.sleep(0.001)

        t = threading.Thread(target=ticker)
        t.start()
        quickstart.nap(0.2)
        stop.set()
        t.join()
        self.assertGreater(len(ticks), 10)

    def test_nap_rejects_bad_durations_before_sleeping(self):
        # inf used to return at once, 1e10 to sleep (practically) forever, -1 and nan to do
        # whatever std::chrono made of them. Each must be refused before the thread detaches.
        # A child process per value, so a nap that sleeps instead fails the test, not hangs it.
        script = (
            "import math, sys, quickstart\n"
            "try:\n"
            "    quickstart.nap(float(sys.argv[1]))\n"
            "except ValueError as e:\n"
            "    print('ValueError:', e)\n"
            "else:\n"
            "    print('returned')\n"
        )
        for bad in ("inf", "-inf", "nan", "-1", "-1e-9", "1e10"):
            with self.subTest(seconds=bad):
                try:
                    done = subprocess.run([sys.executable, "-c", script, bad], timeout=20,
                                          capture_output=True, text=True)
                except subprocess.TimeoutExpired:
                    self.fail(f"nap({bad}) slept instead of raising ValueError")
                self.assertEqual(done.returncode, 0, done.stderr)
                self.assertRegex(done.stdout, r"^ValueError: .*seconds")
        start = time.monotonic()
        self.assertIsNone(quickstart.nap(0))
        self.assertIsNone(quickstart.nap(0.0))
        self.assertLess(time.monotonic() - start, 1.0)

    def test_readme_shows_the_source_verbatim(self):
        # The README promises the C++ example is "built and tested by the suite exactly as
        # shown": its cpp block must be this file, byte for byte.
        root = pathlib.Path(__file__).resolve().parents[2]
        readme = (root / "README.md").read_text(encoding="utf-8")
        source = (root / "examples" / "quickstart" / "quickstart.cpp").read_text(encoding="utf-8")
        blocks = re.findall(r"^```cpp\n(.*?)^```$", readme, re.S | re.M)
        self.assertIn(source, blocks)

    def test_gil_stays_off(self):
        if not sysconfig.get_config_var("Py_GIL_DISABLED"):
            self.skipTest("GIL build")
        self.assertFalse(sys._is_gil_enabled())


class QuickstartCTest(unittest.TestCase):
    def test_greet_interned_prefix(self):
        self.assertEqual(quickstart_c.greet("world"), "hello, world")
        with self.assertRaises(TypeError):
            quickstart_c.greet(3)

    def test_last_and_len_is_consistent_under_concurrent_appends(self):
        items = []
        stop = threading.Event()

        def appender():
            # Every consistent state has items[i] == i; clearing makes a torn read (length from
            # one state, item from another) visible as a mismatch or an out-of-range read.
            while not stop.is_set():
                items.append(len(items))
                if len(items) > 50:
                    items.clear()

        t = threading.Thread(target=appender)
        t.start()
        try:
            for _ in range(2000):
                last, n = quickstart_c.last_and_len(items)
                if n:
                    self.assertEqual(last, n - 1)  # items[i] == i: the pair was read together
        finally:
            stop.set()
            t.join()
        with self.assertRaises(TypeError):
            quickstart_c.last_and_len((1, 2))


if __name__ == "__main__":
    unittest.main()
