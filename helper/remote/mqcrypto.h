/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Small cryptographic helpers for the mqfuse-server connection:
 * SHA-256, HMAC-SHA256 (challenge-response authentication), a
 * constant-time comparison, CRC-32C (payload checksums) and random bytes.
 */
#ifndef MQ_CRYPTO_H
#define MQ_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define MQ_SHA256_DIGEST_SIZE	32
#define MQ_SHA256_BLOCK_SIZE	64

struct mq_sha256 {
	uint32_t h[8];		/* chaining state */
	uint64_t bytes;		/* message bytes hashed so far */
	uint8_t buf[MQ_SHA256_BLOCK_SIZE];	/* partial block */
};

void mq_sha256_init(struct mq_sha256 *c);
void mq_sha256_update(struct mq_sha256 *c, const void *data, size_t len);
/* Writes the digest and wipes @c; call mq_sha256_init() to reuse it. */
void mq_sha256_final(struct mq_sha256 *c, uint8_t out[32]);

/* HMAC-SHA256 (RFC 2104); keys longer than 64 bytes are hashed first. */
void mq_hmac_sha256(const void *key, size_t key_len, const void *msg,
		    size_t msg_len, uint8_t out[32]);

struct mq_hmac {
	struct mq_sha256 inner, outer;
};

void mq_hmac_init(struct mq_hmac *h, const void *key, size_t key_len);
void mq_hmac_update(struct mq_hmac *h, const void *data, size_t len);
/* Writes the MAC and wipes @h. */
void mq_hmac_final(struct mq_hmac *h, uint8_t out[32]);

/*
 * Compares @n bytes in time independent of their contents: 0 when equal,
 * 1 otherwise (no ordering).
 */
int mq_ct_memcmp(const void *a, const void *b, size_t n);

/*
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78).  Start with
 * @crc = 0; pass the previous result to continue over more data:
 * mq_crc32c(mq_crc32c(0, a, n), b, m) == mq_crc32c(0, a || b, n + m).
 * mq_crc32c(0, "123456789", 9) == 0xE3069283.
 */
uint32_t mq_crc32c(uint32_t crc, const void *data, size_t len);

/* Fills @buf from getrandom(2); returns 0 or -errno. */
int mq_random_bytes(void *buf, size_t len);

#endif /* MQ_CRYPTO_H */
