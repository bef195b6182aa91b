// SPDX-License-Identifier: GPL-2.0
/*
 * mqfuse: generic-netlink family "mqfuse_vN" (control plane).
 */
#include "mqfuse_i.h"
#include <net/genetlink.h>

static struct genl_family mqfuse_genl_family;

static const struct nla_policy mqfuse_genl_policy[MQFUSE_ATTR_MAX + 1] = {
	[MQFUSE_ATTR_GEN]	= { .type = NLA_U32 },
	[MQFUSE_ATTR_VERSION]	= { .type = NLA_NUL_STRING },
};

static int mqfuse_nl_get_version(struct sk_buff *skb, struct genl_info *info)
{
	struct sk_buff *msg;
	void *hdr;

	msg = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put_reply(msg, info, &mqfuse_genl_family, 0,
				MQFUSE_CMD_GET_VERSION);
	if (!hdr)
		goto nospace;
	if (nla_put_u32(msg, MQFUSE_ATTR_GEN, MQFUSE_GEN) ||
	    nla_put_string(msg, MQFUSE_ATTR_VERSION, MQFUSE_VERSION))
		goto nospace;
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);

nospace:
	nlmsg_free(msg);
	return -EMSGSIZE;
}

static const struct genl_small_ops mqfuse_genl_ops[] = {
	{
		.cmd	= MQFUSE_CMD_GET_VERSION,
		.doit	= mqfuse_nl_get_version,
	},
};

static struct genl_family mqfuse_genl_family __ro_after_init = {
	.name		= MQFUSE_GENL_NAME,
	.version	= MQFUSE_GENL_VERSION,
	.maxattr	= MQFUSE_ATTR_MAX,
	.policy		= mqfuse_genl_policy,
	.module		= THIS_MODULE,
	.small_ops	= mqfuse_genl_ops,
	.n_small_ops	= ARRAY_SIZE(mqfuse_genl_ops),
	.resv_start_op	= __MQFUSE_CMD_MAX,
};

int mqfuse_netlink_init(void)
{
	return genl_register_family(&mqfuse_genl_family);
}

void mqfuse_netlink_exit(void)
{
	genl_unregister_family(&mqfuse_genl_family);
}
