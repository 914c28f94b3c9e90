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

/* UNDER_ASAN: 1 in a build with AddressSanitizer (gcc or clang), whose
 * shadow memory and quarantine change what memory limits and RSS mean. */
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

static int g_check_pass;
static int g_check_fail;
/* Test functions that could not run because external data is missing (the
 * golden vectors and recordings checked out beside the repository as
 * ../shared), and the first path that was missing. */
static int g_check_skipped;
static char g_check_missing[512];

static inline int check_path_exists(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f)
        fclose(f);
    return f != NULL;
}

static inline void check_note_missing(const char *path)
{
    if (!g_check_skipped++)
        snprintf(g_check_missing, sizeof g_check_missing, "%s", path);
}

/* First statement of a test function that needs a file outside the
 * repository: when path is missing the function is skipped and counted
 * (the program then exits 77, which CTest reports as skipped). */
#define REQUIRE_PATH(path)              \
    do {                                \
        if (!check_path_exists(path)) { \
            check_note_missing(path);   \
            return;                     \
        }                               \
    } while (0)

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (cond) {                                                                  \
            g_check_pass++;                                                          \
        } else {                                                                     \
            g_check_fail++;                                                          \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                            \
    } while (0)

#define CHECK_MSG(cond, ...)                                                         \
    do {                                                                             \
        if (cond) {                                                                  \
            g_check_pass++;                                                          \
        } else {                                                                     \
            g_check_fail++;                                                          \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                            \
            fputc('\n', stderr);                                                     \
        }                                                                            \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                   \
    do {                                                                                     \
        long long check_a_ = (long long)(a), check_b_ = (long long)(b);                      \
        CHECK_MSG(check_a_ == check_b_, "%s = %lld, %s = %lld", #a, check_a_, #b, check_b_); \
    } while (0)

#define CHECK_STATUS(expr, expected)                                                           \
    do {                                                                                       \
        int check_s_ = (int)(expr);                                                            \
        CHECK_MSG(check_s_ == (int)(expected), "%s returned %d (%s), expected %d (%s)", #expr, \
                  check_s_, aether_status_name((aether_status)check_s_), (int)(expected),      \
                  aether_status_name((aether_status)(expected)));                              \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                              \
    do {                                                                                   \
        double check_a_ = (double)(a), check_b_ = (double)(b);                             \
        CHECK_MSG(fabs(check_a_ - check_b_) <= (tol), "%s = %.9g, %s = %.9g (tol %g)", #a, \
                  check_a_, #b, check_b_, (double)(tol));                                  \
    } while (0)

/* Test functions that read the golden vectors or the recordings start with
 * one of these: without them they are skipped, not failed. */
#define REQUIRE_GOLDEN() REQUIRE_PATH(AETHER_GOLDEN_DIR "/index.json")
#define REQUIRE_DATA() REQUIRE_PATH(AETHER_DATA_DIR "/README.md")

/* Exit status of a program some of whose test functions were skipped and
 * none failed (tests/CMakeLists.txt: SKIP_RETURN_CODE). */
#define CHECK_SKIP_STATUS 77

typedef void (*check_test_fn)(void);

static inline int check_run(const char *name, const check_test_fn *tests,
                            const char *const *names, int n)
{
    int i;
    for (i = 0; i < n; ++i) {
        int before = g_check_fail;
        tests[i]();
        if (g_check_fail != before)
            fprintf(stderr, "[%s] %s: FAILED\n", name, names[i]);
    }
    printf("%s: %d passed, %d failed\n", name, g_check_pass, g_check_fail);
    if (g_check_skipped)
        printf("%s: %d test functions skipped: %s not found (the golden vectors and "
               "recordings are checked out beside the repository as ../shared; configure "
               "with -DAETHER_GOLDEN_DIR=... -DAETHER_DATA_DIR=... to use another place)\n",
               name, g_check_skipped, g_check_missing);
    return g_check_fail ? 1 : g_check_skipped ? CHECK_SKIP_STATUS : 0;
}

/* Usage: TEST_MAIN(test_a, test_b, ...) */
#define CHECK_STR_(...) #__VA_ARGS__
#define TEST_MAIN(...)                                            \
    int main(void)                                                \
    {                                                             \
        static const check_test_fn tests_[] = {__VA_ARGS__};      \
        static char names_buf_[] = CHECK_STR_(__VA_ARGS__);       \
        const char *names_[sizeof tests_ / sizeof tests_[0]];     \
        int n_ = (int)(sizeof tests_ / sizeof tests_[0]), k_ = 0; \
        char *p_ = names_buf_;                                    \
        while (k_ < n_) {                                         \
            names_[k_++] = p_;                                    \
            while (*p_ && *p_ != ',')                             \
                p_++;                                             \
            if (*p_) {                                            \
                *p_++ = '\0';                                     \
                while (*p_ == ' ')                                \
                    p_++;                                         \
            }                                                     \
        }                                                         \
        return check_run(__FILE__, tests_, names_, n_);           \
    }

#endif /* AETHER_TESTS_CHECK_H */
