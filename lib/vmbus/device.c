/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "private.h"

/* Spin budget for every channel of a device, unless VMBUS_SPIN_NS says otherwise. */
static uint32_t spin_ns_from_environment(void)
{
	const char *text = secure_getenv("VMBUS_SPIN_NS");
	unsigned long long value;
	char *end;

	if (text == NULL || *text == '\0' || *text == '-')
		return VMBUS_CHAN_DEFAULT_SPIN_NS;
	errno = 0;
	value = strtoull(text, &end, 10);
	if (errno != 0 || *end != '\0')
		return VMBUS_CHAN_DEFAULT_SPIN_NS;
	return value > UINT32_MAX ? UINT32_MAX : (uint32_t)value;
}

/* The condition variable waits on CLOCK_MONOTONIC, like every deadline in lib/vmbus. */
static int init_wait(struct vmbus_device *device)
{
	pthread_condattr_t attributes;
	int rc;

	if (pthread_condattr_init(&attributes) != 0)
		return -ENOMEM;
	rc = pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC);
	if (rc == 0)
		rc = pthread_cond_init(&device->wait_cond, &attributes);
	pthread_condattr_destroy(&attributes);
	if (rc != 0)
		return -rc;
	rc = pthread_mutex_init(&device->wait_lock, NULL);
	if (rc != 0) {
		pthread_cond_destroy(&device->wait_cond);
		return -rc;
	}
	return 0;
}

static bool region_valid(const struct vmbus_channel_region *region, size_t page_size)
{
	return region->ring_base != NULL && region->ring_size > page_size;
}

int vmbus_device_create(const struct vmbus_device_params *params, struct vmbus_device **device_out)
{
	struct vmbus_device *device;
	unsigned int i;
	int rc;

	if (params == NULL || device_out == NULL || params->ops == NULL ||
	    params->ops->signal == NULL || params->ops->wait == NULL ||
	    params->channel_count == 0 || params->channel_count > VMBUS_MAX_CHANNELS ||
	    params->channels == NULL)
		return -EINVAL;
	for (i = 0; i < params->channel_count; i++)
		if (!region_valid(&params->channels[i], params->page_size))
			return -EINVAL;

	device = calloc(1, sizeof(*device));
	if (device == NULL)
		return -ENOMEM;
	rc = init_wait(device);
	if (rc != 0)
		goto err_free_device;
	rc = -pthread_mutex_init(&device->channels_lock, NULL);
	if (rc != 0)
		goto err_destroy_wait;

	memcpy(device->regions, params->channels, params->channel_count * sizeof(*device->regions));
	device->params = *params;
	device->params.channels = device->regions;
	device->channel_count = params->channel_count;
	device->default_spin_ns = spin_ns_from_environment();
	*device_out = device;
	return 0;

err_destroy_wait:
	pthread_cond_destroy(&device->wait_cond);
	pthread_mutex_destroy(&device->wait_lock);
err_free_device:
	free(device);
	return rc;
}

void vmbus_device_add_quirks(struct vmbus_device *device, unsigned int quirks)
{
	pthread_mutex_lock(&device->channels_lock);
	device->params.quirks |= quirks;
	pthread_mutex_unlock(&device->channels_lock);
}

void vmbus_device_set_gone(struct vmbus_device *device, int error)
{
	pthread_mutex_lock(&device->wait_lock);
	if (device->backend_error == 0)
		__atomic_store_n(&device->backend_error, error, __ATOMIC_RELAXED);
	__atomic_store_n(&device->wake_generation, device->wake_generation + 1, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&device->wait_cond);
	pthread_mutex_unlock(&device->wait_lock);
}

int vmbus_device_add_channel(struct vmbus_device *device, const struct vmbus_channel_region *region)
{
	int index;

	if (device == NULL || region == NULL || !region_valid(region, device->params.page_size))
		return -EINVAL;
	pthread_mutex_lock(&device->channels_lock);
	if (device->channel_count == VMBUS_MAX_CHANNELS) {
		pthread_mutex_unlock(&device->channels_lock);
		return -ENOSPC;
	}
	index = (int)device->channel_count;
	device->regions[index] = *region;
	/* The region is in place before anyone can see the new count. */
	__atomic_store_n(&device->channel_count, device->channel_count + 1, __ATOMIC_RELEASE);
	device->params.channel_count = device->channel_count;
	pthread_mutex_unlock(&device->channels_lock);
	return index;
}

