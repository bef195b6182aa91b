/* Removed in 6.12 with PG_error. */
#include <linux/page-flags.h>
void probe(struct page *page);
void probe(struct page *page)
{
	SetPageError(page);
}
