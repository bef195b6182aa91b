/* 6.3: write_cache_pages() callbacks take a folio. */
#include <linux/writeback.h>
static int probe_writepage(struct folio *folio, struct writeback_control *wbc, void *data)
{
	return 0;
}
writepage_t probe = probe_writepage;
