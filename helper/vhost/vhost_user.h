/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The vhost-user protocol as mqfused speaks it (back-end side) and as the
 * test front-end (tests/vhost_hostile.c) speaks it: message codes, the
 * header, the payloads used, and the split virtqueue layout.  Written from
 * QEMU's docs/interop/vhost-user.rst and the virtio 1.1 specification
 * (2.6 "Split Virtqueues"); only what a vhost-user-fs device needs.
 *
 * Everything on the socket is in the host's byte order; everything in the
 * rings is little-endian (VIRTIO_F_VERSION_1), which on x86 is the same.
 */
#ifndef MQ_VHOST_USER_H
#define MQ_VHOST_USER_H

#include <stdint.h>

/* ---- socket messages: front-end (QEMU) to back-end (mqfused) ---- */
enum vu_request {
	VU_GET_FEATURES = 1,
	VU_SET_FEATURES = 2,
	VU_SET_OWNER = 3,
	VU_RESET_OWNER = 4,
	VU_SET_MEM_TABLE = 5,
	VU_SET_LOG_BASE = 6,
	VU_SET_LOG_FD = 7,
	VU_SET_VRING_NUM = 8,
	VU_SET_VRING_ADDR = 9,
	VU_SET_VRING_BASE = 10,
	VU_GET_VRING_BASE = 11,
	VU_SET_VRING_KICK = 12,
	VU_SET_VRING_CALL = 13,
	VU_SET_VRING_ERR = 14,
	VU_GET_PROTOCOL_FEATURES = 15,
	VU_SET_PROTOCOL_FEATURES = 16,
	VU_GET_QUEUE_NUM = 17,
	VU_SET_VRING_ENABLE = 18,
	VU_RESET_DEVICE = 34,
};

/* header flags: version in bits 0-1, then reply and need-reply */
#define VU_VERSION		0x1u
#define VU_VERSION_MASK		0x3u
#define VU_FLAG_REPLY		(1u << 2)
#define VU_FLAG_NEED_REPLY	(1u << 3)

struct vu_hdr {
	uint32_t request;
	uint32_t flags;
	uint32_t size;		/* payload bytes after the header */
} __attribute__((packed));

/* largest payload a message of ours carries (the memory table) */
#define VU_MAX_MEM_REGIONS	8
#define VU_MAX_FDS		8

struct vu_mem_region {
	uint64_t guest_addr;	/* guest physical address */
	uint64_t size;
	uint64_t user_addr;	/* the front-end's virtual address */
	uint64_t mmap_offset;	/* of the region in the fd sent with it */
};

struct vu_mem_table {
	uint32_t nregions;
	uint32_t padding;
	struct vu_mem_region regions[VU_MAX_MEM_REGIONS];
};

struct vu_vring_state {
	uint32_t index;
	uint32_t num;
};

struct vu_vring_addr {
	uint32_t index;
	uint32_t flags;		/* bit 0: log (unsupported) */
	uint64_t desc;		/* front-end virtual addresses */
	uint64_t used;
	uint64_t avail;
	uint64_t log;
};

/* SET_VRING_KICK/CALL/ERR payload: u64, index in bits 0-7 */
#define VU_VRING_IDX_MASK	0xffull
#define VU_VRING_NOFD		(1ull << 8)	/* no fd: polling (refused) */

union vu_payload {
	uint64_t u64;
	struct vu_vring_state state;
	struct vu_vring_addr addr;
	struct vu_mem_table mem;
};

/* device features (GET_FEATURES) */
#define VU_F_INDIRECT_DESC	28
#define VU_F_PROTOCOL_FEATURES	30	/* VHOST_USER_F_PROTOCOL_FEATURES */
#define VU_F_VERSION_1		32
/* protocol features (GET_PROTOCOL_FEATURES) */
#define VU_PF_MQ		0
#define VU_PF_REPLY_ACK		3
#define VU_PF_RESET_DEVICE	13

/* ---- split virtqueue (virtio 1.1, 2.6) ---- */
#define VQ_DESC_F_NEXT		1
#define VQ_DESC_F_WRITE		2
#define VQ_DESC_F_INDIRECT	4
#define VQ_AVAIL_F_NO_INTERRUPT	1
#define VQ_USED_F_NO_NOTIFY	1
#define VQ_MAX_SIZE		32768	/* queue sizes: powers of 2 up to this */

struct vq_desc {
	uint64_t addr;		/* guest physical */
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct vq_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[];
};

struct vq_used_elem {
	uint32_t id;		/* head of the chain */
	uint32_t len;		/* bytes written into its writable part */
};

struct vq_used {
	uint16_t flags;
	uint16_t idx;
	struct vq_used_elem ring[];
};

/* virtio-fs: queue 0 is the high-priority queue, request queues follow */
#define VU_FS_HIPRIO_QUEUE	0
#define VU_FS_MAX_QUEUES	65	/* hiprio + 64 request queues */

#endif /* MQ_VHOST_USER_H */
