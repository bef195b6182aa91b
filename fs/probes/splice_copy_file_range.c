/* 6.8: splice_copy_file_range() replaces generic_copy_file_range(). */
#include <linux/fs.h>
#include <linux/splice.h>
long probe(struct file *in, struct file *out);
long probe(struct file *in, struct file *out)
{
	return splice_copy_file_range(in, 0, out, 0, 1);
}
