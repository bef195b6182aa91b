/* 6.3: iov_iter_extract_pages() pins user pages (FOLL_PIN) for direct I/O. */
#include <linux/uio.h>
ssize_t probe(struct iov_iter *i, struct page **pages, size_t *off);
ssize_t probe(struct iov_iter *i, struct page **pages, size_t *off)
{
	return iov_iter_extract_pages(i, &pages, PAGE_SIZE, 1, 0, off) +
	       iov_iter_extract_will_pin(i);
}
