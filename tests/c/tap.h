/* tap.h — minimal TAP output for the C test (C99, no dependencies). */
#ifndef PYO3CPP_TAP_H
#define PYO3CPP_TAP_H
#include <stdio.h>

static int tap_count = 0, tap_failed = 0;

#define TAP_OK(cond, name)                                                            \
    do {                                                                              \
        int tap_ok_ = (cond) ? 1 : 0;                                                 \
        ++tap_count;                                                                  \
        if (!tap_ok_) ++tap_failed;                                                   \
        printf("%s %d - %s\n", tap_ok_ ? "ok" : "not ok", tap_count, (name));        \
        if (!tap_ok_) printf("#   failed at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
        fflush(stdout);                                                               \
    } while (0)

#define TAP_DONE() (printf("1..%d\n", tap_count), tap_failed ? 1 : 0)
#endif
