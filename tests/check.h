/*
 * Minimal test harness: CHECK* macros count assertions; TEST_MAIN runs the
 * listed test functions and prints "N passed, M failed" (assertion counts),
 * exiting non-zero on any failure.
 */
#ifndef AETHER_TESTS_CHECK_H
#define AETHER_TESTS_CHECK_H

#include <math.h>
#include <stdio.h>
#include <string.h>

static int g_check_pass;
static int g_check_fail;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (cond) {                                                                  \
            g_check_pass++;                                                          \
        } else {                                                                     \
            g_check_fail++;                                                          \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                            \
    } while (0)

#define CHECK_MSG(cond, ...)                                                \
    do {                                                                    \
        if (cond) {                                                         \
            g_check_pass++;                                                 \
        } else {                                                            \
            g_check_fail++;                                                 \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                   \
            fputc('\n', stderr);                                            \
        }                                                                   \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                             \
    do {                                                                               \
        long long check_a_ = (long long)(a), check_b_ = (long long)(b);                \
        CHECK_MSG(check_a_ == check_b_, "%s = %lld, %s = %lld", #a, check_a_, #b, check_b_); \
    } while (0)

#define CHECK_STATUS(expr, expected)                                                   \
    do {                                                                               \
        int check_s_ = (int)(expr);                                                    \
        CHECK_MSG(check_s_ == (int)(expected), "%s returned %d (%s), expected %d (%s)", #expr, \
                  check_s_, aether_status_name((aether_status)check_s_), (int)(expected),      \
                  aether_status_name((aether_status)(expected)));                      \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                          \
    do {                                                                               \
        double check_a_ = (double)(a), check_b_ = (double)(b);                         \
        CHECK_MSG(fabs(check_a_ - check_b_) <= (tol), "%s = %.9g, %s = %.9g (tol %g)", #a, \
                  check_a_, #b, check_b_, (double)(tol));                              \
    } while (0)

typedef void (*check_test_fn)(void);

static inline int check_run(const char *name, const check_test_fn *tests, const char *const *names,
                            int n)
{
    int i;
    for (i = 0; i < n; ++i) {
        int before = g_check_fail;
        tests[i]();
        if (g_check_fail != before)
            fprintf(stderr, "[%s] %s: FAILED\n", name, names[i]);
    }
    printf("%s: %d passed, %d failed\n", name, g_check_pass, g_check_fail);
    return g_check_fail ? 1 : 0;
}

/* Usage: TEST_MAIN(test_a, test_b, ...) */
#define CHECK_STR_(...) #__VA_ARGS__
#define TEST_MAIN(...)                                                                  \
    int main(void)                                                                      \
    {                                                                                   \
        static const check_test_fn tests_[] = {__VA_ARGS__};                            \
        static char names_buf_[] = CHECK_STR_(__VA_ARGS__);                             \
        const char *names_[sizeof tests_ / sizeof tests_[0]];                           \
        int n_ = (int)(sizeof tests_ / sizeof tests_[0]), k_ = 0;                       \
        char *p_ = names_buf_;                                                          \
        while (k_ < n_) {                                                               \
            names_[k_++] = p_;                                                          \
            while (*p_ && *p_ != ',')                                                   \
                p_++;                                                                   \
            if (*p_) {                                                                  \
                *p_++ = '\0';                                                           \
                while (*p_ == ' ')                                                      \
                    p_++;                                                               \
            }                                                                           \
        }                                                                               \
        return check_run(__FILE__, tests_, names_, n_);                                 \
    }

#endif /* AETHER_TESTS_CHECK_H */
