/*
 * crc32c: CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of
 * record batch v2. Four paths computing the same function, fastest first:
 *   - crc32c_fold (x86-64 with AVX-512F and VPCLMULQDQ): 256 bytes a step folded with
 *     512-bit carry-less multiplies, about 50 GB/s here; the tail below 256 bytes goes
 *     through the next one;
 *   - crc32c_hw3 (x86-64 with SSE4.2 and PCLMULQDQ): three interleaved streams of the
 *     crc32 instruction merged with carry-less multiplies, about 24 GB/s here;
 *   - crc32c_hw (SSE4.2): the crc32 instruction, 8 bytes at a time, one chain (its
 *     3-cycle latency caps it at about 7.6 GB/s here);
 *   - crc32c_sw: slicing-by-8 tables, built once.
 * The hardware paths are compiled with target attributes so this file builds without
 * -msse4.2/-mavx512f. crc32c() picks the best at first call (__builtin_cpu_supports);
 * crc32c_variant() lists them all for the tests and the storage bench.
 * The crc argument is the previous result (0 to start); pre/post inversion is
 * done inside so calls chain: crc32c(crc32c(0, a, n), b, m) == crc32c(0, ab, n+m).
 * The shift and fold constants are derived in the comments above their code (from the
 * algebra of CRCs over GF(2), not taken from elsewhere) and computed at first use.
 */
#include <pthread.h>
#include <string.h>

#include "strata/util.h"

#if defined(__x86_64__) || defined(__i386__)
#include <nmmintrin.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif
#define HAVE_X86 1
#endif

#define POLY 0x82F63B78u

static uint32_t table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void table_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) {
            c = (c & 1) ? (c >> 1) ^ POLY : c >> 1;
        }
        table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = table[0][i];
        for (int t = 1; t < 8; t++) {
            c = table[0][c & 0xff] ^ (c >> 8);
            table[t][i] = c;
        }
    }
}

static inline uint64_t load_le64(const uint8_t *p) {
    return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
           (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 |
           (uint64_t)p[7] << 56;
}

uint32_t crc32c_sw(uint32_t crc, const void *data, size_t len) {
    pthread_once(&table_once, table_init);
    const uint8_t *p = data;
    uint32_t c = ~crc;
    while (len > 0 && ((uintptr_t)p & 7) != 0) {
        c = table[0][(c ^ *p++) & 0xff] ^ (c >> 8);
        len--;
    }
    while (len >= 8) {
        uint64_t w = load_le64(p) ^ c;
        c = table[7][w & 0xff] ^ table[6][(w >> 8) & 0xff] ^ table[5][(w >> 16) & 0xff] ^
            table[4][(w >> 24) & 0xff] ^ table[3][(w >> 32) & 0xff] ^ table[2][(w >> 40) & 0xff] ^
            table[1][(w >> 48) & 0xff] ^ table[0][w >> 56];
        p += 8;
        len -= 8;
    }
    while (len > 0) {
        c = table[0][(c ^ *p++) & 0xff] ^ (c >> 8);
        len--;
    }
    return ~c;
}

#ifdef HAVE_X86
__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t crc, const void *data,
                                                            size_t len) {
    const uint8_t *p = data;
    uint32_t c = ~crc;
    while (len > 0 && ((uintptr_t)p & 7) != 0) {
        c = _mm_crc32_u8(c, *p++);
        len--;
    }
#if defined(__x86_64__)
    uint64_t c64 = c;
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        c64 = _mm_crc32_u64(c64, w);
        p += 8;
        len -= 8;
    }
    c = (uint32_t)c64;
#endif
    while (len > 0) {
        c = _mm_crc32_u8(c, *p++);
        len--;
    }
    return ~c;
}
#endif

