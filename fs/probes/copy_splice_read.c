/* 6.5: copy_splice_read() replaces generic_file_splice_read(). */
#include <linux/fs.h>
const struct file_operations probe_fops = { .splice_read = copy_splice_read };