void vmbus_device_close(struct vmbus_device *device)
{
	if (device == NULL)
		return;
	if (device->params.ops->release != NULL)
		device->params.ops->release(device);
	pthread_mutex_destroy(&device->channels_lock);
	pthread_cond_destroy(&device->wait_cond);
	pthread_mutex_destroy(&device->wait_lock);
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
	return __atomic_load_n(&device->channel_count, __ATOMIC_ACQUIRE);
}

const char *vmbus_device_backend_name(const struct vmbus_device *device)
{
	return device->params.ops->name;
}

uint64_t vmbus_device_wake_generation(struct vmbus_device *device)
{
	return __atomic_load_n(&device->wake_generation, __ATOMIC_ACQUIRE);
}

static int milliseconds_until(uint64_t deadline_ns, uint64_t now)
{
	uint64_t ms;

	if (deadline_ns == UINT64_MAX)
		return -1;
	ms = (deadline_ns - now + 999999u) / 1000000u;
	return ms > INT32_MAX ? INT32_MAX : (int)ms;
}

/*
 * With wait_lock held and nobody inside the backend: wait there as the device's one sleeper,
 * then record what came of it and wake every waiter. Returns the backend's result.
 */
static int sleep_in_backend(struct vmbus_device *device, int timeout_ms)
{
	int backend_rc;

	device->sleeper = true;
	pthread_mutex_unlock(&device->wait_lock);
	backend_rc = device->params.ops->wait(device, timeout_ms);
	pthread_mutex_lock(&device->wait_lock);
	device->sleeper = false;
	/* The peer gone (or the backend broken) stays so: no waiter sleeps on it again. */
	if (backend_rc < 0 && backend_rc != -ETIMEDOUT && backend_rc != -EINTR)
		__atomic_store_n(&device->backend_error, backend_rc, __ATOMIC_RELAXED);
	/*
	 * An interrupt (or the end of the device) moves the generation: every waiter re-checks
	 * its ring. A timeout or EINTR does not, but the followers still wake: the one whose
	 * deadline passed leaves, another takes over the sleeping.
	 */
	if (backend_rc == 0 || device->backend_error != 0)
		__atomic_store_n(&device->wake_generation, device->wake_generation + 1, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&device->wait_cond);
	return backend_rc;
}

int vmbus_device_wait(struct vmbus_device *device, uint64_t seen, uint64_t deadline_ns)
{
	struct timespec until = {
		.tv_sec = (time_t)(deadline_ns / 1000000000u),
		.tv_nsec = (long)(deadline_ns % 1000000000u),
	};
	int rc = 0, backend_rc;
	bool expired;
	uint64_t now;

	pthread_mutex_lock(&device->wait_lock);
	for (;;) {
		if (device->backend_error != 0) {
			rc = device->backend_error;
			break;
		}
		if (__atomic_load_n(&device->wake_generation, __ATOMIC_RELAXED) != seen)
			break;
		now = winapi_clock_now_ns();
		expired = now >= deadline_ns;
		if (device->sleeper) {
			if (expired) {
				rc = -ETIMEDOUT;
				break;
			}
			/* Someone else sleeps in the backend; its wake-up will wake us. */
			if (deadline_ns == UINT64_MAX)
				pthread_cond_wait(&device->wait_cond, &device->wait_lock);
			else
				pthread_cond_timedwait(&device->wait_cond, &device->wait_lock, &until);
			continue;
		}
		/*
		 * Past the deadline, one look that does not block: a waiter that spent its whole time
		 * spinning (VMBUS_SPIN_NS at its maximum) still sees the peer leave.
		 */
		backend_rc = sleep_in_backend(device, expired ? 0 : milliseconds_until(deadline_ns, now));
		if (expired && backend_rc != 0 && device->backend_error == 0) {
			rc = -ETIMEDOUT;
			break;
		}
	}
	pthread_mutex_unlock(&device->wait_lock);
	return rc;
}

int vmbus_device_event_fd(const struct vmbus_device *device)
{
	if (device == NULL)
		return -EINVAL;
	if (device->params.ops->event_fd == NULL)
		return -EOPNOTSUPP;
	return device->params.ops->event_fd(device);
}

int vmbus_device_take_events(struct vmbus_device *device)
{
	int rc;

	if (device == NULL)
		return -EINVAL;
	pthread_mutex_lock(&device->wait_lock);
	/*
	 * A thread asleep in the backend consumes the same events and wakes everyone when it
	 * does; reading them here as well would only race it.
	 */
	if (device->backend_error == 0 && !device->sleeper)
		sleep_in_backend(device, 0);
	rc = device->backend_error;
	pthread_mutex_unlock(&device->wait_lock);
	return rc;
}