#if defined(__x86_64__)
/*
 * Three-stream hardware CRC (x86-64 with SSE4.2 and PCLMULQDQ).
 *
 * crc32q has a latency of 3 cycles and a throughput of one per cycle, so a single
 * dependency chain runs at a third of the instruction's rate. The buffer is cut into
 * rounds of three consecutive blocks of B bytes; each block gets its own chain started
 * from 0 and the three run interleaved. The chains are then merged into the running
 * register with the linearity of CRCs (register polynomials over GF(2), mod P):
 *
 *   reg(after round) = reg * x^(8*3B) + a * x^(8*2B) + b * x^(8*B) + c
 *
 * where a, b, c are the registers of the three blocks alone. Since every chain of a
 * round starts from 0, the merge of one round is off the critical path of the next.
 *
 * Shifting a register r across n zero bytes (r * x^(8n) mod P) takes one carry-less
 * multiply and one crc32q. In the reflected bit order (bit i of a 32-bit register
 * holds the coefficient of x^(31-i); bit i of the 64-bit crc32q operand that of
 * x^(63-i)), the 63-bit carry-less product of two 32-bit registers r and k, read as a
 * 64-bit operand, is the polynomial x * r * k, and crc32q(0, v) computes v * x^32 mod
 * P. So crc32q(0, clmul(r, k)) = r * k * x^33, and k = x^(8n - 33) mod P gives the
 * shift. The products of one merge are XORed before the single reduction (it is
 * linear). The constants are computed once, in software, by square-and-multiply.
 */
enum { CRC_LONG = 4096, CRC_SHORT = 256 };

/* x^(8n-33) mod P for shifts of B, 2B, 3B bytes; [0] for CRC_LONG, [1] for CRC_SHORT. */
static uint32_t shift_k[2][3];

/* a * b mod P, both reflected. */
static uint32_t gf_mul(uint32_t a, uint32_t b) {
    uint32_t r = 0;
    for (int i = 0; i < 32; i++) {
        if (a & (0x80000000u >> i)) { /* coefficient of x^i */
            r ^= b;
        }
        b = (b & 1) ? (b >> 1) ^ POLY : b >> 1; /* b *= x */
    }
    return r;
}

/* x^n mod P, reflected. */
static uint32_t gf_xpow(uint64_t n) {
    uint32_t r = 0x80000000u, base = 0x40000000u; /* 1 and x */
    while (n) {
        if (n & 1) {
            r = gf_mul(r, base);
        }
        base = gf_mul(base, base);
        n >>= 1;
    }
    return r;
}

static void shift_init(void) {
    const uint64_t blocks[2] = {CRC_LONG, CRC_SHORT};
    for (int t = 0; t < 2; t++) {
        for (int m = 1; m <= 3; m++) {
            shift_k[t][m - 1] = gf_xpow(8 * blocks[t] * (uint64_t)m - 33);
        }
    }
}

__attribute__((target("sse4.2,pclmul"))) static inline uint64_t clmul32(uint32_t a, uint32_t b) {
    __m128i p = _mm_clmulepi64_si128(_mm_cvtsi32_si128((int)a), _mm_cvtsi32_si128((int)b), 0);
    return (uint64_t)_mm_cvtsi128_si64(p);
}

/* One round of three blocks of blk bytes at p, merged into reg. */
__attribute__((target("sse4.2,pclmul"), always_inline)) static inline uint64_t
crc_round(uint64_t reg, const uint8_t *p, size_t blk, const uint32_t k[3]) {
    uint64_t a = 0, b = 0, c = 0;
    const uint8_t *pb = p + blk, *pc = p + 2 * blk;
    for (size_t i = 0; i < blk; i += 8) {
        uint64_t wa, wb, wc;
        memcpy(&wa, p + i, 8);
        memcpy(&wb, pb + i, 8);
        memcpy(&wc, pc + i, 8);
        a = _mm_crc32_u64(a, wa);
        b = _mm_crc32_u64(b, wb);
        c = _mm_crc32_u64(c, wc);
    }
    uint64_t m =
        clmul32((uint32_t)reg, k[2]) ^ clmul32((uint32_t)a, k[1]) ^ clmul32((uint32_t)b, k[0]);
    return _mm_crc32_u64(0, m) ^ c;
}

