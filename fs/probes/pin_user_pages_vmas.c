/* 6.5 dropped the vmas argument of pin_user_pages(). */
#include <linux/mm.h>
long probe(unsigned long start);
long probe(unsigned long start)
{
	return pin_user_pages(start, 1, FOLL_WRITE, NULL, NULL);
}
