/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "private.h"

/* Spin budget for every channel of a device, unless VMBUS_SPIN_NS says otherwise. */
static uint32_t spin_ns_from_environment(void)
{
	const char *text = getenv("VMBUS_SPIN_NS");
	unsigned long long value;
	char *end;

	if (text == NULL || *text == '\0')
		return VMBUS_CHAN_DEFAULT_SPIN_NS;
	errno = 0;
	value = strtoull(text, &end, 10);
	if (errno != 0 || *end != '\0')
		return VMBUS_CHAN_DEFAULT_SPIN_NS;
	return value > UINT32_MAX ? UINT32_MAX : (uint32_t)value;
}

int vmbus_device_create(const struct vmbus_device_params *params, struct vmbus_device **device_out)
{
	struct vmbus_device *device;
	unsigned int i;

	if (params == NULL || device_out == NULL || params->ops == NULL ||
	    params->ops->signal == NULL || params->ops->wait == NULL ||
	    params->channel_count == 0 || params->channels == NULL)
		return -EINVAL;
	for (i = 0; i < params->channel_count; i++)
		if (params->channels[i].ring_base == NULL ||
		    params->channels[i].ring_size <= params->page_size)
			return -EINVAL;

	device = calloc(1, sizeof(*device));
	if (device == NULL)
		return -ENOMEM;
	device->regions = calloc(params->channel_count, sizeof(*device->regions));
	if (device->regions == NULL)
		goto err_free_device;
	device->channels = calloc(params->channel_count, sizeof(*device->channels));
	if (device->channels == NULL)
		goto err_free_regions;

	memcpy(device->regions, params->channels, params->channel_count * sizeof(*device->regions));
	device->params = *params;
	device->params.channels = device->regions;
	device->default_spin_ns = spin_ns_from_environment();
	*device_out = device;
	return 0;

err_free_regions:
	free(device->regions);
err_free_device:
	free(device);
	return -ENOMEM;
}

void vmbus_device_close(struct vmbus_device *device)
{
	if (device == NULL)
		return;
	if (device->params.ops->release != NULL)
		device->params.ops->release(device);
	free(device->channels);
	free(device->regions);
	free(device);
}

void *vmbus_device_backend_data(const struct vmbus_device *device)
{
	return device->params.backend_data;
}

const struct vmbus_guid *vmbus_device_class_id(const struct vmbus_device *device)
{
	return &device->params.class_id;
}

const struct vmbus_guid *vmbus_device_instance_id(const struct vmbus_device *device)
{
	return &device->params.instance_id;
}

int vmbus_device_numa_node(const struct vmbus_device *device)
{
	return device->params.numa_node;
}

unsigned int vmbus_device_channel_count(const struct vmbus_device *device)
{
	return device->params.channel_count;
}

const char *vmbus_device_backend_name(const struct vmbus_device *device)
{
	return device->params.ops->name;
}
