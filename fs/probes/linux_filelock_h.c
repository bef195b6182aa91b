/* 6.3: the file locking API moves to <linux/filelock.h>. */
#include <linux/filelock.h>
