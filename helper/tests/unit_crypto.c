// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of remote/mqcrypto.c: known-answer tests for SHA-256
 * (FIPS 180-2), HMAC-SHA256 (RFC 4231) and CRC-32C (RFC 3720), plus
 * chunked/incremental consistency, mq_ct_memcmp and mq_random_bytes.
 *
 * Standalone: cc -Iremote tests/unit_crypto.c remote/mqcrypto.c -pthread
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqcrypto.h"

static int passed, failed;

static void check(bool cond, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void check(bool cond, const char *fmt, ...)
{
	va_list ap;

	if (cond)
		passed++;
	else
		failed++;
	printf("%s %d - ", cond ? "ok" : "not ok", passed + failed);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static void unhex(const char *hex, uint8_t *out)
{
	size_t i, n = strlen(hex) / 2;

	for (i = 0; i < n; i++) {
		unsigned int v;

		sscanf(hex + 2 * i, "%2x", &v);
		out[i] = (uint8_t)v;
	}
}

static bool digest_is(const uint8_t d[32], const char *hex)
{
	uint8_t want[32];

	unhex(hex, want);
	return memcmp(d, want, 32) == 0;
}

/* ------------------------------------------------------------------ */

struct sha_vec {
	const char *name;
	const uint8_t *msg;
	size_t len;
	const char *digest;
};

static void sha256_chunked(const uint8_t *msg, size_t len, size_t chunk,
			   uint8_t out[32])
{
	struct mq_sha256 c;
	size_t off, n;

	mq_sha256_init(&c);
	for (off = 0; off < len; off += n) {
		n = len - off < chunk ? len - off : chunk;
		mq_sha256_update(&c, msg + off, n);
	}
	mq_sha256_final(&c, out);
}

static void test_sha256(void)
{
	static const size_t chunks[] = { 1, 3, 63, 64, 65 };
	static const char abc448[] =
		"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	uint8_t *million = malloc(1000000);
	struct sha_vec v[4];
	uint8_t d[32];
	size_t i, j;

	if (!million) {
		check(false, "sha256: malloc");
		return;
	}
	memset(million, 'a', 1000000);
	v[0] = (struct sha_vec){ "\"\"", (const uint8_t *)"", 0,
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" };
	v[1] = (struct sha_vec){ "\"abc\"", (const uint8_t *)"abc", 3,
		"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" };
	v[2] = (struct sha_vec){ "448-bit message",
		(const uint8_t *)abc448, sizeof(abc448) - 1,
		"248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" };
	v[3] = (struct sha_vec){ "one million 'a'", million, 1000000,
		"cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0" };

	for (i = 0; i < 4; i++) {
		struct mq_sha256 c;

		mq_sha256_init(&c);
		mq_sha256_update(&c, v[i].msg, v[i].len);
		mq_sha256_final(&c, d);
		check(digest_is(d, v[i].digest), "sha256 %s", v[i].name);
		for (j = 0; j < sizeof(chunks) / sizeof(chunks[0]); j++) {
			sha256_chunked(v[i].msg, v[i].len, chunks[j], d);
			check(digest_is(d, v[i].digest),
			      "sha256 %s in %zu-byte chunks", v[i].name,
			      chunks[j]);
		}
	}

	/* padding boundaries: 55, 56, 63, 64 bytes, one-shot vs bytewise */
	{
		static const size_t lens[] = { 55, 56, 57, 63, 64, 65, 119, 120 };
		bool ok = true;

		for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
			uint8_t a[32], b[32];

			sha256_chunked(million, lens[i], lens[i], a);
			sha256_chunked(million, lens[i], 1, b);
			ok &= memcmp(a, b, 32) == 0;
		}
		check(ok, "sha256 padding boundaries agree one-shot/bytewise");
	}
	free(million);
}

/* ------------------------------------------------------------------ */

struct hmac_vec {
	int tc;
	const uint8_t *key;
	size_t key_len;
	const uint8_t *data;
	size_t data_len;
	const char *mac;
};

static void test_hmac(void)
{
	static const char tc6_data[] =
		"Test Using Larger Than Block-Size Key - Hash Key First";
	static const char tc7_data[] =
		"This is a test using a larger than block-size key and a "
		"larger than block-size data. The key needs to be hashed "
		"before being used by the HMAC algorithm.";
	uint8_t k1[20], k3[20], k4[25], k6[131], d3[50], d4[50];
	struct hmac_vec v[6];
	uint8_t mac[32];
	size_t i;

	memset(k1, 0x0b, sizeof(k1));
	memset(k3, 0xaa, sizeof(k3));
	memset(d3, 0xdd, sizeof(d3));
	for (i = 0; i < sizeof(k4); i++)
		k4[i] = (uint8_t)(i + 1);
	memset(d4, 0xcd, sizeof(d4));
	memset(k6, 0xaa, sizeof(k6));

	v[0] = (struct hmac_vec){ 1, k1, sizeof(k1),
		(const uint8_t *)"Hi There", 8,
		"b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7" };
	v[1] = (struct hmac_vec){ 2, (const uint8_t *)"Jefe", 4,
		(const uint8_t *)"what do ya want for nothing?", 28,
		"5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843" };
	v[2] = (struct hmac_vec){ 3, k3, sizeof(k3), d3, sizeof(d3),
		"773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe" };
	v[3] = (struct hmac_vec){ 4, k4, sizeof(k4), d4, sizeof(d4),
		"82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b" };
	v[4] = (struct hmac_vec){ 6, k6, sizeof(k6),
		(const uint8_t *)tc6_data, sizeof(tc6_data) - 1,
		"60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54" };
	v[5] = (struct hmac_vec){ 7, k6, sizeof(k6),
		(const uint8_t *)tc7_data, sizeof(tc7_data) - 1,
		"9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2" };

	for (i = 0; i < 6; i++) {
		struct mq_hmac h;
		uint8_t inc[32];
		size_t off, n;

		mq_hmac_sha256(v[i].key, v[i].key_len, v[i].data,
			       v[i].data_len, mac);
		check(digest_is(mac, v[i].mac),
		      "hmac-sha256 RFC 4231 test case %d", v[i].tc);

		mq_hmac_init(&h, v[i].key, v[i].key_len);
		for (off = 0; off < v[i].data_len; off += n) {
			n = (off % 7) + 1;
			if (n > v[i].data_len - off)
				n = v[i].data_len - off;
			mq_hmac_update(&h, v[i].data + off, n);
		}
		mq_hmac_final(&h, inc);
		check(memcmp(inc, mac, 32) == 0,
		      "hmac-sha256 test case %d incremental == one-shot",
		      v[i].tc);
	}

	/* key of exactly 64 bytes is used as is, 65 is hashed */
	{
		uint8_t k65[65], kh[32], a[32], b[32];
		struct mq_sha256 c;

		memset(k65, 0x5a, sizeof(k65));
		mq_sha256_init(&c);
		mq_sha256_update(&c, k65, sizeof(k65));
		mq_sha256_final(&c, kh);
		mq_hmac_sha256(k65, sizeof(k65), "m", 1, a);
		mq_hmac_sha256(kh, sizeof(kh), "m", 1, b);
		check(memcmp(a, b, 32) == 0,
		      "hmac-sha256 65-byte key == its SHA-256 as key");
	}
}

/* ------------------------------------------------------------------ */

/* bit-at-a-time reference, independent of the table/instruction paths */
static uint32_t crc32c_ref(uint32_t crc, const uint8_t *p, size_t len)
{
	int k;

	crc = ~crc;
	while (len--) {
		crc ^= *p++;
		for (k = 0; k < 8; k++)
			crc = crc & 1 ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
	}
	return ~crc;
}

static void test_crc32c(void)
{
	static const char check_str[] = "123456789";
	uint8_t buf[32], big[1031 + 8];
	uint32_t seed = 12345;
	size_t i, len, off;
	bool ok;

	check(mq_crc32c(0, "123456789", 9) == 0xE3069283,
	      "crc32c \"123456789\" = 0xE3069283");
	memset(buf, 0, sizeof(buf));
	check(mq_crc32c(0, buf, sizeof(buf)) == 0x8A9136AA,
	      "crc32c 32 zero bytes = 0x8A9136AA");
	memset(buf, 0xff, sizeof(buf));
	check(mq_crc32c(0, buf, sizeof(buf)) == 0x62A8AB43,
	      "crc32c 32 0xFF bytes = 0x62A8AB43");
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)i;
	check(mq_crc32c(0, buf, sizeof(buf)) == 0x46DD794E,
	      "crc32c 32 incrementing bytes = 0x46DD794E");
	check(mq_crc32c(0, NULL, 0) == 0 && mq_crc32c(0x1234, "", 0) == 0x1234,
	      "crc32c of nothing leaves the crc unchanged");

	ok = true;
	for (off = 0; off <= 9; off++)
		ok &= mq_crc32c(mq_crc32c(0, check_str, off), &check_str[off],
				9 - off) == 0xE3069283;
	check(ok, "crc32c \"123456789\" chained at split points 0..9");

	for (i = 0; i < sizeof(big); i++) {
		seed = seed * 1103515245 + 12345;
		big[i] = (uint8_t)(seed >> 16);
	}
	len = 1031;
	{
		uint32_t whole = mq_crc32c(0, big, len);

		check(whole == crc32c_ref(0, big, len),
		      "crc32c 1031 bytes matches bitwise reference");
		ok = true;
		for (off = 0; off <= len; off++)
			ok &= mq_crc32c(mq_crc32c(0, big, off), big + off,
					len - off) == whole;
		check(ok, "crc32c 1031 bytes chained at split points 0..%zu",
		      len);
	}

	/* every alignment and short length against the reference */
	ok = true;
	for (off = 0; off < 8; off++)
		for (len = 0; len <= 80; len++)
			ok &= mq_crc32c(0x5a5a5a5a, big + off, len) ==
			      crc32c_ref(0x5a5a5a5a, big + off, len);
	check(ok, "crc32c offsets 0..7 x lengths 0..80 match reference");
}

/* ------------------------------------------------------------------ */

static void test_ct_memcmp(void)
{
	uint8_t a[32], b[32];
	bool ok = true;
	size_t i;

	for (i = 0; i < sizeof(a); i++)
		a[i] = b[i] = (uint8_t)(i * 7);
	check(mq_ct_memcmp(a, b, sizeof(a)) == 0, "ct_memcmp equal -> 0");
	check(mq_ct_memcmp(a, b, 0) == 0, "ct_memcmp zero length -> 0");
	for (i = 0; i < sizeof(a); i++) {
		b[i] ^= 0x80;
		ok &= mq_ct_memcmp(a, b, sizeof(a)) != 0;
		b[i] ^= 0x80;
	}
	check(ok, "ct_memcmp one differing byte at any position -> nonzero");
	b[31] ^= 1;
	check(mq_ct_memcmp(a, b, sizeof(a)) != 0,
	      "ct_memcmp low-bit difference in last byte -> nonzero");
}

static void test_random(void)
{
	static const uint8_t zero[64];
	uint8_t a[64], b[64];
	int r1, r2;

	memset(a, 0, sizeof(a));
	memset(b, 0, sizeof(b));
	r1 = mq_random_bytes(a, sizeof(a));
	r2 = mq_random_bytes(b, sizeof(b));
	check(r1 == 0 && r2 == 0, "random_bytes returns 0 (%d, %d)", r1, r2);
	check(memcmp(a, zero, sizeof(a)) != 0, "random_bytes fills 64 bytes");
	check(memcmp(a, b, sizeof(a)) != 0, "random_bytes two calls differ");
	check(mq_random_bytes(a, 0) == 0, "random_bytes of 0 bytes -> 0");
}

int main(void)
{
	test_sha256();
	test_hmac();
	test_crc32c();
	test_ct_memcmp();
	test_random();
	printf("# crypto: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
