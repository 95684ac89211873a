/* api.h - PN_API, the mark of what libprivnn exports.
**
** The library is built with hidden visibility: only functions and variables declared with PN_API in
** the public headers (those reachable from privnn.h, installed under include/privnn/) are in
** libprivnn.so's dynamic symbol table. Kernels, op tables, generated protobuf code and every other
** internal stay inside the library, so a program linking its own ONNX protobuf cannot clash. */
#ifndef PN_API_H
#define PN_API_H

/* A translation unit may define PN_API empty before any include, to keep functions of a public
** header internal (ckks/ring_dispatch.h does, for the AVX-512 twins of the ring's kernels). */
#ifndef PN_API
#if defined(__GNUC__) || defined(__clang__)
#define PN_API __attribute__((visibility("default")))
#else
#define PN_API
#endif
#endif

#endif
