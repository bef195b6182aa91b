/* 6.11+: virtio_find_vqs() takes struct virtqueue_info (name, callback, ctx). */
#include <linux/virtio_config.h>

static struct virtqueue_info probe_info = { .name = "probe" };
void *probe_virtqueue_info(void);
void *probe_virtqueue_info(void) { return &probe_info; }
