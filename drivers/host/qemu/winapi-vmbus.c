/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * QEMU VMBus device "winapi": a host for winapi-remoting's wire protocol on a real guest
 * kernel. It takes requests off its channel with QEMU's VMBus API and answers each with the
 * project's own request handling (drivers/host, BSD-3-Clause, compiled in through
 * host_answer.h), so that the guest's uio_hv_generic, liblowlat and winapi-pmd meet a host
 * other than the project's emulator.
 *
 * This file is GPL-2.0-or-later, unlike the rest of the project, because it is built into
 * QEMU (see LICENSE in this directory); nothing in the project's libraries or programs links
 * it. scripts/build-qemu-winapi.sh builds it into QEMU.
 *
 * Everything the guest puts on the ring is untrusted: the answer step validates the message
 * and its ranges, and guest pages are reached only through QEMU's own address space, so a
 * page number the guest does not have is refused (the request gets WINAPI_STATUS_BAD_BUFFER).
 */
#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/error-report.h"
#include "qemu/main-loop.h"
#include "hw/qdev-properties.h"
#include "hw/hyperv/vmbus.h"
#include "system/dma.h"
#include "exec/memory.h"

#include "host_answer.h"

#define TYPE_WINAPI_VMBUS "winapi"
OBJECT_DECLARE_SIMPLE_TYPE(WinapiVMBus, WINAPI_VMBUS)

/* winapi-remoting's device class (include/winapi/protocol.h, WINAPI_DEVICE_CLASS). */
#define WINAPI_VMBUS_CLASS "6ac83d8f-6e16-4e5c-ab3d-fd8c5a4b7e21"
#define WINAPI_PAGE_SIZE 4096u

/* One guest page mapped while a request is answered. */
typedef struct WinapiMapping {
    void *host;
    hwaddr length;
} WinapiMapping;

struct WinapiVMBus {
    VMBusDevice parent;

    VMBusChannel *chan;
    struct winapi_host_answerer *answerer;
    GArray *mappings;
    uint8_t answer[WINAPI_HOST_ANSWER_MAX_SIZE];
    /* answer holds an answer not sent yet (the guest's RX ring was full) */
    bool answer_pending;
    uint32_t answer_size;
    uint64_t answer_trans_id;
    uint64_t requests;
    uint64_t bad_requests;
};

static int winapi_gpadl_page(void *context, uint32_t gpadl_id, uint64_t index, uint64_t *pfn)
{
    WinapiVMBus *winapi = context;
    VMBusGpadl *gpadl = vmbus_get_gpadl(winapi->chan, gpadl_id);
    int rc = -EFAULT;

    if (gpadl == NULL) {
        return -EFAULT;
    }
    if (vmbus_gpadl_gfn(gpadl, index, pfn)) {
        rc = 0;
    }
    vmbus_put_gpadl(gpadl);
    return rc;
}

/* Whether the whole guest page at @address is RAM. */
static bool winapi_page_is_ram(AddressSpace *as, hwaddr address)
{
    hwaddr offset, length = WINAPI_PAGE_SIZE;
    MemoryRegion *region;

    RCU_READ_LOCK_GUARD();
    region = address_space_translate(as, address, &offset, &length, true, MEMTXATTRS_UNSPECIFIED);
    return memory_region_is_ram(region) && length == WINAPI_PAGE_SIZE;
}

/*
 * Guest RAM only: address_space_map() would hand back a bounce buffer for anything else, and
 * a guest naming MMIO in a buffer gets BAD_BUFFER rather than a copy.
 */
static void *winapi_guest_page(void *context, uint64_t pfn)
{
    WinapiVMBus *winapi = context;
    AddressSpace *as = VMBUS_DEVICE(winapi)->dma_as;
    WinapiMapping mapping = { .length = WINAPI_PAGE_SIZE };
    hwaddr address;

    if (pfn > (UINT64_MAX >> 12)) {
        return NULL;
    }
    address = pfn * WINAPI_PAGE_SIZE;
    if (!winapi_page_is_ram(as, address)) {
        return NULL;
    }
    mapping.host = address_space_map(as, address, &mapping.length, true, MEMTXATTRS_UNSPECIFIED);
    if (mapping.host == NULL) {
        return NULL;
    }
    if (mapping.length != WINAPI_PAGE_SIZE) {
        address_space_unmap(as, mapping.host, mapping.length, true, 0);
        return NULL;
    }
    g_array_append_val(winapi->mappings, mapping);
    return mapping.host;
}

static void winapi_unmap_all(WinapiVMBus *winapi)
{
    AddressSpace *as = VMBUS_DEVICE(winapi)->dma_as;
    guint i;

    for (i = 0; i < winapi->mappings->len; i++) {
        WinapiMapping *mapping = &g_array_index(winapi->mappings, WinapiMapping, i);

        address_space_unmap(as, mapping->host, mapping->length, true, mapping->length);
    }
    g_array_set_size(winapi->mappings, 0);
}

/* Answer @req into winapi->answer: the answer's size, or negative (a bug on this side). */
static int winapi_answer(WinapiVMBus *winapi, VMBusChanReq *req)
{
    const struct winapi_host_packet packet = {
        .type = req->pkt_type,
        .trans_id = req->transaction_id,
        .gpa_header = req->gpa_header,
        .gpa_header_size = req->gpa_header_len,
        .message = req->msg,
        .message_size = req->msglen,
    };
    bool ok;
    int size;

    size = winapi_host_answerer_run(winapi->answerer, &packet, winapi->answer, sizeof(winapi->answer), &ok);
    winapi_unmap_all(winapi);
    winapi->requests++;
    if (!ok) {
        winapi->bad_requests++;
    }
    return size;
}

