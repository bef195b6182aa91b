/* Positive control: must compile on every kernel, or the probe flags are wrong. */
#include <linux/fs.h>
