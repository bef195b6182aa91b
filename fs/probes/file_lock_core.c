/* 6.9: the common lock fields move to struct file_lock_core (fl->c). */
#include <linux/fs.h>
#include <linux/filelock.h>
unsigned int probe(struct file_lock *fl);
unsigned int probe(struct file_lock *fl)
{
	return fl->c.flc_flags;
}