/*
 * Send the answer made last, if it is not sent yet: false while the guest's RX ring has no
 * room for it. QEMU's reservations add up until a send uses them, so exactly the answer's
 * size is reserved, once it is known; a failed reservation leaves pending_send_sz set, and
 * the guest signals when it has read enough.
 */
static bool winapi_send_pending(WinapiVMBus *winapi, VMBusChannel *chan)
{
    if (!winapi->answer_pending) {
        return true;
    }
    if (vmbus_channel_reserve(chan, 0, winapi->answer_size) != 0) {
        return false;
    }
    if (vmbus_channel_send(chan, VMBUS_PACKET_COMP, NULL, 0, winapi->answer, winapi->answer_size,
                           false, winapi->answer_trans_id) < 0) {
        error_report("winapi: the guest's RX ring could not be written");
    }
    winapi->answer_pending = false;
    return true;
}

/*
 * Answer what the guest has queued since vmbus_channel_recv_start(): the number of requests
 * taken, or -1 when an answer waits for room in the guest's RX ring.
 */
static int winapi_serve(WinapiVMBus *winapi, VMBusChannel *chan)
{
    VMBusChanReq *req;
    int taken = 0, size;

    while (winapi_send_pending(winapi, chan)) {
        req = vmbus_channel_recv_peek(chan, sizeof(*req));
        if (req == NULL) {
            return taken;
        }
        /* Without a completion requested there is nobody to tell that it was wrong. */
        if ((req->pkt_type != VMBUS_PACKET_DATA_INBAND &&
             req->pkt_type != VMBUS_PACKET_DATA_USING_GPA_DIRECT) || !req->need_comp) {
            winapi->bad_requests++;
        } else {
            size = winapi_answer(winapi, req);
            if (size < 0) {
                error_report("winapi: answering request %" PRIu64 " failed (%d): a host bug",
                             req->transaction_id, size);
            } else {
                winapi->answer_pending = true;
                winapi->answer_size = (uint32_t)size;
                winapi->answer_trans_id = req->transaction_id;
            }
        }
        vmbus_channel_recv_pop(chan);
        vmbus_free_req(req);
        taken++;
    }
    return -1;
}

/*
 * Runs in the main loop whenever the guest signals. The guest signals only when its TX ring
 * goes from empty to non-empty, as it sees our read_index: a request written while we were
 * answering the last ones brings no signal. So after publishing read_index, look again
 * (vmbus_channel_recv_start() reads write_index anew) until a pass finds nothing. A guest
 * that keeps the ring busy must not keep the main loop (the monitor, device_del, the VMBus
 * state machine run there): after WINAPI_PASSES_PER_RUN passes the rest waits for the next
 * turn of the main loop, through the channel's own notifier.
 */
#define WINAPI_PASSES_PER_RUN 8

static void winapi_chan_notify(VMBusChannel *chan)
{
    WinapiVMBus *winapi = WINAPI_VMBUS(vmbus_channel_device(chan));
    unsigned int passes = 0;
    int taken;

    do {
        if (passes++ == WINAPI_PASSES_PER_RUN) {
            vmbus_channel_notify_host(chan);
            return;
        }
        if (vmbus_channel_recv_start(chan) != 0) {
            return;
        }
        taken = winapi_serve(winapi, chan);
        vmbus_channel_recv_done(chan);
    } while (taken > 0);
}

static int winapi_open_channel(VMBusChannel *chan)
{
    WinapiVMBus *winapi = WINAPI_VMBUS(vmbus_channel_device(chan));

    winapi->chan = chan;
    winapi->answer_pending = false;
    return 0;
}

static void winapi_vmdev_realize(VMBusDevice *vdev, Error **errp)
{
    WinapiVMBus *winapi = WINAPI_VMBUS(vdev);
    const struct winapi_host_pages pages = {
        .gpadl_page = winapi_gpadl_page,
        .guest_page = winapi_guest_page,
        .context = winapi,
    };

    winapi->chan = vmbus_device_channel(vdev, 0);
    if (winapi_host_answerer_create(&pages, &winapi->answerer) != 0) {
        error_setg(errp, "winapi: out of memory");
        return;
    }
    winapi->mappings = g_array_new(false, false, sizeof(WinapiMapping));
}

static void winapi_vmdev_unrealize(VMBusDevice *vdev)
{
    WinapiVMBus *winapi = WINAPI_VMBUS(vdev);

    winapi_host_answerer_destroy(winapi->answerer);
    winapi->answerer = NULL;
    if (winapi->mappings != NULL) {
        g_array_free(winapi->mappings, true);
        winapi->mappings = NULL;
    }
}

static void winapi_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    VMBusDeviceClass *vdc = VMBUS_DEVICE_CLASS(klass);

    qemu_uuid_parse(WINAPI_VMBUS_CLASS, &vdc->classid);
    set_bit(DEVICE_CATEGORY_MISC, dc->categories);
    dc->desc = "winapi-remoting host (VMBus class " WINAPI_VMBUS_CLASS ")";
    vdc->vmdev_realize = winapi_vmdev_realize;
    vdc->vmdev_unrealize = winapi_vmdev_unrealize;
    vdc->open_channel = winapi_open_channel;
    vdc->chan_notify_cb = winapi_chan_notify;
}

static const TypeInfo winapi_type_info = {
    .name = TYPE_WINAPI_VMBUS,
    .parent = TYPE_VMBUS_DEVICE,
    .instance_size = sizeof(WinapiVMBus),
    .class_init = winapi_class_init,
};

static void winapi_register_types(void)
{
    type_register_static(&winapi_type_info);
}

type_init(winapi_register_types)
