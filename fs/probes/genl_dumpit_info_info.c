/* 6.2: a dump's parsed attributes sit in genl_dumpit_info's struct genl_info. */
#include <net/genetlink.h>
struct nlattr **probe_dump_attrs(struct netlink_callback *cb);
struct nlattr **probe_dump_attrs(struct netlink_callback *cb)
{
	return genl_dumpit_info(cb)->info.attrs;
}
