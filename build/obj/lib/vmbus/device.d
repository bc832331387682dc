build/obj/lib/vmbus/device.o: lib/vmbus/device.c lib/vmbus/private.h \
 include/vmbus/backend.h include/vmbus/channel.h include/vmbus/guid.h \
 include/vmbus/ring.h include/vmbus/packet.h
lib/vmbus/private.h:
include/vmbus/backend.h:
include/vmbus/channel.h:
include/vmbus/guid.h:
include/vmbus/ring.h:
include/vmbus/packet.h:
