// SPDX-License-Identifier: GPL-2.0
/*
 * Cryptographic helpers of the mqfuse-server connection.
 *
 * Connections to an mqfuse-server are authenticated by an HMAC-SHA256
 * challenge-response over a shared secret: each side sends random bytes
 * (mq_random_bytes) and checks the peer's MAC of them with
 * mq_ct_memcmp.  Payloads may optionally carry a CRC-32C checksum, which
 * catches corruption only and authenticates nothing.
 *
 * SHA-256 follows FIPS 180-4, HMAC follows RFC 2104.  CRC-32C uses the
 * SSE4.2 crc32 instruction when the CPU has it, else a slicing-by-8 table
 * built once under pthread_once.  Defining MQ_CRC32C_NO_SSE42 at build time
 * forces the table (used to test it on hosts with SSE4.2).
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <sys/random.h>

#include "mqcrypto.h"

#if defined(__x86_64__) && !defined(MQ_CRC32C_NO_SSE42)
#define MQ_HAVE_SSE42_PATH 1
#include <nmmintrin.h>
#endif

/* ------------------------------------------------------------------ */
/* SHA-256 */

static const uint32_t sha256_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5,
	0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
	0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc,
	0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
	0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
	0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3,
	0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5,
	0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
	0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static inline uint32_t ror32(uint32_t x, unsigned int n)
{
	return (x >> n) | (x << (32 - n));
}

static inline uint32_t load_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static inline void store_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void sha256_block(uint32_t h[8], const uint8_t *p)
{
	uint32_t w[64];
	uint32_t a, b, c, d, e, f, g, hh, t1, t2;
	int i;

	for (i = 0; i < 16; i++)
		w[i] = load_be32(p + 4 * i);
	for (; i < 64; i++) {
		uint32_t s0 = ror32(w[i - 15], 7) ^ ror32(w[i - 15], 18) ^
			      (w[i - 15] >> 3);
		uint32_t s1 = ror32(w[i - 2], 17) ^ ror32(w[i - 2], 19) ^
			      (w[i - 2] >> 10);

		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}

	a = h[0]; b = h[1]; c = h[2]; d = h[3];
	e = h[4]; f = h[5]; g = h[6]; hh = h[7];
	for (i = 0; i < 64; i++) {
		t1 = hh + (ror32(e, 6) ^ ror32(e, 11) ^ ror32(e, 25)) +
		     ((e & f) ^ (~e & g)) + sha256_k[i] + w[i];
		t2 = (ror32(a, 2) ^ ror32(a, 13) ^ ror32(a, 22)) +
		     ((a & b) ^ (a & c) ^ (b & c));
		hh = g;
		g = f;
		f = e;
		e = d + t1;
		d = c;
		c = b;
		b = a;
		a = t1 + t2;
	}
	h[0] += a; h[1] += b; h[2] += c; h[3] += d;
	h[4] += e; h[5] += f; h[6] += g; h[7] += hh;

	explicit_bzero(w, sizeof(w));
}

void mq_sha256_init(struct mq_sha256 *c)
{
	static const uint32_t iv[8] = {
		0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
		0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
	};

	memcpy(c->h, iv, sizeof(iv));
	c->bytes = 0;
	memset(c->buf, 0, sizeof(c->buf));
}

void mq_sha256_update(struct mq_sha256 *c, const void *data, size_t len)
{
	const uint8_t *p = data;
	size_t used = c->bytes % MQ_SHA256_BLOCK_SIZE;

	c->bytes += len;

	if (used) {
		size_t n = MQ_SHA256_BLOCK_SIZE - used;

		if (len < n) {
			memcpy(c->buf + used, p, len);
			return;
		}
		memcpy(c->buf + used, p, n);
		sha256_block(c->h, c->buf);
		p += n;
		len -= n;
	}
	for (; len >= MQ_SHA256_BLOCK_SIZE; len -= MQ_SHA256_BLOCK_SIZE) {
		sha256_block(c->h, p);
		p += MQ_SHA256_BLOCK_SIZE;
	}
	if (len)
		memcpy(c->buf, p, len);
}

void mq_sha256_final(struct mq_sha256 *c, uint8_t out[32])
{
	size_t used = c->bytes % MQ_SHA256_BLOCK_SIZE;
	uint64_t bits = c->bytes * 8;
	int i;

	c->buf[used++] = 0x80;
	if (used > MQ_SHA256_BLOCK_SIZE - 8) {
		memset(c->buf + used, 0, MQ_SHA256_BLOCK_SIZE - used);
		sha256_block(c->h, c->buf);
		used = 0;
	}
	memset(c->buf + used, 0, MQ_SHA256_BLOCK_SIZE - 8 - used);
	store_be32(c->buf + 56, (uint32_t)(bits >> 32));
	store_be32(c->buf + 60, (uint32_t)bits);
	sha256_block(c->h, c->buf);

	for (i = 0; i < 8; i++)
		store_be32(out + 4 * i, c->h[i]);
	explicit_bzero(c, sizeof(*c));
}

/* ------------------------------------------------------------------ */
/* HMAC-SHA256 */

void mq_hmac_init(struct mq_hmac *h, const void *key, size_t key_len)
{
	uint8_t k[MQ_SHA256_BLOCK_SIZE];
	uint8_t pad[MQ_SHA256_BLOCK_SIZE];
	int i;

	memset(k, 0, sizeof(k));
	if (key_len > MQ_SHA256_BLOCK_SIZE) {
		struct mq_sha256 kc;

		mq_sha256_init(&kc);
		mq_sha256_update(&kc, key, key_len);
		mq_sha256_final(&kc, k);
	} else if (key_len) {
		memcpy(k, key, key_len);
	}

	for (i = 0; i < MQ_SHA256_BLOCK_SIZE; i++)
		pad[i] = k[i] ^ 0x36;
	mq_sha256_init(&h->inner);
	mq_sha256_update(&h->inner, pad, sizeof(pad));

	for (i = 0; i < MQ_SHA256_BLOCK_SIZE; i++)
		pad[i] = k[i] ^ 0x5c;
	mq_sha256_init(&h->outer);
	mq_sha256_update(&h->outer, pad, sizeof(pad));

	explicit_bzero(k, sizeof(k));
	explicit_bzero(pad, sizeof(pad));
}

void mq_hmac_update(struct mq_hmac *h, const void *data, size_t len)
{
	mq_sha256_update(&h->inner, data, len);
}

void mq_hmac_final(struct mq_hmac *h, uint8_t out[32])
{
	uint8_t ih[MQ_SHA256_DIGEST_SIZE];

	mq_sha256_final(&h->inner, ih);
	mq_sha256_update(&h->outer, ih, sizeof(ih));
	mq_sha256_final(&h->outer, out);
	explicit_bzero(ih, sizeof(ih));
	explicit_bzero(h, sizeof(*h));
}

void mq_hmac_sha256(const void *key, size_t key_len, const void *msg,
		    size_t msg_len, uint8_t out[32])
{
	struct mq_hmac h;

	mq_hmac_init(&h, key, key_len);
	mq_hmac_update(&h, msg, msg_len);
	mq_hmac_final(&h, out);
}

/* ------------------------------------------------------------------ */
/* Constant-time comparison */

int mq_ct_memcmp(const void *a, const void *b, size_t n)
{
	const volatile uint8_t *pa = a;
	const volatile uint8_t *pb = b;
	unsigned int diff = 0;
	size_t i;

	for (i = 0; i < n; i++)
		diff |= pa[i] ^ pb[i];
	/* 0 -> 0, 1..255 -> 1, without a data-dependent branch */
	return (int)(((diff - 1) >> 8) & 1) ^ 1;
}

/* ------------------------------------------------------------------ */
/* CRC-32C */

#define CRC32C_POLY	0x82F63B78u	/* reflected Castagnoli polynomial */

static uint32_t crc32c_table[8][256];
static pthread_once_t crc32c_once = PTHREAD_ONCE_INIT;
#ifdef MQ_HAVE_SSE42_PATH
static bool crc32c_use_sse42;
#endif

/*
 * crc32c_table[0][b] is the CRC register after shifting byte b through it;
 * crc32c_table[k][b] is the same byte followed by k zero bytes, so eight
 * input bytes can be folded in with eight independent look-ups.
 */
static void crc32c_setup(void)
{
	uint32_t i, r;
	int j, k;

	for (i = 0; i < 256; i++) {
		r = i;
		for (j = 0; j < 8; j++)
			r = (r >> 1) ^ (CRC32C_POLY & -(r & 1));
		crc32c_table[0][i] = r;
	}
	for (k = 1; k < 8; k++)
		for (i = 0; i < 256; i++) {
			r = crc32c_table[k - 1][i];
			crc32c_table[k][i] = (r >> 8) ^
					     crc32c_table[0][r & 0xff];
		}
#ifdef MQ_HAVE_SSE42_PATH
	__builtin_cpu_init();
	crc32c_use_sse42 = __builtin_cpu_supports("sse4.2");
#endif
}

static inline uint32_t load_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 |
	       (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* @r is the raw register (already inverted by the caller). */
static uint32_t crc32c_sw(uint32_t r, const uint8_t *p, size_t len)
{
	uint32_t (*t)[256] = crc32c_table;

	for (; len && ((uintptr_t)p & 7); len--)
		r = (r >> 8) ^ t[0][(r ^ *p++) & 0xff];
	for (; len >= 8; len -= 8, p += 8) {
		uint32_t lo = r ^ load_le32(p);
		uint32_t hi = load_le32(p + 4);

		r = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^
		    t[5][(lo >> 16) & 0xff] ^ t[4][lo >> 24] ^
		    t[3][hi & 0xff] ^ t[2][(hi >> 8) & 0xff] ^
		    t[1][(hi >> 16) & 0xff] ^ t[0][hi >> 24];
	}
	while (len--)
		r = (r >> 8) ^ t[0][(r ^ *p++) & 0xff];
	return r;
}

#ifdef MQ_HAVE_SSE42_PATH
__attribute__((target("sse4.2")))
static uint32_t crc32c_hw(uint32_t r, const uint8_t *p, size_t len)
{
	uint64_t r64;

	for (; len && ((uintptr_t)p & 7); len--)
		r = _mm_crc32_u8(r, *p++);
	r64 = r;
	for (; len >= 8; len -= 8, p += 8) {
		uint64_t v;

		memcpy(&v, p, sizeof(v));
		r64 = _mm_crc32_u64(r64, v);
	}
	r = (uint32_t)r64;
	while (len--)
		r = _mm_crc32_u8(r, *p++);
	return r;
}
#endif

uint32_t mq_crc32c(uint32_t crc, const void *data, size_t len)
{
	uint32_t r = ~crc;

	pthread_once(&crc32c_once, crc32c_setup);
#ifdef MQ_HAVE_SSE42_PATH
	if (crc32c_use_sse42)
		return ~crc32c_hw(r, data, len);
#endif
	return ~crc32c_sw(r, data, len);
}

/* ------------------------------------------------------------------ */
/* Random bytes */

int mq_random_bytes(void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = getrandom(p, len, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}
