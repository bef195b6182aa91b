/* 6.8: receive_fd() takes the user pointer receive_fd_user() took (or NULL). */
#include <linux/fcntl.h>
#include <linux/file.h>
int probe(struct file *file);
int probe(struct file *file)
{
	return receive_fd(file, NULL, O_CLOEXEC);
}