/* The raw register (no inversions) after data, continuing from reg. */
__attribute__((target("sse4.2,pclmul"))) static uint32_t hw3_reg(uint32_t reg32, const uint8_t *p,
                                                                 size_t len) {
    uint64_t reg = reg32;
    while (len >= 3 * CRC_LONG) {
        reg = crc_round(reg, p, CRC_LONG, shift_k[0]);
        p += 3 * CRC_LONG;
        len -= 3 * CRC_LONG;
    }
    while (len >= 3 * CRC_SHORT) {
        reg = crc_round(reg, p, CRC_SHORT, shift_k[1]);
        p += 3 * CRC_SHORT;
        len -= 3 * CRC_SHORT;
    }
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        reg = _mm_crc32_u64(reg, w);
        p += 8;
        len -= 8;
    }
    uint32_t c = (uint32_t)reg;
    while (len > 0) {
        c = _mm_crc32_u8(c, *p++);
        len--;
    }
    return c;
}

static uint32_t crc32c_hw3(uint32_t crc, const void *data, size_t len) {
    return ~hw3_reg(~crc, data, len);
}

/*
 * Folding with 512-bit carry-less multiplies (x86-64 with AVX-512F and VPCLMULQDQ), for
 * buffers of 256 bytes and more; the tail goes through hw3_reg.
 *
 * Read the message as one polynomial, its first bit the highest power. A 128-bit lane
 * loaded little-endian holds the coefficients of x^127 (bit 0) .. x^0 (bit 127) of its
 * 16 bytes: V = Q0 x^64 + Q1 with Q0 its low qword. Moving V forward by D bits of message
 * (V x^D, only its value mod P matters) is Q0 x^(D+64) + Q1 x^D. A carry-less product of
 * a 64-bit Q and a 32-bit reflected k, read as a 128-bit lane, is the polynomial
 * Q k x^33 (the same bit-order shift as in crc_round), of degree < 128. So
 *
 *   fold_D(V) = clmul(Q0, x^(D+31) mod P) ^ clmul(Q1, x^(D-33) mod P)
 *
 * is congruent to V x^D and fits a lane again. Four 512-bit accumulators take 256 bytes
 * a step (each lane folds 2048 bits forward onto the next data at the same place), then
 * they are folded into one (D = 512), its four lanes into one (D = 384, 256, 128), and
 * the last 128-bit V, which ends where the folded data ends, becomes the register
 * V x^32 mod P = crc32q(crc32q(0, Q0), Q1). The incoming register r enters as r XORed
 * into the first four bytes (processing n bytes from r adds r x^(8n), which is r placed
 * at the first 32 bits of the message).
 */
enum { FOLD_2048, FOLD_512, FOLD_384, FOLD_256, FOLD_128, FOLD_N };
static uint64_t fold_k[FOLD_N][2];

static void fold_init(void) {
    const uint64_t dist[FOLD_N] = {2048, 512, 384, 256, 128};
    for (int i = 0; i < FOLD_N; i++) {
        fold_k[i][0] = gf_xpow(dist[i] + 31);
        fold_k[i][1] = gf_xpow(dist[i] - 33);
    }
}

__attribute__((target("avx512f,vpclmulqdq"))) static inline __m512i fold512(__m512i v, __m512i k) {
    return _mm512_xor_si512(_mm512_clmulepi64_epi128(v, k, 0x00),
                            _mm512_clmulepi64_epi128(v, k, 0x11));
}

__attribute__((target("sse4.2,pclmul"))) static inline __m128i fold128(__m128i v, int d) {
    __m128i k = _mm_set_epi64x((long long)fold_k[d][1], (long long)fold_k[d][0]);
    return _mm_xor_si128(_mm_clmulepi64_si128(v, k, 0x00), _mm_clmulepi64_si128(v, k, 0x11));
}

