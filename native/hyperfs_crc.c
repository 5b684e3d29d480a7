// hyperfs_crc: CRC-32 (the zlib/IEEE 802.3 CRC, so the same value as
// node:zlib's crc32) at memory speed, for the checksum sidecar's first-read
// check (src/core/checksums.ts, docs/formats.md). node:zlib computes it a
// byte table at a time, about 4 GB/s here; a first read of 100 MB spent a
// quarter of its time there. This folds 64 bytes at a time with carry-less
// multiplies (PCLMULQDQ) where the CPU has them, and falls back to
// slicing-by-8 tables where it does not. src/core/crc32.ts loads it and
// falls back to node:zlib when it is not built; the tests check both give
// the same values.
//
// How the fold works. In the reflected bit order the CRC uses, a 128-bit
// block X of the message, followed by D more bits, contributes X * x^D to
// the message polynomial. So the running remainder can be kept as a 128-bit
// value congruent (mod P) to the message so far: moving it forward over the
// next 512 bits is two 64x33-bit carry-less products (its halves times
// x^(512 +- 32) mod P), XORed into the next block. At the end, the 128-bit
// value V is congruent to the whole message (minus its tail), so the CRC
// register is the CRC of V's 16 bytes, which the tables finish with the
// tail bytes. The constants are (x^n mod P), bit-reflected and shifted left
// once (the reflected product comes out one bit low). test/core/crc32.test.ts
// checks both paths against node:zlib over every length to 600 bytes and
// random longer ones, at every alignment, with and without a running value.
#include <node_api.h>
#include <stdint.h>
#include <stddef.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define HAVE_CLMUL_BUILD 1
#endif

#define POLY_REFLECTED 0xEDB88320u

static uint32_t tables[8][256];

static void init_tables (void) {
  for (uint32_t n = 0; n < 256; n++) {
    uint32_t c = n;
    for (int k = 0; k < 8; k++) c = (c & 1) ? (POLY_REFLECTED ^ (c >> 1)) : (c >> 1);
    tables[0][n] = c;
  }
  for (uint32_t n = 0; n < 256; n++) {
    for (int k = 1; k < 8; k++) tables[k][n] = (tables[k - 1][n] >> 8) ^ tables[0][tables[k - 1][n] & 0xff];
  }
}

// The CRC register (no pre- or post-inversion) moved over n bytes, eight at
// a time through the tables.
static uint32_t crc_tables (uint32_t reg, const uint8_t *p, size_t n) {
  while (n >= 8) {
    uint32_t lo, hi;
    memcpy(&lo, p, 4);
    memcpy(&hi, p + 4, 4);
    lo ^= reg; // little-endian: the register meets the first four bytes
    reg = tables[7][lo & 0xff] ^ tables[6][(lo >> 8) & 0xff] ^ tables[5][(lo >> 16) & 0xff] ^ tables[4][lo >> 24] ^
          tables[3][hi & 0xff] ^ tables[2][(hi >> 8) & 0xff] ^ tables[1][(hi >> 16) & 0xff] ^ tables[0][hi >> 24];
    p += 8;
    n -= 8;
  }
  while (n--) reg = (reg >> 8) ^ tables[0][(reg ^ *p++) & 0xff];
  return reg;
}

#ifdef HAVE_CLMUL_BUILD
// x^(4*128 + 32), x^(4*128 - 32): four blocks ahead; x^(128 + 32), x^(128 - 32): one
#define K_FOLD4_LO 0x154442bd4ull
#define K_FOLD4_HI 0x1c6e41596ull
#define K_FOLD1_LO 0x1751997d0ull
#define K_FOLD1_HI 0x0ccaa009eull

__attribute__((target("pclmul,sse2")))
static inline __m128i fold (__m128i x, __m128i k, __m128i next) {
  __m128i lo = _mm_clmulepi64_si128(x, k, 0x00);
  __m128i hi = _mm_clmulepi64_si128(x, k, 0x11);
  return _mm_xor_si128(_mm_xor_si128(lo, hi), next);
}

