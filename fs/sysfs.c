// SPDX-License-Identifier: GPL-2.0
/*
 * mqfuse: /sys/fs/mqfuse_vN — module-wide attributes.
 */
#include "mqfuse_i.h"
#include <linux/kobject.h>
#include <linux/sysfs.h>

static struct kobject *mqfuse_kobj;

static ssize_t generation_show(struct kobject *kobj, struct kobj_attribute *attr,
			       char *buf)
{
	return sysfs_emit(buf, "%d\n", MQFUSE_GEN);
}
static struct kobj_attribute generation_attr = __ATTR_RO(generation);

static ssize_t version_show(struct kobject *kobj, struct kobj_attribute *attr,
			    char *buf)
{
	return sysfs_emit(buf, "%s\n", MQFUSE_VERSION);
}
static struct kobj_attribute version_attr = __ATTR_RO(version);

static struct attribute *mqfuse_attrs[] = {
	&generation_attr.attr,
	&version_attr.attr,
	NULL,
};

static const struct attribute_group mqfuse_attr_group = {
	.attrs = mqfuse_attrs,
};

int mqfuse_sysfs_init(void)
{
	int err;

	mqfuse_kobj = kobject_create_and_add(MQFUSE_NAME, fs_kobj);
	if (!mqfuse_kobj)
		return -ENOMEM;
	err = sysfs_create_group(mqfuse_kobj, &mqfuse_attr_group);
	if (err) {
		kobject_put(mqfuse_kobj);
		mqfuse_kobj = NULL;
	}
	return err;
}

void mqfuse_sysfs_exit(void)
{
	kobject_put(mqfuse_kobj);
	mqfuse_kobj = NULL;
}