__attribute__((target("avx512f,vpclmulqdq,sse4.2,pclmul"))) static uint32_t
crc32c_fold(uint32_t crc, const void *data, size_t len) {
    const uint8_t *p = data;
    uint32_t reg = ~crc;
    if (len < 256) {
        return ~hw3_reg(reg, p, len);
    }
    __m512i a0 = _mm512_loadu_si512((const void *)p);
    __m512i a1 = _mm512_loadu_si512((const void *)(p + 64));
    __m512i a2 = _mm512_loadu_si512((const void *)(p + 128));
    __m512i a3 = _mm512_loadu_si512((const void *)(p + 192));
    a0 = _mm512_xor_si512(a0, _mm512_castsi128_si512(_mm_cvtsi32_si128((int)reg)));
    p += 256;
    len -= 256;
    const __m512i k2048 = _mm512_broadcast_i32x4(
        _mm_set_epi64x((long long)fold_k[FOLD_2048][1], (long long)fold_k[FOLD_2048][0]));
    while (len >= 256) {
        a0 = _mm512_xor_si512(fold512(a0, k2048), _mm512_loadu_si512((const void *)p));
        a1 = _mm512_xor_si512(fold512(a1, k2048), _mm512_loadu_si512((const void *)(p + 64)));
        a2 = _mm512_xor_si512(fold512(a2, k2048), _mm512_loadu_si512((const void *)(p + 128)));
        a3 = _mm512_xor_si512(fold512(a3, k2048), _mm512_loadu_si512((const void *)(p + 192)));
        p += 256;
        len -= 256;
    }
    const __m512i k512 = _mm512_broadcast_i32x4(
        _mm_set_epi64x((long long)fold_k[FOLD_512][1], (long long)fold_k[FOLD_512][0]));
    a1 = _mm512_xor_si512(a1, fold512(a0, k512));
    a2 = _mm512_xor_si512(a2, fold512(a1, k512));
    a3 = _mm512_xor_si512(a3, fold512(a2, k512));
    __m128i v = _mm512_extracti32x4_epi32(a3, 3);
    v = _mm_xor_si128(v, fold128(_mm512_extracti32x4_epi32(a3, 0), FOLD_384));
    v = _mm_xor_si128(v, fold128(_mm512_extracti32x4_epi32(a3, 1), FOLD_256));
    v = _mm_xor_si128(v, fold128(_mm512_extracti32x4_epi32(a3, 2), FOLD_128));
    uint64_t q0 = (uint64_t)_mm_cvtsi128_si64(v);
    uint64_t q1 = (uint64_t)_mm_extract_epi64(v, 1);
    reg = (uint32_t)_mm_crc32_u64(_mm_crc32_u64(0, q0), q1);
    return ~hw3_reg(reg, p, len);
}
#endif

#define MAX_VARIANTS 4
static crc32c_fn chosen;
static crc32c_fn variants[MAX_VARIANTS];
static const char *variant_names[MAX_VARIANTS];
static int nvariants;
static pthread_once_t choose_once = PTHREAD_ONCE_INIT;

static void add_variant(crc32c_fn fn, const char *name) {
    variants[nvariants] = fn;
    variant_names[nvariants++] = name;
    chosen = fn;
}

static void choose(void) {
    add_variant(crc32c_sw, "table");
#ifdef HAVE_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("sse4.2")) {
        add_variant(crc32c_hw, "sse4.2");
#if defined(__x86_64__)
        if (__builtin_cpu_supports("pclmul")) {
            shift_init();
            add_variant(crc32c_hw3, "sse4.2x3+pclmul");
            if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("vpclmulqdq")) {
                fold_init();
                add_variant(crc32c_fold, "avx512-vpclmulqdq");
            }
        }
#endif
    }
#endif
}

crc32c_fn crc32c_variant(int i, const char **name) {
    pthread_once(&choose_once, choose);
    if (i < 0 || i >= nvariants) {
        return NULL;
    }
    if (name) {
        *name = variant_names[i];
    }
    return variants[i];
}

uint32_t crc32c(uint32_t crc, const void *data, size_t len) {
    pthread_once(&choose_once, choose);
    return chosen(crc, data, len);
}
