/*
 * aether/export.h - AETHER_API marks the functions of the public API.
 *
 * The shared library is built with hidden visibility: only the functions a
 * public header declares with AETHER_API are exported (tests/check_exports.sh
 * holds the library to that). For ELF and Mach-O targets built by GCC or
 * Clang the macro sets default visibility; for Windows DLLs it exports when
 * AETHER_BUILDING_DLL is defined and imports when AETHER_USING_DLL is; in
 * every other case (static libraries, firmware, other compilers) it is
 * empty, so the headers stay plain C11.
 */
#ifndef AETHER_EXPORT_H
#define AETHER_EXPORT_H

#if defined(_WIN32) && defined(AETHER_BUILDING_DLL)
#define AETHER_API __declspec(dllexport)
#elif defined(_WIN32) && defined(AETHER_USING_DLL)
#define AETHER_API __declspec(dllimport)
#elif defined(__GNUC__) && __GNUC__ >= 4
#define AETHER_API __attribute__((visibility("default")))
#else
#define AETHER_API
#endif

#endif /* AETHER_EXPORT_H */
