/*
 * crc32c: CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of
 * record batch v2. Three paths computing the same function:
 *   - crc32c_hw3 (x86-64 with SSE4.2 and PCLMULQDQ): three interleaved streams of the
 *     crc32 instruction merged with carry-less multiplies (see below), about 3x the
 *     single chain;
 *   - crc32c_hw: the SSE4.2 crc32 instruction, 8 bytes at a time, one chain;
 *     both are compiled with target attributes so this file builds without -msse4.2;
 *   - crc32c_sw: slicing-by-8 tables, built once.
 * crc32c() picks one at first call with __builtin_cpu_supports("sse4.2"/"pclmul").
 * The crc argument is the previous result (0 to start); pre/post inversion is
 * done inside so calls chain: crc32c(crc32c(0, a, n), b, m) == crc32c(0, ab, n+m).
 */
#include <pthread.h>
#include <string.h>

#include "strata/util.h"

#if defined(__x86_64__) || defined(__i386__)
#include <nmmintrin.h>
#if defined(__x86_64__)
#include <wmmintrin.h>
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

__attribute__((target("sse4.2,pclmul"))) static uint32_t crc32c_hw3(uint32_t crc, const void *data,
                                                                    size_t len) {
    const uint8_t *p = data;
    uint64_t reg = (uint32_t)~crc;
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
    return ~c;
}
#endif

typedef uint32_t (*crc_fn)(uint32_t, const void *, size_t);
static crc_fn chosen;
static pthread_once_t choose_once = PTHREAD_ONCE_INIT;

static void choose(void) {
    chosen = crc32c_sw;
#ifdef HAVE_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("sse4.2")) {
        chosen = crc32c_hw;
#if defined(__x86_64__)
        if (__builtin_cpu_supports("pclmul")) {
            shift_init();
            chosen = crc32c_hw3;
        }
#endif
    }
#endif
}

uint32_t crc32c(uint32_t crc, const void *data, size_t len) {
    pthread_once(&choose_once, choose);
    return chosen(crc, data, len);
}