// n >= 64
__attribute__((target("pclmul,sse2")))
static uint32_t crc_clmul (uint32_t reg, const uint8_t *p, size_t n) {
  __m128i x0 = _mm_loadu_si128((const __m128i *) p);
  __m128i x1 = _mm_loadu_si128((const __m128i *) (p + 16));
  __m128i x2 = _mm_loadu_si128((const __m128i *) (p + 32));
  __m128i x3 = _mm_loadu_si128((const __m128i *) (p + 48));
  x0 = _mm_xor_si128(x0, _mm_cvtsi32_si128((int) reg));
  p += 64;
  n -= 64;
  const __m128i k4 = _mm_set_epi64x((long long) K_FOLD4_HI, (long long) K_FOLD4_LO);
  while (n >= 64) {
    x0 = fold(x0, k4, _mm_loadu_si128((const __m128i *) p));
    x1 = fold(x1, k4, _mm_loadu_si128((const __m128i *) (p + 16)));
    x2 = fold(x2, k4, _mm_loadu_si128((const __m128i *) (p + 32)));
    x3 = fold(x3, k4, _mm_loadu_si128((const __m128i *) (p + 48)));
    p += 64;
    n -= 64;
  }
  const __m128i k1 = _mm_set_epi64x((long long) K_FOLD1_HI, (long long) K_FOLD1_LO);
  x1 = fold(x0, k1, x1);
  x2 = fold(x1, k1, x2);
  x3 = fold(x2, k1, x3);
  while (n >= 16) {
    x3 = fold(x3, k1, _mm_loadu_si128((const __m128i *) p));
    p += 16;
    n -= 16;
  }
  uint8_t v[16];
  _mm_storeu_si128((__m128i *) v, x3);
  return crc_tables(crc_tables(0, v, 16), p, n);
}
#endif

static int use_clmul = 0;

static uint32_t crc32_bytes (uint32_t crc, const uint8_t *p, size_t n, int clmul) {
  uint32_t reg = ~crc;
#ifdef HAVE_CLMUL_BUILD
  if (clmul && n >= 64) return ~crc_clmul(reg, p, n);
#endif
  return ~crc_tables(reg, p, n);
}

static napi_value throw_type (napi_env env, const char *msg) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
  return NULL;
}

// crc32(bytes: Uint8Array, value = 0): number, as zlib.crc32; crc32Tables
// the same without the carry-less multiplies (for the tests: both paths)
static napi_value crc32_call (napi_env env, napi_callback_info info, int clmul) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 1) return throw_type(env, "crc32 needs a Uint8Array");
  bool is_typed = false;
  napi_is_typedarray(env, argv[0], &is_typed);
  if (!is_typed) return throw_type(env, "crc32 needs a Uint8Array");
  napi_typedarray_type type;
  size_t length;
  void *data;
  if (napi_get_typedarray_info(env, argv[0], &type, &length, &data, NULL, NULL) != napi_ok) return NULL;
  if (type != napi_uint8_array) return throw_type(env, "crc32 needs a Uint8Array");
  uint32_t init = 0;
  if (argc > 1) {
    napi_valuetype t;
    napi_typeof(env, argv[1], &t);
    if (t != napi_undefined) {
      if (t != napi_number) return throw_type(env, "crc32's value must be a number");
      napi_get_value_uint32(env, argv[1], &init);
    }
  }
  napi_value out;
  napi_create_uint32(env, crc32_bytes(init, (const uint8_t *) data, length, clmul), &out);
  return out;
}

static napi_value js_crc32 (napi_env env, napi_callback_info info) {
  return crc32_call(env, info, use_clmul);
}

static napi_value js_crc32_tables (napi_env env, napi_callback_info info) {
  return crc32_call(env, info, 0);
}

static napi_value init (napi_env env, napi_value exports) {
  init_tables();
#ifdef HAVE_CLMUL_BUILD
  __builtin_cpu_init();
  use_clmul = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse2");
#endif
  napi_value fn, tables_fn, flag;
  napi_create_function(env, "crc32", NAPI_AUTO_LENGTH, js_crc32, NULL, &fn);
  napi_set_named_property(env, exports, "crc32", fn);
  napi_create_function(env, "crc32Tables", NAPI_AUTO_LENGTH, js_crc32_tables, NULL, &tables_fn);
  napi_set_named_property(env, exports, "crc32Tables", tables_fn);
  napi_get_boolean(env, use_clmul != 0, &flag);
  napi_set_named_property(env, exports, "clmul", flag);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
